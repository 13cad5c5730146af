"""Game records from a finished :class:`ArrayGames`, and their JSON lines.

A record's parts repeat across games: the same turn (same scenario, player, turn index, action)
and the same outcome (same scenario and agreement) recur thousands of times in a round robin. Each
part is built once with the reference code (``core.metrics`` for the numbers, the record types'
``to_dict`` for the JSON) and reused, so a record differs from the reference loop's only if an
action or a message does; ``tests/test_array_engine.py`` compares them field for field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.analysis import DECIMALS, Analysis, analyse
from ..core.metrics import (
    arena_score,
    distance_to_frontier,
    frontier_array,
    pareto_optimal,
    value_share,
    welfare,
)
from ..core.protocol import PROTOCOL_VERSION
from ..core.records import ActionRecord, Attempt, GameRecord, OutcomeRecord, SideRecord, TurnRecord
from ..core.scenario import Scenario
from .batch import ACCEPT, END_ACCEPTED, END_NAMES, NONE, PROPOSE, WALK, ArrayGames


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


_SCRIPTED_ATTEMPT = (Attempt(None, None, {}),)  # a scripted turn: one reply, nothing raw, no usage


class Parts:
    """Record parts built once per batch of batches (cached by what they depend on)."""

    def __init__(self, analyses: dict[str, Analysis]):
        self.analyses = analyses
        self.texts: dict[tuple[str, int], tuple[tuple[int, ...], str]] = {}
        self.turns: dict[tuple, tuple[TurnRecord, str]] = {}
        self.said: dict[tuple, tuple[str, ActionRecord, str]] = {}
        self.sides: dict[tuple, tuple[SideRecord, str]] = {}
        self.heads: dict[tuple, tuple[str, str]] = {}
        self.outcome_json: dict[tuple, str] = {}
        self.outcomes: dict[tuple[str, int], tuple] = {}
        self.anchors: dict[tuple[str, int, int], float] = {}
        self.frontiers: dict[str, np.ndarray] = {}

    def analysis(self, scenario: Scenario) -> Analysis:
        a = self.analyses.get(scenario.id)
        if a is None:
            a = self.analyses[scenario.id] = analyse(scenario)
        return a

    def offer(self, games: ArrayGames, scenario: Scenario, sc: int, flat: int) -> tuple[tuple[int, ...], str]:
        key = (scenario.id, flat)
        hit = self.texts.get(key)
        if hit is None:
            offer = tuple(int(o) for o in games.OPT[sc, : len(scenario.shape), flat])
            text = "; ".join(f"{issue.name}: {issue.options[o]}" for issue, o in zip(scenario.issues, offer))
            hit = self.texts[key] = (offer, text)
        return hit

    def turn(self, games, scenario, sc, strategy, spec, t, role, kind, flat, table) -> tuple[TurnRecord, str]:
        """A turn's record and JSON. What it says and does is cached without the turn's index, which
        is written around the cached JSON of the rest."""
        key = (scenario.id, spec, t, role, kind, flat, table if kind == ACCEPT else NONE)
        hit = self.turns.get(key)
        if hit is None:
            said_key = key[:2] + key[4:]
            said = self.said.get(said_key)
            if said is None:
                if kind == PROPOSE:
                    offer, text = self.offer(games, scenario, sc, flat)
                    action = ActionRecord("propose", offer)
                    message = strategy.message(kind, text, "")
                elif kind == ACCEPT:
                    action = ActionRecord("accept")
                    message = strategy.message(kind, "", self.offer(games, scenario, sc, table)[1])
                else:
                    action = ActionRecord("walk_away")
                    message = strategy.message(WALK, "", "")
                rest = TurnRecord(0, 0, message, action, False, _SCRIPTED_ATTEMPT).to_dict()
                del rest["turn"], rest["role"]
                said = self.said[said_key] = (message, action, _dumps(rest)[1:])
            message, action, rest_json = said
            record = TurnRecord(t, role, message, action, False, _SCRIPTED_ATTEMPT)
            hit = self.turns[key] = (record, f'{{"turn":{t},"role":{role},' + rest_json)
        return hit

    def outcome(self, games: ArrayGames, scenario: Scenario, sc: int, agreement: int) -> tuple:
        """(deal, agreement, text, u, welfare, pareto, distance, values) of a final agreement (-1: none),
        as ``game_metrics`` computes them."""
        key = (scenario.id, agreement)
        hit = self.outcomes.get(key)
        if hit is None:
            analysis = self.analysis(scenario)
            batna = (scenario.roles[0].batna, scenario.roles[1].batna)
            deal = agreement >= 0
            offer = self.offer(games, scenario, sc, agreement)[0] if deal else None
            u = tuple(round(x, DECIMALS) for x in scenario.utilities(offer)) if deal else batna
            n = welfare(analysis.zopa, deal, u, batna, analysis.nash_product)
            frontier = self.frontiers.get(scenario.id)
            if frontier is None:
                frontier = self.frontiers[scenario.id] = frontier_array(analysis)
            values = tuple(value_share(u[i], batna[i], analysis.best[i]) if deal else 0.0 for i in range(2))
            hit = self.outcomes[key] = (
                deal,
                offer,
                scenario.describe_outcome(offer) if deal else None,
                u,
                float(n),
                pareto_optimal(u, frontier) if deal else None,
                distance_to_frontier(u, frontier) if deal else None,
                values,
            )
        return hit

    def anchor(self, games: ArrayGames, scenario: Scenario, sc: int, side: int, flat: int) -> float | None:
        if flat < 0:
            return None
        key = (scenario.id, side, flat)
        hit = self.anchors.get(key)
        if hit is None:
            role = scenario.roles[side]
            offer = self.offer(games, scenario, sc, flat)[0]
            best = self.analysis(scenario).best[side]
            hit = self.anchors[key] = value_share(round(role.utility(offer), DECIMALS), role.batna, best)
        return hit


def game_records(
    games: ArrayGames,
    cells: Sequence,
    gids: Sequence[str],
    seeds: Sequence[int],
    *,
    task_set: str,
    task_hash: str,
    split: str,
    max_repairs: int,
    salt: int = 0,
    analyses: dict[str, Analysis] | None = None,
    parts: Parts | None = None,
) -> tuple[list[GameRecord], list[str]]:
    """The records of every game of the batch in the order of ``games.specs`` (``cells[b]`` its
    cell, ``seeds[b]`` its cell seed), and each one's JSON line as ``GameStore`` writes it."""
    parts = parts or Parts({} if analyses is None else analyses)
    n, T = games.hist_kind.shape
    role_at = (games.first[:, None] + np.arange(T)[None, :]) % 2
    proposes = games.hist_kind == PROPOSE
    offers = np.stack([(proposes & (role_at == r)).sum(axis=1) for r in (0, 1)], axis=1)
    first_offer = np.full((n, 2), NONE)
    for r in (0, 1):
        mine = proposes & (role_at == r)
        has = mine.any(axis=1)
        first_offer[has, r] = games.hist_flat[has, mine[has].argmax(axis=1)]
    # the offer on the table before each turn, for the text of an acceptance
    kinds, flats = games.hist_kind.tolist(), games.hist_flat.tolist()
    records, lines = [], []
    for b, spec in enumerate(games.specs):
        scenario, sc = spec.scenario, int(games.sc[b])
        turns, frags = [], []
        table = NONE
        for t in range(int(games.turns[b])):
            role = (spec.first_mover + t) % 2
            player = spec.players[role]
            kind = kinds[b][t]
            record, frag = parts.turn(
                games, scenario, sc, games.strategies[player], player, t, role, kind, flats[b][t], table
            )
            if kind == PROPOSE:
                table = flats[b][t]
            turns.append(record)
            frags.append(frag)
        end = int(games.end[b])
        deal, agreement, text, u, n_w, pareto, distance, values = parts.outcome(
            games, scenario, sc, int(games.agreement[b]) if end == END_ACCEPTED else NONE
        )
        n_turns = int(games.turns[b])
        outcome = OutcomeRecord(
            deal,
            agreement,
            text,
            END_NAMES[end],
            n_turns,
            n_turns if end == END_ACCEPTED else None,
            n_w,
            pareto,
            distance,
        )
        sides, side_json = [], []
        for i in (0, 1):
            key = (scenario.id, agreement, i, int(first_offer[b, i]), int(offers[b, i]), spec.players[i])
            hit = parts.sides.get(key)
            if hit is None:
                side = SideRecord(
                    float(u[i]),
                    float(values[i]),
                    arena_score(values[i], n_w),
                    bool(u[i] >= scenario.roles[i].batna - 1e-12),
                    parts.anchor(games, scenario, sc, i, int(first_offer[b, i])),
                    int(offers[b, i]),
                    0,
                    0,
                    0,
                    spec.players[i],
                    scenario.roles[i].name,
                    {},
                )
                hit = parts.sides[key] = (side, _dumps(side.to_dict()))
            sides.append(hit[0])
            side_json.append(hit[1])
        sides = tuple(sides)
        cell = cells[b]
        record = GameRecord(
            gids[b], PROTOCOL_VERSION, task_set, task_hash, split, scenario.id, scenario.family,
            scenario.stratum, cell.first_mover, cell.rep, salt, seeds[b], tuple(cell.players),
            games.max_turns, max_repairs, tuple(turns), outcome, sides, (),
        )  # fmt: skip
        head_key = (scenario.id, tuple(cell.players))
        head = parts.heads.get(head_key)
        if head is None:  # GameRecord.to_dict's fields before the turns, in its order
            fixed = {
                "protocol": PROTOCOL_VERSION,
                "task_set": task_set,
                "task_hash": task_hash,
                "split": split,
                "scenario_id": scenario.id,
                "family": scenario.family,
                "stratum": scenario.stratum,
            }
            head = parts.heads[head_key] = (_dumps(fixed)[1:-1], _dumps(list(cell.players)))
        outcome_key = (scenario.id, agreement, end, n_turns)
        outcome_json = parts.outcome_json.get(outcome_key)
        if outcome_json is None:
            outcome_json = parts.outcome_json[outcome_key] = _dumps(outcome.to_dict())
        lines.append(
            f'{{"game_id":"{gids[b]}",{head[0]},"first_mover":{cell.first_mover},"rep":{cell.rep},'
            f'"salt":{salt},"seed":{seeds[b]},"players":{head[1]},"max_turns":{games.max_turns},'
            f'"max_repairs":{max_repairs},"turns":[{",".join(frags)}],"outcome":{outcome_json},'
            f'"sides":[{side_json[0]},{side_json[1]}]}}'
        )
        records.append(record)
    return records, lines
