from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_bench.core.analysis import analyse, grids, pareto_mask
from arena_bench.core.scenario import Issue, Role, Scenario

from .conftest import make_scenario


def test_hand_computed_logrolling(logroll_scenario):
    a = analyse(logroll_scenario)
    # outcomes: (0,0)=(0,1) (0,1)=(.4,.3) (1,0)=(.6,.7) (1,1)=(1,0)
    assert [p.outcome for p in a.frontier] == [(1, 1), (1, 0), (0, 0)]
    assert a.nash.outcome == (1, 0)
    assert a.nash_product == pytest.approx(0.5 * 0.6)
    assert a.kalai_smorodinsky.outcome == (1, 0)
    assert a.max_joint.outcome == (1, 0)
    assert a.zopa is True
    assert a.best == (1.0, 1.0)
    assert a.integrative_potential == pytest.approx(0.0)  # every outcome is a "middle" of a binary issue


def test_ties_duplicates_stay_on_frontier_and_nash_takes_first():
    v = (0.0, 0.5, 1.0)
    s = make_scenario((0.5, 0.5), (v, v), (0.5, 0.5), (v[::-1], v[::-1]))
    a = analyse(s)
    assert len(a.frontier) == 9  # every outcome has u_A + u_B = 1; duplicates do not dominate
    assert a.nash.outcome == (0, 2)  # three outcomes give (0.5, 0.5); the first in outcome order wins
    assert a.max_joint.outcome == (0, 0)
    assert a.split.outcome == (1, 1)
    assert a.integrative_potential == pytest.approx(0.0)


def test_integrative_potential_counts_logrolling():
    # A cares 0.8 about issue0, B 0.8 about issue1: trading gives joint 1.6 vs 1.0 at the middle.
    v = (0.0, 0.5, 1.0)
    s = make_scenario((0.8, 0.2), (v, v), (0.2, 0.8), (v[::-1], v[::-1]))
    a = analyse(s)
    assert a.max_joint.outcome == (2, 0)
    assert a.max_joint.u == pytest.approx((0.8, 0.8))
    assert a.split.outcome == (1, 1)
    assert a.integrative_potential == pytest.approx(0.6)


def test_no_zopa(logroll_scenario):
    s = make_scenario((0.6, 0.4), ((0, 1), (0, 1)), (0.3, 0.7), ((1, 0), (1, 0)), batnas=(0.7, 0.75))
    a = analyse(s)
    assert a.zopa is False
    assert a.nash is None and a.kalai_smorodinsky is None


def test_zopa_is_strict():
    # (1,0) gives exactly (0.6, 0.7): equal to both BATNAs is rational but no gain.
    s = make_scenario((0.6, 0.4), ((0, 1), (0, 1)), (0.3, 0.7), ((1, 0), (1, 0)), batnas=(0.6, 0.7))
    a = analyse(s)
    assert a.zopa is False
    assert a.nash.outcome == (1, 0) and a.nash_product == 0.0


def brute_force_frontier(ua, ub):
    n = len(ua)
    dominated = np.zeros(n, dtype=bool)
    for start in range(0, n, 512):
        sa, sb = ua[start : start + 512, None], ub[start : start + 512, None]
        dom = (ua[None, :] >= sa) & (ub[None, :] >= sb) & ((ua[None, :] > sa) | (ub[None, :] > sb))
        dominated[start : start + 512] = dom.any(axis=1)
    return ~dominated


GRID = [0.0, 0.25, 0.5, 0.75, 1.0]


@st.composite
def small_scenarios(draw):
    n_issues = draw(st.integers(2, 4))
    shape = [draw(st.integers(2, 4)) for _ in range(n_issues)]
    roles = []
    for name in ("a", "b"):
        raw = [draw(st.integers(0, 4)) for _ in range(n_issues)]
        if sum(raw) == 0:
            raw[0] = 1
        weights = tuple(r / sum(raw) for r in raw)
        values = tuple(tuple(draw(st.sampled_from(GRID)) for _ in range(k)) for k in shape)
        if max(sum(w * max(v) for w, v in zip(weights, values)), 0) == 0:
            values = tuple((1.0,) + row[1:] for row in values)
        best = sum(w * max(v) for w, v in zip(weights, values))
        batna = draw(st.floats(0, 0.95)) * best
        roles.append(Role(name, weights, values, round(batna, 3)))
    issues = tuple(Issue(f"i{k}", "", tuple(f"o{j}" for j in range(n))) for k, n in enumerate(shape))
    return Scenario("prop", "", "", issues, (roles[0], roles[1]))


@settings(max_examples=150, deadline=None)
@given(small_scenarios())
def test_frontier_matches_brute_force(scenario):
    ua, ub = grids(scenario)
    a = analyse(scenario)
    expected = set(np.flatnonzero(brute_force_frontier(ua, ub)).tolist())
    got = {scenario.outcome_index(p.outcome) for p in a.frontier}
    assert got == expected
    # every frontier point undominated, every other outcome dominated by some outcome
    ga, gb = ua - scenario.roles[0].batna, ub - scenario.roles[1].batna
    rational = (ga >= 0) & (gb >= 0)
    if rational.any():
        assert a.nash is not None
        assert a.nash_product == pytest.approx((ga * gb)[rational].max())
        i = scenario.outcome_index(a.nash.outcome)
        assert rational[i]
        assert a.nash_product >= (ga * gb)[rational].max() - 1e-12
    else:
        assert a.nash is None
    assert a.zopa == bool(((ga > 0) & (gb > 0)).any())
    assert (ua + ub)[scenario.outcome_index(a.max_joint.outcome)] == pytest.approx((ua + ub).max())


def test_prefiltered_frontier_matches_brute_force_on_a_larger_space():
    rng = np.random.default_rng(7)
    shape = (8, 8, 8, 10)  # 5120 outcomes: above the size where the pre-filter kicks in
    ua = np.zeros(1)
    ub = np.zeros(1)
    wa, wb = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    for k, n in enumerate(shape):
        va = rng.choice(GRID, n)
        vb = rng.choice(GRID, n)
        ua = (ua[:, None] + wa[k] * va[None, :]).ravel()
        ub = (ub[:, None] + wb[k] * vb[None, :]).ravel()
    ua, ub = np.round(ua, 12), np.round(ub, 12)
    assert np.array_equal(pareto_mask(ua, ub), brute_force_frontier(ua, ub))


def test_outcome_index_round_trip(logroll_scenario):
    for o in itertools.product(range(2), range(2)):
        assert logroll_scenario.outcome_at(logroll_scenario.outcome_index(o)) == o
