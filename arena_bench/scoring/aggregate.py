"""From per-game records to every number of a scorecard: per-agent metrics with cluster
bootstrap intervals, paired comparisons with Holm correction, rank intervals, the
cross-play matrix, breakdowns by stratum and family, and power.

All numbers are recomputed from the game records; nothing is read from aggregates.
No I/O: takes records, returns plain dicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..core import diagnostics, stats
from ..core.metrics import METRICS
from ..core.records import GameRecord
from ..core.scenario import Scenario
from .results import AgentStats, Estimate, Pair, PowerSummary, Run, Statistics

METRIC_KEYS = tuple(m.key for m in METRICS)
KEY = ["scenario_id", "opponent_key", "role", "first_mover", "rep"]


def rows_from_records(
    records: Iterable[GameRecord],
    scenarios: Mapping[str, Scenario] | None = None,
    leak_detector: str | None = None,
) -> pd.DataFrame:
    """One row per (game, side): the side's player is the agent, the other side the opponent.

    A column per registered metric (NaN where a metric is not defined for the game), plus the
    side's usage. Diagnostics scored against a scenario's private truth need ``scenarios`` (by id);
    without them their columns are left out. ``leak_detector``: score leak rates with that detector
    version (a published run's own, from its metrics version) instead of the current one.
    """
    records = list(records)
    # built column by column (a list per column, one DataFrame at the end): the same values as a
    # dict per row, at a fraction of the cost on runs of tens of thousands of games
    sides = [(r, i) for r in records for i in range(len(r.sides))]
    cols: dict[str, list[Any]] = {
        "game_id": [r.game_id for r, _ in sides],
        "scenario_id": [r.scenario_id for r, _ in sides],
        "stratum": [r.stratum for r, _ in sides],
        "family": [r.family for r, _ in sides],
        "agent": [r.players[i] for r, i in sides],
        "opponent": [r.players[1 - i] for r, i in sides],
        "opponent_key": [r.opponent_key(i) for r, i in sides],
        "role": [i for _, i in sides],
        "first_mover": [r.first_mover for r, _ in sides],
        "rep": [r.rep for r, _ in sides],
    }
    found = [scenarios.get(r.scenario_id) if scenarios is not None else None for r, _ in sides]
    for m in METRICS:
        if not m.needs_scenario:
            values = [m.of(r, i) for r, i in sides]
        elif scenarios is None:
            continue
        elif m.key == "leak_rate" and leak_detector is not None:
            values = [
                None if s is None else diagnostics.leak_rate(r, i, s, leak_detector)
                for (r, i), s in zip(sides, found)
            ]
        else:
            values = [None if s is None else m.of(r, i, s) for (r, i), s in zip(sides, found)]
        cols[m.key] = [np.nan if x is None else x for x in values]
    cols["repairs"] = [r.sides[i].repairs for r, i in sides]
    cols["tokens_in"] = [r.sides[i].usage.get("tokens_in", 0) for r, i in sides]
    cols["tokens_out"] = [r.sides[i].usage.get("tokens_out", 0) for r, i in sides]
    cols["cost_usd"] = [r.sides[i].usage.get("cost_usd", 0.0) for r, i in sides]
    df = pd.DataFrame(cols) if sides else pd.DataFrame()
    unused = [m.key for m in METRICS if m.needs_scenario and m.key in df and df[m.key].isna().all()]
    return df.drop(columns=unused)  # e.g. probe scores of a run without --probe


def entry_rows(runs: Iterable[Run]) -> tuple[pd.DataFrame, list[str]]:
    """Rows of each evaluated agent from its own run, so every entry is scored on its own games.

    An evaluation run contributes its model's side only (the panel's side of those games would
    give panel members extra games against the new model); a tournament contributes every agent.
    An agent in several runs keeps its first run, in the order given.
    """
    frames, agents = [], []
    for run in runs:
        mine = [a for a in run.evaluated_agents() if a not in agents]
        if mine:
            rows = rows_from_records(run.games)
            agents += mine
            frames += [rows[rows["agent"] == agent] for agent in mine]
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), agents


def entry_agents(runs: Iterable[Run]) -> list[str]:
    """The agents ``entry_rows`` would score, in its order, without building any rows."""
    agents: list[str] = []
    for run in runs:
        agents += [a for a in run.evaluated_agents() if a not in agents]
    return agents


def _grouped(
    df: pd.DataFrame, group: str | list[str], columns: list[str], n_clusters: int, groups: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(S, G*K) per-scenario sums and counts for each group and metric column."""
    keys = [group] if isinstance(group, str) else group
    present = df[columns].notna()
    filled = df[columns].fillna(0.0)
    frame = pd.concat(
        [df[["cluster"] + keys], filled.add_suffix("__s"), present.astype(float).add_suffix("__n")], axis=1
    )
    agg = frame.groupby(["cluster"] + keys, sort=False).sum()
    sums = np.zeros((n_clusters, len(groups), len(columns)))
    counts = np.zeros_like(sums)
    gindex = {g: k for k, g in enumerate(groups)}
    cl = agg.index.get_level_values(0).to_numpy()
    gl = agg.index.droplevel(0)
    gpos = np.array([gindex.get(g, -1) for g in gl.to_list()], dtype=int)
    keep = gpos >= 0
    sums[cl[keep], gpos[keep]] = agg[[c + "__s" for c in columns]].to_numpy()[keep]
    counts[cl[keep], gpos[keep]] = agg[[c + "__n" for c in columns]].to_numpy()[keep]
    return sums.reshape(n_clusters, -1), counts.reshape(n_clusters, -1)


