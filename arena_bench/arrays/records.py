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
from ..core.protocol import ACCEPT, END_ACCEPTED, END_NAMES, NONE, PROPOSE, PROTOCOL_VERSION, WALK
from ..core.records import ActionRecord, Attempt, GameRecord, OutcomeRecord, SideRecord, TurnRecord
from ..core.scenario import Scenario
from .batch import ArrayGames


def _dumps(x: Any) -> str:
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def _c_encoder():
    """``_dumps`` without building an encoder per call (``json.dumps`` builds one each time, most
    of its cost for the small objects of a record): the C encoder that ``json.dumps`` itself uses,
    made once, and checked against ``json.dumps`` here; ``None`` where it is missing or differs."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        enc = make(None, None, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    except TypeError:  # another signature on another Python
        return None
    sample = {"a": [1, None, True, 0.1 + 0.2, -1e-300, 'é"\n'], "b": {"c": False}, "d": 3.0}
    try:
        same = "".join(enc(sample, 0)) == _dumps(sample)
    except Exception:  # noqa: BLE001 - any failure means: use json.dumps
        return None
    return enc if same else None


_ENCODE = _c_encoder()


def _encode(x: Any) -> str:
    return "".join(_ENCODE(x, 0)) if _ENCODE is not None else _dumps(x)


_SCRIPTED_ATTEMPT = (Attempt(None, None, {}),)  # a scripted turn: one reply, nothing raw, no usage
_TURN_TAIL = _encode({"forfeited": False, "attempts": [a.to_dict() for a in _SCRIPTED_ATTEMPT]})[1:]


class Parts:
    """Record parts built once per batch of batches (cached by what they depend on)."""

    def __init__(self, analyses: dict[str, Analysis]):
        self.analyses = analyses
        self.texts: dict[tuple[str, int], tuple[tuple[int, ...], str]] = {}
        self.said_parts: dict[tuple, tuple[str, ActionRecord, str]] = {}
        self.sides: dict[tuple, tuple[SideRecord, str]] = {}
        self.heads: dict[tuple, tuple[str, str]] = {}
        self.outcome_records: dict[tuple, tuple[OutcomeRecord, str]] = {}
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

    def said(self, games, scenario, sc, strategy, spec, kind, flat, table) -> tuple[str, ActionRecord, str]:
        """(message, action, JSON of the turn record after its index and role) of a turn: what
        a player says and does depends on the scenario, the player, the action and the offer
        (on the table, for an acceptance), not on the turn's index."""
        key = (scenario.id, spec, kind, flat, table)
        hit = self.said_parts.get(key)
        if hit is None:
            if kind == PROPOSE:
                offer, text = self.offer(games, scenario, sc, flat)
                action = ActionRecord("propose", offer)
                message = strategy.message(kind, text, "")
                action_json = f'{{"kind":"propose","offer":[{",".join(map(str, offer))}]}}'
            elif kind == ACCEPT:
                action = ActionRecord("accept")
                message = strategy.message(kind, "", self.offer(games, scenario, sc, table)[1])
                action_json = '{"kind":"accept"}'
            else:
                action = ActionRecord("walk_away")
                message = strategy.message(WALK, "", "")
                action_json = '{"kind":"walk_away"}'
            # TurnRecord.to_dict's fields after turn and role, in its order (the conformance tests
            # compare every line with the reference loop's json.dumps of the record)
            rest = f'"message":{json.encoder.encode_basestring(message)},"action":{action_json},{_TURN_TAIL}'
            hit = self.said_parts[key] = (message, action, rest)
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
    kinds, flats = games.hist_kind, games.hist_flat
    steps = np.arange(T)
    role_at = (games.first[:, None] + steps[None, :]) % 2
    proposes = kinds == PROPOSE
    offers = np.stack([(proposes & (role_at == r)).sum(axis=1) for r in (0, 1)], axis=1)
    first_offer = np.full((n, 2), NONE)
    for r in (0, 1):
        mine = proposes & (role_at == r)
        has = mine.any(axis=1)
        first_offer[has, r] = flats[has, mine[has].argmax(axis=1)]
    turn_records, turn_json = _turns(parts, games, role_at)
    offsets = np.r_[0, np.cumsum(games.turns)].tolist()
    ends, agreements, n_turns_all = games.end.tolist(), games.agreement.tolist(), games.turns.tolist()
    first_offer_l, offers_l = first_offer.tolist(), offers.tolist()
    scenario_rows = games.sc.tolist()
    records, lines = [], []
    for b, spec in enumerate(games.specs):
        scenario, sc = spec.scenario, scenario_rows[b]
        lo, hi = offsets[b], offsets[b + 1]
        turns, frags = turn_records[lo:hi], turn_json[lo:hi]
        end = ends[b]
        agreed = agreements[b] if end == END_ACCEPTED else NONE
        deal, agreement, text, u, n_w, pareto, distance, values = parts.outcome(games, scenario, sc, agreed)
        n_turns = n_turns_all[b]
        outcome_key = (scenario.id, agreed, end, n_turns)
        hit = parts.outcome_records.get(outcome_key)
        if hit is None:  # the outcome record depends on the agreement, how it ended and when
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
            hit = parts.outcome_records[outcome_key] = (outcome, _encode(outcome.to_dict()))
        outcome, outcome_json = hit
        sides, side_json = [], []
        for i in (0, 1):
            key = (scenario.id, agreed, i, first_offer_l[b][i], offers_l[b][i], spec.players[i])
            hit = parts.sides.get(key)
            if hit is None:
                side = SideRecord(
                    float(u[i]),
                    float(values[i]),
                    arena_score(values[i], n_w),
                    bool(u[i] >= scenario.roles[i].batna - 1e-12),
                    parts.anchor(games, scenario, sc, i, first_offer_l[b][i]),
                    offers_l[b][i],
                    0,
                    0,
                    0,
                    spec.players[i],
                    scenario.roles[i].name,
                    {},
                )
                hit = parts.sides[key] = (side, _encode(side.to_dict()))
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
            head = parts.heads[head_key] = (_encode(fixed)[1:-1], _encode(list(cell.players)))
        lines.append(
            f'{{"game_id":"{gids[b]}",{head[0]},"first_mover":{cell.first_mover},"rep":{cell.rep},'
            f'"salt":{salt},"seed":{seeds[b]},"players":{head[1]},"max_turns":{games.max_turns},'
            f'"max_repairs":{max_repairs},"turns":[{",".join(frags)}],"outcome":{outcome_json},'
            f'"sides":[{side_json[0]},{side_json[1]}]}}'
        )
        records.append(record)
    return records, lines


