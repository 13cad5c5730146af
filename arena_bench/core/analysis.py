"""Exact outcome-space analysis (SPEC section 1): Pareto frontier, Nash, Kalai-Smorodinsky,
max joint utility, ZOPA and integrative potential.

Everything is computed over the full enumerated outcome space with numpy. Utilities are
rounded to ``DECIMALS`` before comparisons so that two outcomes whose utilities are equal
in exact arithmetic but differ in the last bit (summation order) are treated as equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .scenario import Outcome, Scenario, utility_grid

DECIMALS = 12


@dataclass(frozen=True)
class Point:
    outcome: Outcome
    u: tuple[float, float]


@dataclass(frozen=True)
class Analysis:
    n_outcomes: int
    best: tuple[float, float]  # U_A*, U_B*: best utility each side can get
    batna: tuple[float, float]
    frontier: tuple[Point, ...]  # sorted by u_A descending, then u_B descending
    nash: Point | None  # None when no outcome is individually rational for both
    nash_product: float
    kalai_smorodinsky: Point | None
    max_joint: Point
    zopa: bool  # some outcome strictly better than the BATNA for both sides
    split: Point  # best "split every issue down the middle" outcome (max joint surplus)
    integrative_potential: float


def grids(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(u_A, u_B) for every outcome, rounded to ``DECIMALS``."""
    shape = scenario.shape
    return (
        np.round(utility_grid(scenario.roles[0], shape), DECIMALS),
        np.round(utility_grid(scenario.roles[1], shape), DECIMALS),
    )


def _strictly_dominated_by_supported(ua: np.ndarray, ub: np.ndarray, n_directions: int = 9) -> np.ndarray:
    """Cheap pre-filter: outcomes strictly dominated by one of a few maximisers of
    weighted sums ``l*u_A + (1-l)*u_B``. Anything it drops is certainly dominated, and every
    frontier outcome survives, so the exact sweep on the survivors gives the exact frontier."""
    lam = np.linspace(0.0, 1.0, n_directions)
    refs = np.unique([int(np.argmax(w * ua + (1 - w) * ub)) for w in lam])
    ra, rb = ua[refs], ub[refs]
    order = np.argsort(ra)
    ra, rb = ra[order], rb[order]
    # best u_B among references with u_A strictly above a given u_A (suffix maximum)
    suffix = np.maximum.accumulate(rb[::-1])[::-1]
    suffix = np.append(suffix, -np.inf)
    j = np.searchsorted(ra, ua, side="right")
    return suffix[j] > ub