def evaluate(
    rows: pd.DataFrame,
    agents: list[str] | None = None,
    b: int = stats.DEFAULT_B,
    seed: int = stats.DEFAULT_SEED,
    level: float = stats.LEVEL,
    pair_metric: str = "arena_score",
    weights: np.ndarray | None = None,
) -> Statistics:
    """Every statistic of SPEC section 6 for the given agents (default: all in the rows).

    ``weights`` (replicates x scenarios, from ``stats.bootstrap_counts``) lets two evaluations of
    the same games share one bootstrap draw; by default it is drawn from ``seed``.
    """
    if rows.empty:
        raise ValueError("no games to evaluate")
    agents = agents or sorted(rows["agent"].unique())
    df = rows[rows["agent"].isin(agents)].copy()
    scenarios = sorted(rows["scenario_id"].unique())
    df["cluster"] = pd.Categorical(df["scenario_id"], categories=scenarios).codes
    n = len(scenarios)
    if weights is None:
        weights = stats.bootstrap_counts(n, b, np.random.default_rng(seed))
    metrics = [m for m in METRIC_KEYS if m in df]

    # per agent, every metric
    sums, counts = _grouped(df, "agent", metrics, n, agents)
    boot = stats.replicate_means(weights, sums, counts)
    est = stats.summarise(sums, counts, boot, level)
    k = len(metrics)
    per_agent = {
        agent: {m: Estimate.of(est[a * k + j]) for j, m in enumerate(metrics)}
        for a, agent in enumerate(agents)
    }
    score_col = metrics.index("arena_score")
    score_boot = boot[:, [a * k + score_col for a in range(len(agents))]]
    lo, hi = stats.rank_intervals(score_boot, level)
    point = np.array(
        [
            np.nan if per_agent[a]["arena_score"].mean is None else per_agent[a]["arena_score"].mean
            for a in agents
        ]
    )
    order = stats.competition_ranks(point)
    table = {
        agent: AgentStats(
            per_agent[agent], int((df["agent"] == agent).sum()), int(order[a]), (int(lo[a]), int(hi[a]))
        )
        for a, agent in enumerate(agents)
    }
    return Statistics(
        settings={
            "bootstrap_replicates": len(weights),
            "bootstrap_seed": seed,
            "level": level,
            "cluster": "scenario",
            "interval": "percentile",
            "pair_metric": pair_metric,
        },
        scenarios=n,
        agents=table,
        pairs=paired_comparisons(df, agents, weights, n, pair_metric, level),
        crossplay=_breakdown(df, ["agent", "opponent"], agents, weights, n, level),
        by_stratum=_breakdown(df, ["agent", "stratum"], agents, weights, n, level),
        by_family=_breakdown(df, ["agent", "family"], agents, weights, n, level),
        power=power_summary(df, agents, pair_metric),
    )


def _pivot(df: pd.DataFrame, agents: list[str], metric: str) -> pd.DataFrame:
    return df.pivot_table(index=KEY, columns="agent", values=metric, aggfunc="mean").reindex(columns=agents)