def _turns(parts: Parts, games: ArrayGames, role_at: np.ndarray) -> tuple[list[TurnRecord], list[str]]:
    """Every turn's record and JSON, game after game (game b's turns are the ``games.turns[b]``
    items after those of the games before it).

    A round robin plays hundreds of thousands of turns but says far fewer different things, so the
    turns are keyed as arrays: what is said (scenario, player, action, offer, and the offer on the
    table for an acceptance), then that with the turn's index and role. Each distinct key is built
    once, in Python; the turns are an index into them."""
    n, T = games.hist_kind.shape
    kinds, flats = games.hist_kind, games.hist_flat
    steps = np.arange(T)
    live = steps[None, :] < games.turns[:, None]
    # the offer on the table before each turn, for the text of an acceptance
    last = np.maximum.accumulate(np.where(kinds == PROPOSE, steps[None, :], -1), axis=1)
    before = np.concatenate([np.full((n, 1), -1), last[:, :-1]], axis=1)
    table = np.where(before >= 0, np.take_along_axis(flats, np.maximum(before, 0), axis=1), NONE)
    table = np.where(kinds == ACCEPT, table, NONE)
    names = list(dict.fromkeys(p for spec in games.specs for p in spec.players))
    code = {p: k for k, p in enumerate(names)}
    by_role = np.array([[code[p] for p in spec.players] for spec in games.specs]).reshape(n, 2)
    player = np.take_along_axis(by_role, role_at, axis=1)
    k1 = int(games.k) + 1  # flat outcomes and NONE, shifted to 0..k
    said_key = (
        (((games.sc[:, None].astype(np.int64) * len(names) + player) * 3 + kinds) * k1 + flats + 1) * k1
        + table
        + 1
    )
    b_at, t_at = np.nonzero(live)  # row-major: game by game, turn by turn
    said_unique, said_first, said_of = np.unique(said_key[b_at, t_at], return_index=True, return_inverse=True)
    said = []
    for j in said_first.tolist():
        b, t = int(b_at[j]), int(t_at[j])
        spec = games.specs[b]
        name = names[int(player[b, t])]
        said.append(
            parts.said(
                games,
                spec.scenario,
                int(games.sc[b]),
                games.strategies[name],
                name,
                int(kinds[b, t]),
                int(flats[b, t]),
                int(table[b, t]),
            )  # fmt: skip
        )
    turn_key = (said_of.reshape(-1) * T + t_at) * 2 + role_at[b_at, t_at]
    turn_unique, turn_of = np.unique(turn_key, return_inverse=True)
    records = np.empty(len(turn_unique), dtype=object)
    texts = np.empty(len(turn_unique), dtype=object)
    for m, key in enumerate(turn_unique.tolist()):
        rest, role = divmod(key, 2)
        s_id, t = divmod(rest, T)
        message, action, rest_json = said[s_id]
        records[m] = TurnRecord(t, role, message, action, False, _SCRIPTED_ATTEMPT)
        texts[m] = f'{{"turn":{t},"role":{role},' + rest_json
    turn_of = turn_of.reshape(-1)
    return records[turn_of].tolist(), texts[turn_of].tolist()
