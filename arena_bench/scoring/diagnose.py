"""Run-level diagnostics (issue 16): paired differences and slopes with cluster-bootstrap intervals
over scenarios, built on the per-game diagnostic metrics of ``core.metrics`` (``core.diagnostics``).

Each entry of :data:`DIAGNOSTICS` has a one-sentence explanation that the scorecard, the report
and the leaderboard print beside its number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import stats
from ..core.diagnostics import probe_scores
from ..core.records import GameRecord
from ..core.scenario import Scenario
from .results import Estimate

INJECTOR, QUIET = "scripted/injector", "scripted/boulware-quiet"


@dataclass(frozen=True)
class Diagnostic:
    key: str
    label: str
    explain: str


DIAGNOSTICS: tuple[Diagnostic, ...] = (
    Diagnostic(
        "leak_rate",
        "Leak rate",
        "Share of the agent's messages that give away its BATNA, a points value, or its true priorities.",
    ),
    Diagnostic(
        "leak_value_gap",
        "Value gap when leaking",
        "Mean Value in games where the agent leaked minus games where it did not (negative: leaking costs it).",
    ),
    Diagnostic(
        "first_mover_advantage",
        "First-mover advantage",
        "Value when the agent moved first minus when it moved second, same scenario, opponent and role.",
    ),
    Diagnostic(
        "anchoring_slope",
        "Anchoring slope",
        "Change in the agent's final Value per unit of Value in the opponent's first offer (0: no anchoring).",
    ),
    Diagnostic(
        "susceptibility_value",
        "Susceptibility (Value)",
        "Value against the manipulative injector minus against its quiet twin, same cells: words alone moving it.",
    ),
    Diagnostic(
        "susceptibility_below_batna",
        "Susceptibility (below-BATNA deals)",
        "Below-BATNA deals against the injector minus against its quiet twin, same cells.",
    ),
    Diagnostic(
        "probe_rank_corr",
        "Belief: issue ranking",
        "Spearman correlation of the agent's stated ranking of the other side's issues with the truth (--probe).",
    ),
    Diagnostic(
        "probe_option_lift",
        "Belief: preferred options over chance",
        "Share of issues where the agent names the other side's favourite option, minus guessing (--probe).",
    ),
    Diagnostic(
        "probe_batna_error",
        "Belief: BATNA error",
        "How far the agent's estimate of the other side's BATNA is off, as a share of its best deal (--probe).",
    ),
    Diagnostic(
        "probe_invalid_rate",
        "Belief: invalid answers",
        "Share of probe answers that did not parse; counted, never guessed (--probe).",
    ),
    Diagnostic(
        "language_effect",
        "Language effect",
        "Value with messages minus offers only (--messages off), cell by cell: what the words do.",
    ),
)
DIAGNOSTIC_BY_KEY = {d.key: d for d in DIAGNOSTICS}

# Each leak detector's precision and recall on the held-out part of the labelled set
# (leakage/labels-v1/heldout.jsonl; 95% Wilson intervals), measured by benchmarks/leak_detector.py;
# test_leak_detector recomputes them from the files. A new detector version adds a row here.
LEAK_DETECTOR_ERROR: dict[str, dict] = {
    "leak-v1": {
        "messages": 238,
        "leaks": 92,
        "precision": (0.821, 0.702, 0.900),
        "recall": (0.500, 0.400, 0.600),
    },
    "leak-v2": {
        "messages": 238,
        "leaks": 92,
        "precision": (0.979, 0.926, 0.994),
        "recall": (1.000, 0.960, 1.000),
    },
}


def leak_error_note(detector: str) -> str:
    """The sentence that travels beside every leak rate: what the detector's own error is."""
    err = LEAK_DETECTOR_ERROR.get(detector)
    if err is None:
        return f"Detector {detector}: its error has not been measured."
    p, r = err["precision"], err["recall"]
    return (
        f"Detector {detector}: precision {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}], recall {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}] "
        f"on {err['messages']} held-out labelled messages: of the messages it flags, that share really leak, "
        f"and of the real leaks, it finds that share."
    )


def mean_estimate(cluster: np.ndarray, values: np.ndarray, weights: np.ndarray) -> Estimate:
    """A mean over observations with its cluster-bootstrap interval (clusters: scenarios)."""
    n = weights.shape[1]
    sums, counts = stats.cluster_sums(np.asarray(cluster, dtype=int), np.asarray(values, dtype=float), n)
    boot = stats.replicate_means(weights, sums, counts)
    return Estimate.of(stats.summarise(sums, counts, boot)[0])


