"""Conformance checks that ship with the package (in the spirit of PettingZoo's api_test):
run them over every scenario of a task set, or over a new agent.

- random play always terminates within ``max_turns`` and ends in a legal state;
- the same seed gives the same game; replaying its actions through the pure protocol
  reproduces the outcome;
- an agent never returns an illegal action without saying why (``Reply.error``);
- a scripted agent's array form writes the same records as its reference form
  (``check_scripted``, ``arena-bench check-agent NAME``; in the spirit of Gymnasium's
  ``check_env``).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..agents.base import Agent, Observation, Reply
from ..arrays.registry import scripted_entry
from ..core.analysis import analyse
from ..core.protocol import Action, Kind, Turn, forfeit, initial_state, step
from ..core.scenario import Scenario
from ..planning import plan_cells
from .game import play_game
from .players import make_player
from .runner import GameStore, run_cells


class RandomAgent:
    """Uniformly random legal actions, with occasional garbage to exercise repairs."""

    def __init__(self, seed: int, p_accept: float = 0.1, p_walk: float = 0.02, p_invalid: float = 0.1):
        self.rng = np.random.default_rng(seed)
        self.p = (p_accept, p_walk, p_invalid)

    async def act(self, obs: Observation) -> Reply:
        r = self.rng.random()
        p_accept, p_walk, p_invalid = self.p
        if r < p_invalid:
            return Reply(message="?", action=None, raw="not json", error="could not parse the reply")
        if r < p_invalid + p_accept:
            return Reply(message="ok", action=Action.accept())  # may be illegal: the loop must catch it
        if r < p_invalid + p_accept + p_walk:
            return Reply(message="bye", action=Action.walk_away())
        offer = tuple(int(self.rng.integers(len(i.options))) for i in obs.public.issues)
        return Reply(message="offer", action=Action.propose(offer))


def _signature(logs, state) -> tuple:
    return (
        tuple((t.role, None if t.action is None else (t.action.kind, t.action.offer)) for t in state.history),
        state.end,
        state.agreement,
    )


def check_scenario(scenario: Scenario, seeds: Iterable[int] = (0, 1, 2), max_turns: int = 20) -> list[str]:
    """Problems found playing random games on ``scenario`` (empty list: conforms)."""
    problems = []
    analysis = analyse(scenario)
    for seed in seeds:
        games = []
        for _ in range(2):
            agents = (RandomAgent(seed * 2), RandomAgent(seed * 2 + 1))
            state, logs, metrics = asyncio.run(play_game(scenario, analysis, agents, seed % 2, max_turns))
            games.append((state, logs, metrics))
        (s1, l1, m1), (s2, l2, m2) = games
        if not s1.over or s1.turn > max_turns:
            problems.append(f"{scenario.id} seed {seed}: game did not end within {max_turns} turns")
        if _signature(l1, s1) != _signature(l2, s2) or m1 != m2:
            problems.append(f"{scenario.id} seed {seed}: same seed gave a different game")
        replay = initial_state(scenario.shape, seed % 2, max_turns)
        for t in s1.history:
            replay = forfeit(replay) if t.action is None else step(replay, Turn(t.message, t.action))
        if (replay.end, replay.agreement) != (s1.end, s1.agreement):
            problems.append(f"{scenario.id} seed {seed}: replaying the actions gave a different outcome")
        if s1.agreement is not None and s1.history[-1].action.kind is not Kind.ACCEPT:
            problems.append(f"{scenario.id} seed {seed}: a deal without an accept")
        for side in m1.sides:
            if side.value < -1 or side.value > 1 + 1e-9 or not 0 <= m1.welfare <= 1:
                problems.append(f"{scenario.id} seed {seed}: metric out of range {side}")
    return problems


def check_agent(make_agent, scenarios: Iterable[Scenario], opponent_seed: int = 0) -> list[str]:
    """Play ``make_agent(role, seed)`` against a random agent; report unexplained illegal replies."""
    problems = []
    for scenario in scenarios:
        analysis = analyse(scenario)
        for role in (0, 1):
            agents: list[Agent] = [RandomAgent(opponent_seed), RandomAgent(opponent_seed)]
            agents[role] = make_agent(role, 0)
            _, logs, _ = asyncio.run(play_game(scenario, analysis, tuple(agents), 0))
            for log in logs:
                if log.role != role:
                    continue
                for att in log.attempts:
                    if att["error"] and att["raw"] is None:
                        problems.append(
                            f"{scenario.id} role {role} turn {log.turn}: illegal action ({att['error']})"
                        )
    return problems


def check_scripted(name: str, scenarios: Sequence[Scenario], opponents: Sequence[str]) -> list[str]:
    """Problems found with the scripted agent NAME (an empty list: it conforms): its reference form
    never returns an illegal action without saying why (``check_agent``), and its array form writes
    the same records as its reference form, byte for byte, against OPPONENTS on SCENARIOS."""
    entry = scripted_entry(name)
    problems = check_agent(entry.new_agent, scenarios)
    if entry.array is None:
        return problems + [f"scripted/{name} has no array form: only the reference engine plays it"]
    spec = f"scripted/{name}"
    specs = [spec, *[o for o in opponents if o != spec]]
    pairs = [(spec, o) for o in specs]
    by_id = {s.id: s for s in scenarios}
    lines: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine in ("reference", "array"):
            store = GameStore(Path(tmp) / f"{engine}.jsonl")
            asyncio.run(
                run_cells(plan_cells(scenarios, pairs), by_id, {s: make_player(s) for s in specs}, store,
                          task_set="check-agent", task_hash="", split="check", progress=False, engine=engine)
            )  # fmt: skip
            store.close()
            text = (Path(tmp) / f"{engine}.jsonl").read_text(encoding="utf-8").splitlines()
            lines[engine] = {json.loads(x)["game_id"]: x for x in text}
    reference, array = lines["reference"], lines["array"]
    differ = [g for g in reference if array.get(g) != reference[g]]
    if differ or len(array) != len(reference):
        problems.append(
            f"the array form's records differ from the reference form's in {len(differ)} of {len(reference)} "
            f"games (first: {differ[0] if differ else 'a missing game'})"
        )
    return problems
