"""Statistics of SPEC section 6, pure and vectorised.

The unit of resampling is the scenario (games of one scenario are correlated). Every
estimator works from per-scenario sums and counts, so one (B x S) matrix of bootstrap
counts serves every metric, agent and pair at once: a replicate mean is
``(W @ sums) / (W @ counts)``. Missing values (NaN) are left out of both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_B = 2000
DEFAULT_SEED = 20261126
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float
    hi: float
    se: float  # clustered standard error
    n: int  # observations (games)
    clusters: int  # scenarios with at least one observation


def bootstrap_counts(n_clusters: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """(B, S) counts: how often each scenario is drawn in each replicate."""
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=b).astype(np.float64)


def cluster_sums(cluster: np.ndarray, values: np.ndarray, n_clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts of each column of ``values`` (N, K), NaN left out."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    present = ~np.isnan(values)
    sums = np.zeros((n_clusters, values.shape[1]))
    counts = np.zeros((n_clusters, values.shape[1]))
    np.add.at(sums, cluster, np.where(present, values, 0.0))
    np.add.at(counts, cluster, present.astype(float))
    return sums, counts


def replicate_means(weights: np.ndarray, sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(B, K) bootstrap means; NaN where a replicate drew no observation of a column.

    Replicates are spread by sqrt(G / (G - 1)) around the point estimate (G: scenarios
    observed), then kept within the range of the scenario means. The plain cluster bootstrap
    estimates the variance with a divisor of G rather than G - 1 and so under-covers with few scenarios (about 93% at G = 35-60 in our
    simulations); the factor is the usual small-sample correction, negligible for large G.
    """
    num = weights @ sums
    den = weights @ counts
    with np.errstate(invalid="ignore", divide="ignore"):
        boot = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        point = sums.sum(axis=0) / counts.sum(axis=0)
    g = (counts > 0).sum(axis=0)
    factor = np.sqrt(g / np.maximum(g - 1, 1))
    # A resampled mean cannot leave the range of the scenario means; the spread must not push it
    # out either (it would put a rate's interval above 1 with few scenarios).
    with np.errstate(invalid="ignore", divide="ignore"):
        cluster_means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)
    low = np.nanmin(np.where(np.isnan(cluster_means), np.inf, cluster_means), axis=0)
    high = np.nanmax(np.where(np.isnan(cluster_means), -np.inf, cluster_means), axis=0)
    return np.clip(point + factor * (boot - point), low, high)


