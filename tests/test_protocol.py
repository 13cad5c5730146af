from __future__ import annotations

import pytest

from arena_bench.core.protocol import (
    Action,
    EndReason,
    IllegalAction,
    Turn,
    forfeit,
    illegality,
    initial_state,
    step,
)
from arena_bench.playing.conformance import check_scenario
from arena_bench.scenarios.tasks import open_task_set


def t(action):
    return Turn("", action)


def test_accept_needs_the_other_sides_standing_offer():
    s = initial_state((2, 3), first_mover=0)
    assert "no offer" in illegality(s, Action.accept())
    s = step(s, t(Action.propose((1, 2))))
    assert s.to_move == 1 and s.can_accept
    s2 = forfeit(s)  # role 1 forfeits: the standing offer stays, and it is role 0's own
    assert s2.standing_offer == (1, 2) and s2.to_move == 0
    assert "your own" in illegality(s2, Action.accept())
    s3 = step(s, t(Action.accept()))
    assert s3.end is EndReason.ACCEPTED and s3.agreement == (1, 2)
    with pytest.raises(IllegalAction):
        step(s3, t(Action.walk_away()))


def test_offers_must_be_complete_and_in_range():
    s = initial_state((2, 3), first_mover=1)
    assert "all 2 issues" in illegality(s, Action.propose((1,)))
    assert "option 3 does not exist" in illegality(s, Action.propose((0, 3)))
    assert illegality(s, Action.propose((1, 2))) is None


def test_walk_away_and_turn_limit():
    s = step(initial_state((2, 2), 0), t(Action.walk_away()))
    assert s.end is EndReason.WALKED_AWAY and s.agreement is None
    s = initial_state((2, 2), 1, max_turns=3)
    s = step(s, t(Action.propose((0, 0))))
    s = forfeit(s)
    assert not s.over
    s = step(s, t(Action.propose((1, 1))))
    assert s.end is EndReason.TURN_LIMIT and s.agreement is None and s.turn == 3
    assert [h.role for h in s.history] == [1, 0, 1]


def test_conformance_over_every_scenario_of_the_task_set():
    ts = open_task_set("negotiation-v1")
    problems = []
    for split in ("dev", "test"):
        for scenario in ts.load(split):
            problems += check_scenario(scenario, seeds=(0,))
    assert problems == []