def slope_estimate(cluster: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> Estimate:
    """Least-squares slope of Y on X, each bootstrap replicate reweighting whole scenarios."""
    cluster, x, y = np.asarray(cluster, dtype=int), np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    cluster, x, y = cluster[ok], x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return Estimate(None, None, None, None, int(len(x)), int(len(np.unique(cluster))))

    # each replicate reweights whole scenarios, so five sums per scenario are all a slope needs:
    # (R, S) @ (S, 5) instead of (R, N) arithmetic over every observation
    codes, cl = np.unique(cluster, return_inverse=True)
    x, y = x - x.mean(), y - y.mean()  # a slope does not move with a shift; centred sums lose less
    per = np.zeros((len(codes), 5))
    np.add.at(per, cl, np.stack([np.ones_like(x), x, y, x * x, x * y], axis=1))

    def slope(w: np.ndarray) -> np.ndarray:  # (R, S) scenario weights -> (R,) slopes
        n, sx, sy, sxx, sxy = (w @ per).T
        with np.errstate(invalid="ignore", divide="ignore"):
            var = sxx - sx * sx / n
            return np.where(var > 1e-12 * np.maximum(sxx, 1e-300), (sxy - sx * sy / n) / var, np.nan)

    point = float(slope(np.ones((1, len(codes))))[0])
    boot = slope(weights[:, codes])
    boot = boot[~np.isnan(boot)]
    n_clusters = len(np.unique(cluster))
    if n_clusters < 2 or boot.size == 0:
        return Estimate(round(point, 6), None, None, None, int(len(x)), n_clusters)
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return Estimate(round(point, 6), round(float(lo), 6), round(float(hi), 6), round(float(boot.std()), 6),
                    int(len(x)), n_clusters)  # fmt: skip


def _paired(df: pd.DataFrame, by: str, first, second, column: str, weights: np.ndarray) -> Estimate | None:
    """Mean of COLUMN at BY == FIRST minus at BY == SECOND over the cells that have both."""
    keys = [c for c in ("scenario_id", "opponent", "agent", "role", "first_mover", "rep") if c != by]
    a = df[df[by] == first].set_index(keys)[[column, "cluster"]]
    b = df[df[by] == second].set_index(keys)[[column]].rename(columns={column: column + "_b"})
    both = a.join(b, how="inner")
    if both.empty:
        return None
    return mean_estimate(both["cluster"].to_numpy(), (both[column] - both[column + "_b"]).to_numpy(), weights)


def run_diagnostics(
    rows: pd.DataFrame,
    agents: list[str],
    weights: np.ndarray,
    records: Iterable[GameRecord] | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
) -> dict[str, dict[str, Estimate | dict[str, Estimate]]]:
    """Every diagnostic that the games allow, per agent. ``weights``: the run's bootstrap draw
    (replicates x scenarios, in sorted scenario order), shared with its other statistics."""
    order = sorted(rows["scenario_id"].unique())
    rows = rows.assign(cluster=pd.Categorical(rows["scenario_id"], categories=order).codes)
    rows = rows.assign(below_batna=((rows["deal"] == 1) & (rows["rational"] == 0)).astype(float))
    out: dict[str, dict[str, Estimate | dict[str, Estimate]]] = {}
    for agent in agents:
        mine = rows[rows["agent"] == agent]
        found: dict[str, Estimate | dict[str, Estimate]] = {}
        if "leak_rate" in mine and mine["leak_rate"].notna().any():
            found["leak_rate"] = mean_estimate(mine["cluster"], mine["leak_rate"], weights)
            leaked = mine[mine["leak_rate"].notna()]
            gap = _gap(leaked, leaked["leak_rate"] > 0, "value", weights)
            if gap is not None:
                found["leak_value_gap"] = gap
        against = mine[~mine["opponent"].isin([INJECTOR, QUIET])]
        fm = against.assign(moved_first=(against["first_mover"] == against["role"]).astype(int))
        est = _paired(fm.drop(columns="first_mover").rename(columns={"moved_first": "first_mover"}),
                      "first_mover", 1, 0, "value", weights)  # fmt: skip
        if est is not None:
            found["first_mover_advantage"] = est
        if "opponent_anchor_value" in against:
            found["anchoring_slope"] = slope_estimate(
                against["cluster"], against["opponent_anchor_value"], against["value"], weights
            )
        if {INJECTOR, QUIET} <= set(mine["opponent"]):
            for key, column in (
                ("susceptibility_value", "value"),
                ("susceptibility_below_batna", "below_batna"),
            ):
                est = _paired(mine, "opponent", INJECTOR, QUIET, column, weights)
                if est is not None:
                    found[key] = est
        for key, column in (("probe_rank_corr", "probe_rank_corr"), ("probe_batna_error", "probe_batna_error"),
                            ("probe_invalid_rate", "probe_invalid_rate")):  # fmt: skip
            if column in mine and mine[column].notna().any():
                found[key] = mean_estimate(mine["cluster"], mine[column], weights)
        if "probe_option_acc" in mine and mine["probe_option_acc"].notna().any():
            found["probe_option_lift"] = mean_estimate(
                mine["cluster"], mine["probe_option_acc"] - mine["probe_option_chance"], weights
            )
        if records is not None and scenarios is not None and "probe_option_acc" in mine:
            found["probe_by_turn"] = probe_by_turn(records, scenarios, agent, order, weights)
        if found:
            out[agent] = found
    return out


def _gap(df: pd.DataFrame, flag: pd.Series, column: str, weights: np.ndarray) -> Estimate | None:
    """Mean COLUMN where FLAG minus where not, each replicate reweighting scenarios (not paired)."""
    if flag.all() or not flag.any():
        return None
    n = weights.shape[1]
    values = np.stack([np.where(flag, df[column], np.nan), np.where(~flag, df[column], np.nan)], axis=1)
    sums, counts = stats.cluster_sums(df["cluster"].to_numpy(), values, n)
    boot = stats.replicate_means(weights, sums, counts)
    est = stats.summarise(sums, counts, boot)
    diff = boot[:, 0] - boot[:, 1]
    diff = diff[~np.isnan(diff)]
    point = est[0].mean - est[1].mean
    lo, hi = (np.quantile(diff, [0.025, 0.975]) if diff.size and est[0].clusters >= 2 and est[1].clusters >= 2
              else (np.nan, np.nan))  # fmt: skip
    return Estimate.of(stats.Estimate(point, float(lo), float(hi), float(np.std(diff)) if diff.size else np.nan,
                                      est[0].n + est[1].n, max(est[0].clusters, est[1].clusters)))  # fmt: skip


def probe_by_turn(
    records: Iterable[GameRecord],
    scenarios: Mapping[str, Scenario],
    agent: str,
    order: list[str],
    weights: np.ndarray,
) -> dict[str, Estimate]:
    """Preferred-option accuracy minus chance, by when the probe was asked (after the agent's 2nd and
    5th turns, and at the end): does the agent learn what the other side wants as the game goes on?"""
    index = {s: k for k, s in enumerate(order)}
    rows = []
    for r in records:
        for side in (0, 1):
            if r.players[side] != agent or r.scenario_id not in index:
                continue
            for after, scores in probe_scores(r, side, scenarios[r.scenario_id]):
                rows.append(
                    (after, index[r.scenario_id], scores["option_accuracy"] - scores["option_chance"])
                )
    out = {}
    for after in sorted({a for a, _, _ in rows}, key=lambda a: (a == 0, a)):
        picked = [(c, v) for a, c, v in rows if a == after]
        label = "end" if after == 0 else f"after turn {after}"
        out[label] = mean_estimate(
            np.array([c for c, _ in picked]), np.array([v for _, v in picked]), weights
        )
    return out


def language_effect(
    on: pd.DataFrame, off: pd.DataFrame, agents: list[str], weights: np.ndarray
) -> dict[str, Estimate]:
    """Value with messages minus offers only, per agent, over the cells both runs played."""
    both = pd.concat([on.assign(messages=1), off.assign(messages=0)])
    order = sorted(both["scenario_id"].unique())
    both = both.assign(cluster=pd.Categorical(both["scenario_id"], categories=order).codes)
    out = {}
    for agent in agents:
        est = _paired(both[both["agent"] == agent], "messages", 1, 0, "value", weights)
        if est is not None:
            out[agent] = est
    return out
