"""Parse a model's reply into a turn: tolerant of wrappers, strict about content.

Accepted wrappers: code fences, text before or after the object. Never repaired: an option
must match a listed option (ignoring case and spacing only); nothing is invented, rounded
or guessed. A failure returns the precise error, which the game loop sends back to the model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..core.protocol import Action, Kind
from ..core.scenario import Issue


@dataclass(frozen=True)
class Parsed:
    message: str
    action: Action | None
    error: str | None


def _norm(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def extract_json_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The first complete top-level JSON object in ``text`` (fences and prose around it allowed)."""
    if text is None or not text.strip():
        return None, "the reply was empty; reply with one JSON object"
    decoder = json.JSONDecoder()
    start = text.find("{")
    first_error = None
    while start != -1:
        try:
            obj, _ = decoder.raw_decode(text, start)
            if isinstance(obj, dict):
                return obj, None
        except json.JSONDecodeError as exc:
            first_error = first_error or f"invalid JSON ({exc.msg} at character {exc.pos})"
        start = text.find("{", start + 1)
    return None, first_error or "no JSON object found in the reply"


def parse_reply(text: str, issues: Sequence[Issue]) -> Parsed:
    obj, error = extract_json_object(text)
    if obj is None:
        return Parsed("", None, error)
    message = obj.get("message", "")
    if not isinstance(message, str):
        return Parsed("", None, '"message" must be a string')
    raw_action = obj.get("action")
    if not isinstance(raw_action, str):
        return Parsed(message, None, '"action" is missing; use "propose", "accept" or "walk_away"')
    kinds = {k.value: k for k in Kind}
    kind = kinds.get(_norm(raw_action).replace(" ", "_").replace("-", "_"))
    if kind is None:
        return Parsed(message, None, f'unknown action {raw_action!r}; use "propose", "accept" or "walk_away"')
    if kind is Kind.ACCEPT:
        return Parsed(message, Action.accept(), None)
    if kind is Kind.WALK_AWAY:
        return Parsed(message, Action.walk_away(), None)
    offer = obj.get("offer")
    if not isinstance(offer, dict):
        return Parsed(message, None, '"propose" needs "offer": an object with one option for every issue')
    by_name = {_norm(k): v for k, v in offer.items()}
    chosen = []
    problems = []
    for issue in issues:
        if _norm(issue.name) not in by_name:
            problems.append(f"issue {issue.name!r} is missing")
            continue
        value = by_name[_norm(issue.name)]
        matches = [j for j, o in enumerate(issue.options) if _norm(o) == _norm(value)]
        if not matches:
            problems.append(f"{issue.name}: {value!r} is not an option (options: {', '.join(issue.options)})")
            continue
        chosen.append(matches[0])
    known = {_norm(i.name) for i in issues}
    extra = [k for k in offer if _norm(k) not in known]
    if extra:
        problems.append(f"unknown issue(s) {extra}; the issues are {', '.join(i.name for i in issues)}")
    if problems:
        return Parsed(message, None, "invalid offer: " + "; ".join(problems))
    return Parsed(message, Action.propose(chosen), None)
