"""Full statistics speed: 100,000 games, 20 agents, all pairs, B = 2000.

    python benchmarks/stats_speed.py

Times `arena_bench.scoring.aggregate.evaluate` (per-agent intervals for every metric, all 190
paired comparisons with Holm, rank intervals, cross-play, strata, families, power) and, in
the same run, a straightforward per-replicate loop (resample scenarios, recompute agent
means and pair differences) for the agent means and pairs only, extrapolated from
--naive-replicates to B.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import pandas as pd

from arena_bench.scoring.aggregate import METRIC_KEYS as METRICS
from arena_bench.scoring.aggregate import evaluate


def synthetic_rows(
    n_agents: int, n_scenarios: int, n_opponents: int, rng: np.random.Generator
) -> pd.DataFrame:
    cells = pd.MultiIndex.from_product(
        [range(n_scenarios), range(n_opponents), (0, 1), (0, 1)], names=["s", "o", "role", "first_mover"]
    ).to_frame(index=False)
    frames = []
    skill = rng.normal(0, 0.05, n_agents)
    scen = rng.normal(0, 0.15, n_scenarios)
    for a in range(n_agents):
        f = cells.copy()
        f["agent"] = f"agent-{a:02d}"
        f["arena_score"] = 0.5 + skill[a] + scen[f["s"]] + rng.normal(0, 0.2, len(f))
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)
    df["scenario_id"] = "s" + df["s"].astype(str)
    df["opponent"] = "opp-" + df["o"].astype(str)
    df["opponent_key"] = df["opponent"]
    df["rep"] = 0
    df["stratum"] = np.array(["distributive", "integrative", "compatible", "asymmetric_batna", "no_zopa"])[
        df["s"] % 5
    ]
    df["family"] = np.array(["a", "b", "c", "d", "e", "f", "g"])[df["s"] % 7]
    for m in METRICS:
        if m != "arena_score":
            df[m] = df["arena_score"] * 0.5 + rng.normal(0, 0.1, len(df))
    return df.drop(columns=["s", "o"])


def naive(df: pd.DataFrame, agents: list[str], replicates: int, seed: int) -> float:
    """Resample scenarios with replacement and recompute everything with pandas, one replicate at a time."""
    rng = np.random.default_rng(seed)
    scenarios = df["scenario_id"].unique()
    groups = {s: g for s, g in df.groupby("scenario_id")}
    t = time.perf_counter()
    for _ in range(replicates):
        pick = rng.choice(scenarios, size=len(scenarios), replace=True)
        sample = pd.concat([groups[s] for s in pick], ignore_index=True)
        sample.groupby("agent")[list(METRICS)].mean()
        wide = sample.pivot_table(
            index=["scenario_id", "opponent_key", "role", "first_mover", "rep"],
            columns="agent",
            values="arena_score",
            aggfunc="mean",
        )
        for a, b in itertools.combinations(agents, 2):
            (wide[a] - wide[b]).mean()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--scenarios", type=int, default=157)
    p.add_argument("--opponents", type=int, default=8)
    p.add_argument("--b", type=int, default=2000)
    p.add_argument("--naive-replicates", type=int, default=20)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    df = synthetic_rows(args.agents, args.scenarios, args.opponents, rng)
    agents = sorted(df["agent"].unique())
    print(
        f"{len(df):,} games (agent-sides), {len(agents)} agents, {args.scenarios} scenarios, "
        f"{len(agents) * (len(agents) - 1) // 2} pairs, B = {args.b}"
    )
    times = []
    for _ in range(3):
        t = time.perf_counter()
        res = evaluate(df, agents, b=args.b, seed=1)
        times.append(time.perf_counter() - t)
    print(
        f"arena-bench evaluate (all metrics, pairs + Holm, ranks, cross-play, strata, families, power): "
        f"best {min(times):.2f} s of 3"
    )
    naive_s = naive(df, agents, args.naive_replicates, seed=1)
    per = naive_s / args.naive_replicates
    print(
        f"per-replicate loop (agent means + pairs only): {per * 1000:.0f} ms per replicate, "
        f"{args.naive_replicates} measured, {per * args.b:.0f} s extrapolated to B = {args.b}"
    )
    print(f"speed-up: {per * args.b / min(times):.0f}x")
    top = res.ranked()[0]
    print(f"sanity: top agent {top} rank interval {res.agents[top].rank_interval}")


if __name__ == "__main__":
    main()
