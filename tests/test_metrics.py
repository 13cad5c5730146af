from __future__ import annotations

import pytest

from arena_bench.core.analysis import analyse
from arena_bench.core.metrics import distance_to_frontier, frontier_array, game_metrics
from arena_bench.core.protocol import Action, Turn, forfeit, initial_state, step

from .conftest import make_scenario


def play(scenario, first, actions):
    s = initial_state(scenario.shape, first)
    for a in actions:
        s = forfeit(s) if a is None else step(s, Turn("", a))
    return s


def test_hand_computed_deal(logroll_scenario):
    # batnas 0.1/0.1; B proposes (0,1) -> u=(0.4, 0.3); A accepts.
    a = analyse(logroll_scenario)
    state = play(logroll_scenario, 1, [Action.propose((0, 1)), Action.accept()])
    m = game_metrics(logroll_scenario, a, state)
    assert m.deal and m.agreement == (0, 1) and m.turns == 2 and m.turns_to_agreement == 2
    sa, sb = m.sides
    assert sa.u == pytest.approx(0.4) and sb.u == pytest.approx(0.3)
    assert sa.value == pytest.approx((0.4 - 0.1) / 0.9)
    assert sb.value == pytest.approx((0.3 - 0.1) / 0.9)
    assert m.welfare == pytest.approx(0.3 * 0.2 / (0.5 * 0.6))  # Nash product of (1,0) is 0.3
    assert sa.arena_score == pytest.approx((sa.value + m.welfare) / 2)
    assert m.pareto_optimal is False  # (1,0) gives (0.6, 0.7): better for both
    assert m.distance_to_frontier == pytest.approx(((0.6 - 0.4) ** 2 + (0.7 - 0.3) ** 2) ** 0.5)
    assert sb.anchor_value == pytest.approx(sb.value) and sa.anchor_value is None
    assert sa.rational and sb.rational


def test_nash_deal_scores_welfare_one(logroll_scenario):
    a = analyse(logroll_scenario)
    state = play(logroll_scenario, 0, [Action.propose((0, 0)), Action.propose((1, 0)), Action.accept()])
    m = game_metrics(logroll_scenario, a, state)
    assert m.welfare == pytest.approx(1.0) and m.pareto_optimal and m.distance_to_frontier == 0
    assert m.sides[0].anchor_value == pytest.approx((0 - 0.1) / 0.9)  # A opened at (0,0): worth 0 to A


def test_deal_below_batna_and_no_deal(logroll_scenario):
    a = analyse(logroll_scenario)
    # A accepts B's (0,0): u_A = 0 < 0.1 -> negative Value, welfare 0, not rational
    state = play(logroll_scenario, 1, [Action.propose((0, 0)), Action.accept()])
    m = game_metrics(logroll_scenario, a, state)
    assert m.sides[0].value == pytest.approx(-0.1 / 0.9) and not m.sides[0].rational and m.welfare == 0
    assert m.sides[1].value == pytest.approx(1.0)
    state = play(logroll_scenario, 0, [Action.walk_away()])
    m = game_metrics(logroll_scenario, a, state)
    assert not m.deal and m.welfare == 0 and m.sides[0].value == 0 and m.sides[0].arena_score == 0
    assert m.pareto_optimal is None


def test_value_clipped_at_minus_one():
    s = make_scenario((0.5, 0.5), ((0, 1), (0, 1)), (0.5, 0.5), ((1, 0), (1, 0)), batnas=(0.6, 0.1))
    m = game_metrics(s, analyse(s), play(s, 1, [Action.propose((0, 0)), Action.accept()]))
    assert m.sides[0].value == -1.0  # (0 - 0.6) / (1 - 0.6) = -1.5, clipped


def test_no_zopa_welfare_rewards_walking_away():
    s = make_scenario((0.6, 0.4), ((0, 1), (0, 1)), (0.3, 0.7), ((1, 0), (1, 0)), batnas=(0.7, 0.75))
    a = analyse(s)
    assert not a.zopa
    m = game_metrics(s, a, play(s, 0, [Action.walk_away()]))
    assert m.welfare == 1.0 and m.sides[0].arena_score == 0.5
    m = game_metrics(s, a, play(s, 0, [Action.propose((1, 0)), Action.accept()]))
    assert m.welfare == 0.0


def test_invalid_and_forfeit_counts_pass_through(logroll_scenario):
    a = analyse(logroll_scenario)
    state = play(logroll_scenario, 0, [None, Action.walk_away()])
    m = game_metrics(logroll_scenario, a, state, invalid_turns=(1, 0), repairs=(2, 0))
    assert m.sides[0].forfeited_turns == 1 and m.sides[0].invalid_turns == 1 and m.sides[0].repairs == 2


def test_distance_measured_to_dominating_points_only(logroll_scenario):
    f = frontier_array(analyse(logroll_scenario))
    assert distance_to_frontier((0.6, 0.7), f) == 0.0
    # (0.4, 0.3) is dominated only by (0.6, 0.7)
    assert distance_to_frontier((0.4, 0.3), f) == pytest.approx((0.04 + 0.16) ** 0.5)


def test_the_array_forms_of_value_and_welfare_equal_the_scalar_definitions():
    """The trainers' environments score outcomes with core.metrics' array forms; each game's numbers
    must be the scalar definitions' (one definition of each metric per representation)."""
    import numpy as np

    from arena_bench.core.metrics import value_share, value_shares, welfare, welfare_array

    rng = np.random.default_rng(3)
    n = 4000
    batna = rng.uniform(0, 0.6, (n, 2))
    best = batna + rng.uniform(0.01, 0.5, (n, 2))
    u = rng.uniform(0, 1, (n, 2))
    u[::7] = batna[::7]  # exactly at the BATNA
    u[1::9] = best[1::9]  # exactly the best
    u[2::11, 0] = batna[2::11, 0] - 1e-13  # a hair below
    deal = rng.random(n) < 0.7
    zopa = rng.random(n) < 0.8
    nash = np.where(zopa, rng.uniform(0.01, 0.3, n), 0.0)
    shares = value_shares(u, batna, best, deal)
    w = welfare_array(zopa, deal, u, batna, nash)
    for k in range(n):
        for r in (0, 1):
            want = value_share(u[k, r], batna[k, r], best[k, r]) if deal[k] else 0.0
            assert shares[k, r] == want
        assert w[k] == welfare(bool(zopa[k]), bool(deal[k]), tuple(u[k]), tuple(batna[k]), nash[k])
