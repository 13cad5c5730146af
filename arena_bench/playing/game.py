"""The async game loop: asks agents for turns, re-asks with the error on a bad reply
(at most ``max_repairs`` times), forfeits the turn after that, and applies the protocol.
A request the model's server refused outright (a prompt past its context window) forfeits the
turn at once, counted like any other forfeit."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..agents.base import Agent, Observation, PublicScenario, Reply
from ..core.analysis import Analysis
from ..core.metrics import GameMetrics, game_metrics
from ..core.protocol import (
    MAX_REPAIRS,
    MAX_TURNS,
    GameState,
    Kind,
    Turn,
    forfeit,
    illegality,
    initial_state,
    step,
)
from ..core.scenario import Scenario


@dataclass
class TurnLog:
    turn: int
    role: int
    attempts: list[dict[str, Any]] = field(default_factory=list)  # raw output, error, usage per try
    forfeited: bool = False


def public_view(scenario: Scenario) -> PublicScenario:
    return PublicScenario(scenario.id, scenario.title, scenario.context, scenario.issues, scenario.role_names)


PROBE_AFTER = (2, 5)  # belief probes after an agent's 2nd and 5th own turns, and at the end (0)


def seen_history(state: GameState, messages: bool):
    """The public history as the agents see it: with ``--messages off`` only actions and offers."""
    return state.history if messages else tuple(replace(t, message="") for t in state.history)


async def play_game(
    scenario: Scenario,
    analysis: Analysis,
    agents: tuple[Agent, Agent],
    first_mover: int,
    max_turns: int = MAX_TURNS,
    max_repairs: int = MAX_REPAIRS,
    messages: bool = True,
    probes: list[dict[str, Any]] | None = None,
) -> tuple[GameState, list[TurnLog], GameMetrics]:
    """Play one game; ``agents[i]`` plays role i. Raises whatever an agent raises (the runner
    records the cell as failed and a resumed run plays it again).

    ``messages=False`` strips free text from what each side sees (the record keeps what was said).
    ``probes`` (a list to fill) asks each agent that can answer (``probe``) for its beliefs about the
    other side after its 2nd and 5th own turns and at the end, in a side channel."""
    state = initial_state(scenario.shape, first_mover, max_turns)
    public = public_view(scenario)
    logs: list[TurnLog] = []
    invalid = [0, 0]
    repairs = [0, 0]
    own_turns = [0, 0]
    while not state.over:
        role = state.to_move
        log = TurnLog(state.turn, role)
        feedback: str | None = None
        turn: Turn | None = None
        history = seen_history(state, messages)
        for attempt in range(max_repairs + 1):
            obs = Observation(
                role_index=role,
                brief=scenario.roles[role],
                public=public,
                history=history,
                turn=state.turn,
                max_turns=max_turns,
                standing_offer=state.standing_offer,
                standing_by=state.standing_by,
                feedback=feedback,
                attempt=attempt,
            )
            reply: Reply = await agents[role].act(obs)
            error = reply.error
            if reply.action is not None and error is None:
                error = illegality(state, reply.action)
            attempt_log: dict[str, Any] = {"raw": reply.raw, "error": error, "usage": dict(reply.usage)}
            if (
                error is not None
            ):  # a rejected reply keeps what it said and tried; an accepted one is the turn
                attempt_log["message"] = reply.message
                attempt_log["action"] = _action_json(reply)
            log.attempts.append(attempt_log)
            if error is None:
                turn = Turn(reply.message, reply.action)
                break
            feedback = error
            if reply.usage.get("refused"):
                break  # the server cannot take this prompt: a repair would only make it longer
            if attempt < max_repairs:
                repairs[role] += 1
        if len(log.attempts) > 1 or turn is None:
            invalid[role] += 1
        if turn is None:
            log.forfeited = True
            state = forfeit(state)
        else:
            state = step(state, turn)
        logs.append(log)
        own_turns[role] += 1
        if probes is not None and own_turns[role] in PROBE_AFTER and not state.over:
            await _probe(agents[role], role, own_turns[role], scenario, public, state, messages, probes)
    if probes is not None:
        for role in (0, 1):
            await _probe(agents[role], role, 0, scenario, public, state, messages, probes)
    metrics = game_metrics(scenario, analysis, state, tuple(invalid), tuple(repairs))
    return state, logs, metrics


async def _probe(agent, role, after, scenario, public, state, messages, probes) -> None:
    ask = getattr(agent, "probe", None)
    if ask is None:  # no beliefs to ask about: no probe score
        return
    obs = Observation(
        role_index=role,
        brief=scenario.roles[role],
        public=public,
        history=seen_history(state, messages),
        turn=min(state.turn, state.max_turns - 1),
        max_turns=state.max_turns,
        standing_offer=state.standing_offer,
        standing_by=state.standing_by,
    )
    result = await ask(obs)
    if result is not None:
        probes.append({"side": role, "after": after, **result})


def _action_json(reply: Reply) -> dict[str, Any] | None:
    a = reply.action
    if a is None:
        return None
    out: dict[str, Any] = {"kind": a.kind.value}
    if a.kind is Kind.PROPOSE and a.offer is not None:
        out["offer"] = list(a.offer)
    return out
