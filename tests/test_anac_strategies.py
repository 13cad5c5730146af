"""MiCRO and HardHeaded, the two published ANAC strategies (not in a released panel yet): their
rules checked move by move on hand-made scenarios."""

from __future__ import annotations

import asyncio

import numpy as np

from arena_bench.arrays.registry import SCRIPTED
from arena_bench.core.analysis import analyse
from arena_bench.playing.game import play_game

from .conftest import make_scenario


def play(scenario, a: str, b: str, first: int = 0, max_turns: int = 20):
    agents = (SCRIPTED[a].new_agent(0, 1), SCRIPTED[b].new_agent(1, 2))
    state, _, metrics = asyncio.run(
        play_game(scenario, analyse(scenario), agents, first, max_turns=max_turns)
    )
    return state, metrics


def offers_of(state, role):
    return [
        t.action.offer for t in state.history if t.role == role and t.action is not None and t.action.offer
    ]


def three_issue_scenario():
    # A's utilities differ for every outcome (weights 0.5/0.3/0.2, values 0/0.5/1): a strict ladder
    return make_scenario(
        (0.5, 0.3, 0.2), ((1, 0.5, 0), (1, 0.5, 0), (1, 0.5, 0)), (0.4, 0.4, 0.2), ((0, 0.5, 1), (0, 0.5, 1), (0, 0.5, 1)),
        batnas=(0.2, 0.2),
    )  # fmt: skip


def test_micro_concedes_one_step_per_new_offer_received():
    """Against a Hardliner (one offer, repeated: m = 1) MiCRO makes at most two distinct proposals,
    its best and its second best, and then only repeats them."""
    sc = three_issue_scenario()
    state, metrics = play(sc, "micro", "hardliner")
    mine = offers_of(state, 0)
    u = [sc.roles[0].utility(o) for o in mine]
    assert mine[0] == (0, 0, 0) and u[0] == 1.0  # its best outcome first
    distinct = list(dict.fromkeys(mine))
    assert (
        len(distinct) == 2
        and sc.roles[0].utility(distinct[1])
        == sorted({sc.roles[0].utility(o) for o in np.ndindex(3, 3, 3)}, reverse=True)[1]
    )
    assert not metrics.deal  # neither side gives ground: no deal


def test_micro_accepts_what_it_would_offer_next_and_never_below_its_batna():
    sc = three_issue_scenario()
    state, metrics = play(sc, "micro", "pushover")
    if metrics.deal:
        assert metrics.sides[0].u >= sc.roles[0].batna
    state, metrics = play(sc, "micro", "micro")
    # two MiCROs each see one new offer per turn, so each concedes one step every turn
    for role in (0, 1):
        mine = offers_of(state, role)
        assert len(mine) >= 2 and len(set(mine)) == len(mine)


def test_hardheaded_holds_out_at_its_floor_and_offers_back_the_best_bid_it_was_given():
    sc = three_issue_scenario()
    state, metrics = play(sc, "hardheaded", "conceder")
    mine = offers_of(state, 0)
    floor = max(sc.roles[0].batna, 0.585)
    assert all(sc.roles[0].utility(o) >= floor - 1e-9 for o in mine)
    assert mine[0] == (0, 0, 0)  # at t = 0 its target is its best outcome
    if metrics.deal:
        assert metrics.sides[0].u >= floor - 1e-9
    # e = 0.05: half-way through the game its target has hardly moved from the best
    assert all(sc.roles[0].utility(o) > 0.95 for o in mine[: len(mine) // 2])
