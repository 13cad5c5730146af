from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from arena_bench.core import stats
from arena_bench.scoring.aggregate import evaluate


def test_agrees_with_scipy_bootstrap_when_every_game_is_its_own_cluster():
    rng = np.random.default_rng(0)
    x = rng.normal(0.4, 0.2, size=300)
    (ours,) = stats.cluster_bootstrap(x, np.arange(len(x)), b=20000, seed=1)
    ref = sps.bootstrap(
        (x,), np.mean, n_resamples=20000, method="percentile", random_state=2
    ).confidence_interval
    assert ours.mean == pytest.approx(x.mean())
    assert ours.lo == pytest.approx(ref.low, abs=0.002) and ours.hi == pytest.approx(ref.high, abs=0.002)
    assert ours.se == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)), rel=0.01)


def clustered_sample(rng, n_clusters=60, per_cluster=12, mean=0.5, between=0.15, within=0.2):
    effects = rng.normal(0, between, n_clusters)
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    return mean + effects[cluster] + rng.normal(0, within, len(cluster)), cluster


def coverage(n_sims: int, b: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(n_sims):
        x, c = clustered_sample(rng)
        (e,) = stats.cluster_bootstrap(x, c, b=b, seed=i)
        hits += e.lo <= 0.5 <= e.hi
    return hits / n_sims


def test_coverage_quick():
    assert 0.88 <= coverage(200, 400, seed=3) <= 0.995


@pytest.mark.slow
def test_coverage_1000_simulations():
    cov = coverage(1000, 2000, seed=4)
    assert 0.93 <= cov <= 0.97, cov


def paired_rejection_rate(
    n_sims: int, b: int, effect: float, seed: int, n_clusters=50, per_cluster=8
) -> float:
    """Two agents on shared cells: scenario effects shared (paired), their own noise; test A - B = 0."""
    rng = np.random.default_rng(seed)
    rejections = 0
    cluster = np.repeat(np.arange(n_clusters), per_cluster)
    for i in range(n_sims):
        scen = rng.normal(0, 0.15, n_clusters)[cluster]
        cell = rng.normal(0, 0.1, len(cluster))  # cell difficulty, shared by both agents
        a = (
            0.5
            + effect
            + scen
            + cell
            + rng.normal(0, 0.2, len(cluster))
            + rng.normal(0, 0.05, n_clusters)[cluster]
        )
        b_ = 0.5 + scen + cell + rng.normal(0, 0.2, len(cluster))
        sums, counts = stats.cluster_sums(cluster, (a - b_)[:, None], n_clusters)
        boot = stats.replicate_means(
            stats.bootstrap_counts(n_clusters, b, np.random.default_rng(i)), sums, counts
        )
        rejections += stats.bootstrap_p_value(boot)[0] < 0.05
    return rejections / n_sims


def test_a_a_false_positive_rate_quick():
    assert 0.0 <= paired_rejection_rate(200, 400, 0.0, seed=5) <= 0.10


@pytest.mark.slow
def test_a_a_false_positive_rate_1000_simulations():
    rate = paired_rejection_rate(1000, 1000, 0.0, seed=6)
    assert 0.03 <= rate <= 0.07, rate


def planted_detection_rate(n_sims: int, b: int, seed: int) -> float:
    # the MDE that `power` reports for this design, measured on one pilot sample
    rng = np.random.default_rng(seed)
    n_clusters, per = 50, 8
    cluster = np.repeat(np.arange(n_clusters), per)
    scen = rng.normal(0, 0.15, n_clusters)[cluster]
    d = (rng.normal(0, 0.2, len(cluster)) + rng.normal(0, 0.05, n_clusters)[cluster]) - rng.normal(
        0, 0.2, len(cluster)
    )
    mde = stats.power_from_differences(d + 0 * scen, cluster).mde
    return paired_rejection_rate(n_sims, b, mde, seed=seed + 1), mde


def test_planted_mde_is_found_quick():
    rate, mde = planted_detection_rate(150, 400, seed=7)
    assert rate >= 0.65, (rate, mde)


@pytest.mark.slow
def test_planted_mde_is_found_in_75_percent():
    rate, mde = planted_detection_rate(1000, 1000, seed=8)
    assert rate >= 0.75, (rate, mde)


def test_holm_matches_hand_computation():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone: .02,.03,.06,.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_rank_intervals_separate_clear_winners():
    boot = np.column_stack([np.full(100, 0.9), np.linspace(0.4, 0.6, 100), np.linspace(0.6, 0.4, 100)])
    lo, hi = stats.rank_intervals(boot)
    assert (lo[0], hi[0]) == (1, 1) and lo[1] == 2 and hi[1] == 3


def test_default_z_is_scipys_and_other_levels_still_work():
    from scipy.stats import norm

    # the stored constant spares every run scipy.stats' import; it must be scipy's value exactly
    for (alpha, power), z in stats._Z_DEFAULT.items():
        assert z == norm.ppf(1 - alpha / 2) + norm.ppf(power)
    assert stats._z_sum(0.01, 0.9) == pytest.approx(norm.ppf(0.995) + norm.ppf(0.9), abs=0)
    rng = np.random.default_rng(3)
    d, c = clustered_sample(rng, n_clusters=40, mean=0.1)
    a, b = stats.power_from_differences(d, c), stats.power_from_differences(d, c, alpha=0.01, power=0.9)
    assert b.mde > a.mde  # a stricter level and more power need a larger effect


def test_power_scales_with_square_root_of_scenarios():
    rng = np.random.default_rng(9)
    d, c = clustered_sample(rng, n_clusters=100, mean=0.0)
    p = stats.power_from_differences(d, c)
    assert p.design_effect > 1.5  # within-scenario correlation inflates the variance
    assert p.clusters_needed(p.mde / 2) == pytest.approx(400, abs=1)


def test_evaluate_pairs_match_direct_computation():
    rng = np.random.default_rng(10)
    rows = []
    for s in range(30):
        base = rng.normal(0.5, 0.1)
        for opp in ("o1", "o2"):
            for role in (0, 1):
                for agent, shift in (("x", 0.05), ("z", 0.0)):
                    rows.append(
                        {
                            "scenario_id": f"s{s}",
                            "stratum": "st",
                            "family": "f",
                            "agent": agent,
                            "opponent": opp,
                            "opponent_key": opp,
                            "role": role,
                            "first_mover": 0,
                            "rep": 0,
                            "arena_score": base + shift + rng.normal(0, 0.05),
                        }
                    )
    df = pd.DataFrame(rows)
    for m in (
        "value",
        "welfare",
        "deal",
        "pareto_optimal",
        "rational",
        "invalid_rate",
        "forfeit_rate",
        "anchor_value",
        "distance_to_frontier",
        "turns",
    ):
        df[m] = 0.0
    res = evaluate(df, ["x", "z"], b=500, seed=1)
    (pair,) = res.pairs
    wide = df.pivot_table(index=["scenario_id", "opponent", "role"], columns="agent", values="arena_score")
    assert pair.diff == pytest.approx((wide["x"] - wide["z"]).mean(), abs=1e-6)
    assert pair.lo > 0 and pair.p < 0.01 and pair.cells == 120
    assert res.agents["x"].rank_interval == (1, 1)


def test_exact_ties_share_their_rank_and_rank_interval():
    rows = [
        {
            "scenario_id": f"s{s}",
            "stratum": "st",
            "family": "f",
            "agent": f"a{k}",
            "opponent": "o",
            "opponent_key": "o",
            "role": 0,
            "first_mover": 0,
            "rep": 0,
            "arena_score": 0.1,
        }
        for s in range(5)
        for k in range(9)
    ]
    rows += [{**r, "agent": "best", "arena_score": 0.2} for r in rows if r["agent"] == "a0"]
    res = evaluate(pd.DataFrame(rows), None, b=200, seed=1)
    assert res.agents["best"].rank == 1 and res.agents["best"].rank_interval == (1, 1)
    assert {(res.agents[f"a{k}"].rank, res.agents[f"a{k}"].rank_interval) for k in range(9)} == {(2, (2, 2))}
