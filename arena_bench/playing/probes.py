"""Belief probes for language-model agents (``--probe``): a side-channel question the other side
never sees, its JSON schema, and a strict parser. Versioned and hashed like the game prompts;
a reply that does not parse is counted as invalid, never guessed. Pure string work, no I/O.

probe-v2 (issue 31) asks for the ranking as one string, "A > B > C", and its schema lists every
ranking of the issues (up to 720, six issues), so a constrained decoder can only write a valid one;
probe-v1's array of names could repeat an issue, and one answer in five from SmolLM2 did. Above six
issues the schema is probe-v1's array with ``uniqueItems``, and a repeated issue is still counted
invalid. probe-v1 stays as released (``PROBE_TEMPLATES``, ``probe_schema(..., "probe-v1")``)."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
from typing import Any

from ..agents.base import Observation
from .parsing import extract_json_object
from .prompts import describe_turn

PROBE_VERSION = "probe-v2"

PROBE_TEMPLATES = {
    "probe-v1": """{history}

This question is private: the {other} will never see it, and it does not count as a turn.
What do you believe about the {other}'s interests so far? Reply with one JSON object only:
{{"ranking": [the {n} issues, from most to least important to the {other}], "preferred": {{for each issue, the option the {other} likes best}}, "batna_share": <the {other}'s no-deal value as a share of its best possible deal, from 0 to 1>}}
Issues: {issues}.""",
    "probe-v2": """{history}

This question is private: the {other} will never see it, and it does not count as a turn.
What do you believe about the {other}'s interests so far? Reply with one JSON object only:
{{"ranking": "<the {n} issues, each once, from most to least important to the {other}, joined by ' > '>", "preferred": {{for each issue, the option the {other} likes best}}, "batna_share": <the {other}'s no-deal value as a share of its best possible deal, from 0 to 1>}}
Issues: {issues}.""",
}
MAX_ENUMERATED = 720  # six issues: every ranking is listed in the schema; more would bloat it


def probe_prompt(obs: Observation, version: str = PROBE_VERSION) -> str:
    other = obs.public.role_names[1 - obs.role_index]
    history = (
        "History:\n" + "\n".join(describe_turn(t, obs) for t in obs.history)
        if obs.history
        else "No turns yet."
    )
    return PROBE_TEMPLATES[version].format(
        history=history,
        other=other,
        n=len(obs.public.issues),
        issues=", ".join(i.name for i in obs.public.issues),
    )


def probe_schema(issues, version: str = PROBE_VERSION) -> dict[str, Any]:
    names = [i.name for i in issues]
    listed = {"type": "array", "items": {"type": "string", "enum": names}, "minItems": len(names),
              "maxItems": len(names)}  # fmt: skip
    if version == "probe-v1":
        ranking = listed
    elif math.factorial(len(names)) <= MAX_ENUMERATED:
        ranking = {"type": "string", "enum": [" > ".join(p) for p in itertools.permutations(names)]}
    else:
        ranking = {**listed, "uniqueItems": True}
    return {
        "type": "object",
        "properties": {
            "ranking": ranking,
            "preferred": {
                "type": "object",
                "properties": {i.name: {"type": "string", "enum": list(i.options)} for i in issues},
                "required": names,
                "additionalProperties": False,
            },
            "batna_share": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["ranking", "preferred", "batna_share"],
        "additionalProperties": False,
    }


def parse_probe(text: str, issues) -> tuple[dict[str, Any] | None, str | None]:
    """(answer as issue and option indices, None) or (None, why it is invalid)."""
    obj, error = extract_json_object(text)
    if obj is None:
        return None, error or "no JSON object"
    names = [i.name for i in issues]
    ranking = obj.get("ranking")
    if isinstance(ranking, str):  # probe-v2: "A > B > C"
        ranking = [part.strip() for part in ranking.split(">")]
    if not isinstance(ranking, list) or sorted(map(str, ranking)) != sorted(names):
        return None, f"'ranking' must list each issue once: {', '.join(names)}"
    preferred = obj.get("preferred")
    if not isinstance(preferred, dict):
        return None, "'preferred' must map each issue to an option"
    chosen = []
    for issue in issues:
        option = preferred.get(issue.name)
        if option not in issue.options:
            return None, f"'preferred' {issue.name!r}: {option!r} is not one of its options"
        chosen.append(issue.options.index(option))
    share = obj.get("batna_share")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        return None, "'batna_share' must be a number from 0 to 1"
    return {
        "ranking": [names.index(r) for r in ranking],
        "preferred": chosen,
        "batna_share": float(share),
    }, None


def probe_hash() -> str:
    parts = [PROBE_VERSION, PROBE_TEMPLATES[PROBE_VERSION]] + [
        inspect.getsource(f) for f in (probe_prompt, probe_schema, parse_probe)
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