def paired_comparisons(
    df: pd.DataFrame,
    agents: list[str],
    weights: np.ndarray,
    n_clusters: int,
    metric: str = "arena_score",
    level: float = stats.LEVEL,
) -> list[Pair]:
    """Every pair on the cells both played: mean difference, CI, bootstrap p, Holm-adjusted p."""
    if len(agents) < 2:
        return []
    wide = _pivot(df, agents, metric)
    cluster = pd.Categorical(
        wide.index.get_level_values("scenario_id"), categories=sorted(df["scenario_id"].unique())
    ).codes
    matrix = wide.to_numpy()
    pairs = list(itertools.combinations(range(len(agents)), 2))
    diffs = np.stack([matrix[:, i] - matrix[:, j] for i, j in pairs], axis=1)
    sums, counts = stats.cluster_sums(cluster, diffs, n_clusters)
    boot = stats.replicate_means(weights, sums, counts)
    est = stats.summarise(sums, counts, boot, level)
    p = stats.bootstrap_p_value(boot)
    valid = np.array([e.n > 0 for e in est])
    adjusted = np.full(len(pairs), np.nan)
    if valid.any():
        adjusted[valid] = stats.holm(p[valid])
    out = []
    for k, (i, j) in enumerate(pairs):
        if not valid[k]:
            continue
        d = Estimate.of(est[k])
        out.append(
            Pair(
                agents[i],
                agents[j],
                metric,
                d.mean,
                d.lo,
                d.hi,
                d.se,
                d.n,
                d.scenarios,
                round(float(p[k]), 6),
                round(float(adjusted[k]), 6),
            )
        )
    return out


def _breakdown(
    df: pd.DataFrame, keys: list[str], agents: list[str], weights: np.ndarray, n: int, level: float
) -> dict[str, dict[str, Estimate]]:
    """Arena Score with CI for each (agent, second key) combination present."""
    combos = sorted({tuple(x) for x in df[keys].drop_duplicates().itertuples(index=False)})
    sums, counts = _grouped(df, keys, ["arena_score"], n, combos)
    est = stats.summarise(sums, counts, stats.replicate_means(weights, sums, counts), level)
    out: dict[str, dict[str, Estimate]] = {a: {} for a in agents}
    for (agent, other), e in zip(combos, est):
        out[agent][other] = Estimate.of(e)
    return out


def power_summary(df: pd.DataFrame, agents: list[str], metric: str = "arena_score") -> PowerSummary:
    """Minimum detectable difference at alpha 0.05 and power 0.8.

    With two or more agents on shared cells it uses their observed paired differences
    (median over pairs). With one agent it assumes a second, independent agent with the
    same variance: SE of a difference = sqrt(2) x the agent's clustered SE (conservative
    when agents' scores correlate, as they usually do on shared cells).
    """
    if len(agents) >= 2:
        wide = _pivot(df, agents, metric)
        scen = wide.index.get_level_values("scenario_id").to_numpy()
        powers = []
        for i, j in itertools.combinations(range(len(agents)), 2):
            d = wide.iloc[:, i].to_numpy() - wide.iloc[:, j].to_numpy()
            if np.sum(~np.isnan(d)) > 2:
                powers.append(stats.power_from_differences(d, scen))
        if powers:
            mid = sorted(powers, key=lambda p: p.mde)[len(powers) // 2]
            return PowerSummary(
                "paired differences (median pair)",
                mid.n_clusters,
                mid.se,
                mid.design_effect,
                mid.mde,
                mid.alpha,
                mid.power,
            )
    sub = df[df["agent"] == agents[0]]
    pw = stats.power_from_differences(sub[metric].to_numpy(), sub["scenario_id"].to_numpy())
    return PowerSummary(
        "one agent; assumes an independent second agent (sqrt 2 x SE)",
        pw.n_clusters,
        float(pw.se * np.sqrt(2)),
        pw.design_effect,
        float(pw.mde * np.sqrt(2)),
        pw.alpha,
        pw.power,
    )


def power_for_run(run: Run) -> PowerSummary:
    """Power of a run's evaluated agents (the model of an evaluation; every player of a tournament)."""
    rows = rows_from_records(run.games)
    agents = run.evaluated_agents()
    return power_summary(rows[rows["agent"].isin(agents)], agents)