def pareto_mask(ua: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Boolean mask of outcomes not weakly dominated by any other outcome (see ``_pareto_sweep``)."""
    if len(ua) <= 4096:
        return _pareto_sweep(ua, ub)
    candidates = np.flatnonzero(~_strictly_dominated_by_supported(ua, ub))
    mask = np.zeros(len(ua), dtype=bool)
    mask[candidates[_pareto_sweep(ua[candidates], ub[candidates])]] = True
    return mask


def _pareto_sweep(ua: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Boolean mask of outcomes not weakly dominated by any other outcome.

    o' weakly dominates o when it is at least as good for both and strictly better for one;
    exact duplicates do not dominate each other, so both stay on the frontier.
    One lexicographic sort (u_A descending, u_B descending) and one sweep: an outcome is
    undominated iff it has the highest u_B within its u_A group and that u_B beats every
    u_B seen at a strictly higher u_A.
    """
    order = np.lexsort((-ub, -ua))
    a, b = ua[order], ub[order]
    new_group = np.empty(len(a), dtype=bool)
    new_group[0] = True
    new_group[1:] = a[1:] != a[:-1]
    starts = np.flatnonzero(new_group)
    group_id = np.cumsum(new_group) - 1
    group_max = b[starts][group_id]
    running = np.maximum.accumulate(b)
    before = np.full(len(starts), -np.inf)
    before[1:] = running[starts[1:] - 1]
    keep_sorted = (b == group_max) & (b > before[group_id])
    mask = np.zeros(len(a), dtype=bool)
    mask[order[keep_sorted]] = True
    return mask


def _point(scenario: Scenario, index: int, ua: np.ndarray, ub: np.ndarray) -> Point:
    return Point(scenario.outcome_at(int(index)), (float(ua[index]), float(ub[index])))


def _split_outcomes(shape: tuple[int, ...]) -> np.ndarray:
    """Flat indices of every outcome that takes a middle option on every issue
    (one middle option for an odd count, either of the two for an even count)."""
    middles = [sorted({(n - 1) // 2, n // 2}) for n in shape]
    mesh = np.meshgrid(*middles, indexing="ij")
    return np.ravel_multi_index(tuple(m.ravel() for m in mesh), shape)


def analyse(scenario: Scenario) -> Analysis:
    ua, ub = grids(scenario)
    ba, bb = scenario.roles[0].batna, scenario.roles[1].batna
    best = (float(ua.max()), float(ub.max()))

    mask = pareto_mask(ua, ub)
    idx = np.flatnonzero(mask)
    front_order = idx[np.lexsort((-ub[idx], -ua[idx]))]
    frontier = tuple(_point(scenario, i, ua, ub) for i in front_order)

    ga, gb = ua - ba, ub - bb
    zopa = bool(np.any((ga > 0) & (gb > 0)))
    rational = (ga >= 0) & (gb >= 0)
    if rational.any():
        product = np.where(rational, ga * gb, -np.inf)
        nash_i = int(np.argmax(product))  # first maximiser in outcome order: deterministic ties
        nash = _point(scenario, nash_i, ua, ub)
        nash_product = float(product[nash_i])
        # Kalai-Smorodinsky: the rational frontier outcome maximising the smaller share of
        # each side's possible gain; ties by joint surplus, then outcome order.
        fr = front_order[rational[front_order]]
        share = np.minimum(ga[fr] / (best[0] - ba), gb[fr] / (best[1] - bb))
        joint = ga[fr] + gb[fr]
        ks_i = fr[np.lexsort((fr, -joint, -share))[0]]
        ks = _point(scenario, int(ks_i), ua, ub)
    else:
        nash, nash_product, ks = None, 0.0, None

    joint_all = ua + ub
    mj = _point(scenario, int(np.argmax(joint_all)), ua, ub)
    split_idx = _split_outcomes(scenario.shape)
    split_i = int(split_idx[np.argmax(joint_all[split_idx])])
    split = _point(scenario, split_i, ua, ub)
    integrative = round(float(joint_all.max() - joint_all[split_i]), DECIMALS)

    return Analysis(
        n_outcomes=scenario.n_outcomes,
        best=best,
        batna=(ba, bb),
        frontier=frontier,
        nash=nash,
        nash_product=nash_product,
        kalai_smorodinsky=ks,
        max_joint=mj,
        zopa=zopa,
        split=split,
        integrative_potential=integrative,
    )


# --- JSON form, stored with each scenario in the task files ---------------------------

STORE_DECIMALS = 10  # stored numbers are rounded so files are stable across platforms


def _r(x: float) -> float:
    return round(float(x), STORE_DECIMALS)


def _point_dict(p: Point | None) -> dict[str, Any] | None:
    return None if p is None else {"outcome": list(p.outcome), "u": [_r(p.u[0]), _r(p.u[1])]}


def analysis_to_dict(a: Analysis) -> dict[str, Any]:
    return {
        "n_outcomes": a.n_outcomes,
        "best": [_r(a.best[0]), _r(a.best[1])],
        "zopa": a.zopa,
        "nash": _point_dict(a.nash),
        "nash_product": _r(a.nash_product),
        "kalai_smorodinsky": _point_dict(a.kalai_smorodinsky),
        "max_joint": _point_dict(a.max_joint),
        "split": _point_dict(a.split),
        "integrative_potential": _r(a.integrative_potential),
        "frontier": {
            "outcomes": [list(p.outcome) for p in a.frontier],
            "u": [[_r(p.u[0]), _r(p.u[1])] for p in a.frontier],
        },
    }


def compare_analysis(stored: Mapping[str, Any], fresh: Analysis, tol: float = 1e-8) -> list[str]:
    """Differences between a stored analysis and a recomputed one, each naming the field."""
    problems: list[str] = []
    want = analysis_to_dict(fresh)
    for key, value in want.items():
        if key not in stored:
            problems.append(f"analysis.{key}: missing")
            continue
        if not _close(stored[key], value, tol):
            shown = value if key != "frontier" else f"{len(value['u'])} points"
            got = stored[key] if key != "frontier" else "a different frontier"
            problems.append(f"analysis.{key}: stored {got}, recomputed {shown}")
    return problems


def _close(x: Any, y: Any, tol: float) -> bool:
    if isinstance(x, bool) or isinstance(y, bool) or x is None or y is None:
        return x == y
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return abs(float(x) - float(y)) <= tol
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k], tol) for k in x)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(a, b, tol) for a, b in zip(x, y))
    return x == y