def clustered_se(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cluster-robust standard error of a mean (a ratio of sums), per column."""
    n = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums.sum(axis=0) / n
        resid = sums - mean * counts
        g = (counts > 0).sum(axis=0)
        var = g / np.maximum(g - 1, 1) * (resid**2).sum(axis=0) / n**2
    return np.sqrt(var)


def summarise(sums: np.ndarray, counts: np.ndarray, boot: np.ndarray, level: float = LEVEL) -> list[Estimate]:
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums.sum(axis=0) / counts.sum(axis=0)
    lo = np.full(sums.shape[1], np.nan)
    hi = np.full(sums.shape[1], np.nan)
    # An interval over fewer than two scenarios would be a single point: report none.
    observed = (~np.isnan(boot).all(axis=0) if boot.size else np.zeros(sums.shape[1], dtype=bool)) & (
        (counts > 0).sum(axis=0) >= 2
    )
    if observed.any():  # a column never observed (e.g. no deals: no Pareto rate) keeps NaN
        lo[observed] = np.nanquantile(boot[:, observed], alpha, axis=0)
        hi[observed] = np.nanquantile(boot[:, observed], 1 - alpha, axis=0)
    se = np.where((counts > 0).sum(axis=0) >= 2, clustered_se(sums, counts), np.nan)
    return [
        Estimate(
            float(means[k]),
            float(lo[k]),
            float(hi[k]),
            float(se[k]),
            int(counts[:, k].sum()),
            int((counts[:, k] > 0).sum()),
        )
        for k in range(sums.shape[1])
    ]


def cluster_bootstrap(
    values: np.ndarray,
    cluster: np.ndarray,
    b: int = DEFAULT_B,
    seed: int = DEFAULT_SEED,
    level: float = LEVEL,
) -> list[Estimate]:
    """Mean and percentile cluster-bootstrap interval of each column of ``values``."""
    cluster = np.asarray(cluster)
    _, idx = np.unique(cluster, return_inverse=True)
    n_clusters = int(idx.max()) + 1 if len(idx) else 0
    sums, counts = cluster_sums(idx, values, n_clusters)
    weights = bootstrap_counts(n_clusters, b, np.random.default_rng(seed))
    return summarise(sums, counts, replicate_means(weights, sums, counts), level)


def bootstrap_p_value(boot: np.ndarray) -> np.ndarray:
    """Two-sided percentile-bootstrap p-value for "mean difference = 0", per column.

    Twice the smaller tail share of replicates on either side of zero (the test that the
    percentile interval inverts), with the usual +1 correction so it is never exactly 0.
    """
    valid = ~np.isnan(boot)
    b = valid.sum(axis=0)
    below = ((boot <= 0) & valid).sum(axis=0)
    above = ((boot >= 0) & valid).sum(axis=0)
    p = 2 * (np.minimum(below, above) + 1) / (b + 1)
    return np.minimum(p, 1.0)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        adjusted[i] = min(1.0, running)
    return adjusted


def competition_ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest, exact ties share the best rank ("1224"), along the last axis; NaN ranks last."""
    filled = np.where(np.isnan(values), -np.inf, values)
    return (filled[..., None, :] > filled[..., :, None]).sum(axis=-1) + 1


def rank_intervals(boot: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """2.5 and 97.5 percentiles of each column's rank (1 = highest mean) across replicates.

    Exact ties share a rank in every replicate, so agents with identical scores get identical
    intervals instead of an order made up by their position.
    """
    ranks = competition_ranks(boot)
    alpha = (1 - level) / 2
    return (
        np.quantile(ranks, alpha, axis=0, method="lower"),
        np.quantile(ranks, 1 - alpha, axis=0, method="higher"),
    )


@dataclass(frozen=True)
class Power:
    n_clusters: int
    se: float  # clustered SE of the paired mean difference now
    design_effect: float  # clustered variance over the variance if games were independent
    mde: float  # minimum detectable difference now (two-sided alpha, given power)
    alpha: float
    power: float

    def clusters_needed(self, effect: float) -> int:
        """Scenarios needed to detect ``effect`` (SE shrinks with the square root of scenarios)."""
        if effect <= 0:
            raise ValueError("effect must be positive")
        return int(np.ceil(self.n_clusters * (self.mde / effect) ** 2))


# norm.ppf(0.975) + norm.ppf(0.8) as scipy computes it, so the usual case does not import
# scipy.stats (0.7 s of every run's start); a test checks it against scipy
_Z_DEFAULT = {(0.05, 0.8): 2.8015852181129683}


def _z_sum(alpha: float, power: float) -> float:
    if (alpha, power) in _Z_DEFAULT:
        return _Z_DEFAULT[(alpha, power)]
    from scipy import stats as sps  # heavy: imported only for a non-default level or power

    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def power_from_differences(
    diffs: np.ndarray, cluster: np.ndarray, alpha: float = 0.05, power: float = 0.8
) -> Power:
    """Power analysis from paired per-cell differences clustered by scenario."""
    diffs = np.asarray(diffs, dtype=float)
    keep = ~np.isnan(diffs)
    diffs, cluster = diffs[keep], np.asarray(cluster)[keep]
    _, idx = np.unique(cluster, return_inverse=True)
    g = int(idx.max()) + 1
    sums, counts = cluster_sums(idx, diffs, g)
    se = (
        float(clustered_se(sums, counts)[0]) if g >= 2 else float("nan")
    )  # one scenario: no variance estimate
    iid = float(np.std(diffs, ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else float("nan")
    deff = (se / iid) ** 2 if iid > 0 else float("nan")
    z = _z_sum(alpha, power)
    return Power(g, se, deff, float(z * se), alpha, power)
