"""Prompt templates for language-model agents (versioned; their hash goes into every result)
and the JSON schema of a reply. Pure string building, no I/O."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..agents.base import Observation
from ..core.protocol import Kind, PublicTurn

PROMPT_VERSION = "prompt-v1"

SYSTEM_TEMPLATE = """You negotiate for the {role} against the {other}. {title}. {context}

Your private brief (the {other} does not know it): {narrative}

Your points for each option (a deal is worth the sum over issues; maximum {best}; no deal gives you {batna}):
{points}

Rules: you take turns, at most {max_turns} turns in all, then no deal. Each turn write a short message and ONE action:
"propose" a complete offer (one listed option for every issue), "accept" the {other}'s latest offer, or "walk_away" (no deal).
Never reveal your points. Reply with one JSON object only:
{{"message": "<short text>", "action": "propose|accept|walk_away", "offer": {{{offer_keys}}}}}
"offer" is always given and counts only with "propose"; copy option strings exactly."""


def _points(obs: Observation) -> str:
    lines = []
    for issue, row in zip(obs.public.issues, obs.brief.points()):
        opts = " | ".join(f"{o} = {p:g}" for o, p in zip(issue.options, (round(x, 1) for x in row)))
        lines.append(f"- {issue.name}: {opts}")
    return "\n".join(lines)


def system_prompt(obs: Observation) -> str:
    me, other = obs.public.role_names[obs.role_index], obs.public.role_names[1 - obs.role_index]
    best = sum(max(r) for r in obs.brief.points())
    return SYSTEM_TEMPLATE.format(
        title=obs.public.title,
        context=obs.public.context,
        narrative=obs.brief.narrative,
        points=_points(obs),
        batna=f"{100 * obs.brief.batna:g}",
        best=f"{best:g}",
        role=me,
        other=other,
        max_turns=obs.max_turns,
        offer_keys=", ".join(f'"{i.name}": "..."' for i in obs.public.issues),
    )


def _offer_text(obs: Observation, offer) -> str:
    return ", ".join(f"{i.name}={i.options[o]}" for i, o in zip(obs.public.issues, offer))


def describe_turn(turn: PublicTurn, obs: Observation) -> str:
    who = "You" if turn.role == obs.role_index else f"{obs.public.role_names[turn.role].capitalize()}"
    if turn.action is None:
        act = "lost the turn (no valid reply)"
    elif turn.action.kind is Kind.PROPOSE:
        points = sum(row[o] for row, o in zip(obs.brief.points(), turn.action.offer))
        act = f"proposed {_offer_text(obs, turn.action.offer)} [{points:g} points to you]"
    elif turn.action.kind is Kind.ACCEPT:
        act = "accepted"
    else:
        act = "walked away"
    said = f' saying "{turn.message}"' if turn.message else ""
    return f"{turn.index + 1}. {who} {act}{said}"


def turn_prompt(obs: Observation) -> str:
    """The whole public history, compactly, and what the agent must do now. Each turn is
    one fresh request (system + this), so prompts stay short and every turn is self-contained."""
    lines = ["History:"] + [describe_turn(t, obs) for t in obs.history] if obs.history else ["You move first."]
    lines.append(f"Now turn {obs.turn + 1} of {obs.max_turns} ({obs.turns_left_after_this} left after this).")
    if obs.can_accept:
        points = sum(row[o] for row, o in zip(obs.brief.points(), obs.standing_offer))
        lines.append(f"On the table from the {obs.public.role_names[1 - obs.role_index]}: "
                     f"{_offer_text(obs, obs.standing_offer)} = {points:g} points to you (no deal: {100 * obs.brief.batna:g}).")
    else:
        lines.append("No offer from the other side is on the table: you cannot accept.")
    lines.append("Your JSON reply:")
    return "\n".join(lines)


def repair_prompt(error: str) -> str:
    return f"Your reply was rejected: {error}\nReply again with one valid JSON object, nothing else."


def reply_schema(obs_issues) -> dict[str, Any]:
    """JSON schema of a reply: enums for the options, a bounded message (constrained decoding)."""
    return {
        "type": "object",
        "properties": {
            "message": {"type": "string", "maxLength": 160},
            "action": {"type": "string", "enum": [k.value for k in Kind]},
            "offer": {
                "type": "object",
                "properties": {i.name: {"type": "string", "enum": list(i.options)} for i in obs_issues},
                "required": [i.name for i in obs_issues],
                "additionalProperties": False,
            },
        },
        "required": ["message", "action", "offer"],
        "additionalProperties": False,
    }


def template_hash() -> str:
    """Hash of every template and of the code that fills them: any wording change shows in results."""
    import inspect

    parts = [PROMPT_VERSION, SYSTEM_TEMPLATE] + [inspect.getsource(f) for f in (
        system_prompt, _points, _offer_text, describe_turn, turn_prompt, repair_prompt, reply_schema)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]
