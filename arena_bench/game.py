"""The async game loop: asks agents for turns, re-asks with the error on a bad reply
(at most ``max_repairs`` times), forfeits the turn after that, and applies the protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .agents.base import Agent, Observation, PublicScenario, Reply
from .core.analysis import Analysis
from .core.metrics import GameMetrics, game_metrics
from .core.protocol import (
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
from .core.scenario import Scenario


@dataclass
class TurnLog:
    turn: int
    role: int
    attempts: list[dict[str, Any]] = field(default_factory=list)  # raw output, error, usage per try
    forfeited: bool = False


def public_view(scenario: Scenario) -> PublicScenario:
    return PublicScenario(scenario.id, scenario.title, scenario.context, scenario.issues, scenario.role_names)


async def play_game(
    scenario: Scenario,
    analysis: Analysis,
    agents: tuple[Agent, Agent],
    first_mover: int,
    max_turns: int = MAX_TURNS,
    max_repairs: int = MAX_REPAIRS,
) -> tuple[GameState, list[TurnLog], GameMetrics]:
    """Play one game; ``agents[i]`` plays role i. Raises whatever an agent raises (the runner
    records the cell as failed and a resumed run plays it again)."""
    state = initial_state(scenario.shape, first_mover, max_turns)
    public = public_view(scenario)
    logs: list[TurnLog] = []
    invalid = [0, 0]
    repairs = [0, 0]
    while not state.over:
        role = state.to_move
        log = TurnLog(state.turn, role)
        feedback: str | None = None
        turn: Turn | None = None
        for attempt in range(max_repairs + 1):
            obs = Observation(
                role_index=role,
                brief=scenario.roles[role],
                public=public,
                history=state.history,
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
    metrics = game_metrics(scenario, analysis, state, tuple(invalid), tuple(repairs))
    return state, logs, metrics


def _action_json(reply: Reply) -> dict[str, Any] | None:
    a = reply.action
    if a is None:
        return None
    out: dict[str, Any] = {"kind": a.kind.value}
    if a.kind is Kind.PROPOSE and a.offer is not None:
        out["offer"] = list(a.offer)
    return out
