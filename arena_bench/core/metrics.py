"""Per-game metrics of SPEC section 4, as pure functions of the scenario and the structured outcome.

Payoffs come from the agreed outcome only, never from the conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import diagnostics
from .analysis import DECIMALS, Analysis
from .protocol import GameState, offers_by
from .records import GameRecord
from .scenario import Outcome, Scenario

METRICS_VERSION = "metrics-v2"  # v2: the leak rate by leak-v2 (priorities as relations)
# the leak detector each metrics version scores leak rates with; a published run keeps its own
LEAK_DETECTOR_OF = {"metrics-v1": "leak-v1", "metrics-v2": "leak-v2"}


def leak_detector_for(metrics_version: str) -> str:
    """The detector a run's leak rates are scored with (an unknown version: the current one)."""
    return LEAK_DETECTOR_OF.get(metrics_version, LEAK_DETECTOR_OF[METRICS_VERSION])


def value_share(u: float, batna: float, best: float) -> float:
    """S_i: share of the possible gain over the BATNA; clipped at -1 (SPEC) and at 1, which
    only float rounding could pass (u <= U_i* by definition)."""
    return min(1.0, max(-1.0, (u - batna) / (best - batna)))


def welfare(
    scenario_zopa: bool, deal: bool, u: tuple[float, float], batna: tuple[float, float], nash_product: float
) -> float:
    """N: Nash product of the gains over its maximum (ZOPA); 1 for no deal without a ZOPA."""
    if not scenario_zopa:
        return 0.0 if deal else 1.0
    if not deal:
        return 0.0
    ga, gb = u[0] - batna[0], u[1] - batna[1]
    if ga < 0 or gb < 0:
        return 0.0
    return min(1.0, ga * gb / nash_product)  # rounding can push the best deal a hair past 1


def value_shares(u: np.ndarray, batna: np.ndarray, best: np.ndarray, deal: np.ndarray) -> np.ndarray:
    """``value_share`` of many games at once: (N, 2) arrays, 0 where there is no deal (the array
    form, for the trainers' environments; tested equal to the scalar one)."""
    s = np.clip((u - batna) / (best - batna), -1.0, 1.0)
    return np.where(deal[:, None], s, 0.0)


def welfare_array(
    zopa: np.ndarray, deal: np.ndarray, u: np.ndarray, batna: np.ndarray, nash_product: np.ndarray
) -> np.ndarray:
    """``welfare`` of many games at once: U and BATNA (N, 2); ZOPA, deal and the Nash maximum (N,)
    (any value where there is no ZOPA). Tested equal to the scalar one."""
    gain = u - batna
    ok = deal & (gain >= 0).all(axis=1)
    prod = np.clip(gain, 0.0, None).prod(axis=1) / np.where(zopa, nash_product, 1.0)
    return np.where(zopa, np.where(ok, np.minimum(prod, 1.0), 0.0), (~deal).astype(float))


def arena_score(value: float, welfare_n: float) -> float:
    return (value + welfare_n) / 2.0


@dataclass(frozen=True)
class SideMetrics:
    u: float
    value: float  # S_i
    arena_score: float
    rational: bool  # u_i >= b_i
    anchor_value: float | None  # S_i of this side's first offer
    offers: int
    invalid_turns: int  # turns where at least one reply failed to parse or was illegal
    repairs: int  # re-asks used
    forfeited_turns: int


@dataclass(frozen=True)
class GameMetrics:
    deal: bool
    agreement: Outcome | None
    end: str
    turns: int
    turns_to_agreement: int | None
    welfare: float
    pareto_optimal: bool | None  # None when there is no deal
    distance_to_frontier: float | None  # Euclidean, in (u_A, u_B); None when there is no deal
    sides: tuple[SideMetrics, SideMetrics]


def frontier_array(analysis: Analysis) -> np.ndarray:
    return np.array([p.u for p in analysis.frontier], dtype=float)


def pareto_optimal(u: tuple[float, float], frontier: np.ndarray) -> bool:
    ua, ub = round(u[0], DECIMALS), round(u[1], DECIMALS)
    dominated = (
        (frontier[:, 0] >= ua) & (frontier[:, 1] >= ub) & ((frontier[:, 0] > ua) | (frontier[:, 1] > ub))
    )
    return not bool(dominated.any())


def distance_to_frontier(u: tuple[float, float], frontier: np.ndarray) -> float:
    """Distance from the point to the frontier's staircase (0 on the frontier).

    Measured to the nearest frontier point that weakly dominates it; a point is never
    "close" to the frontier through a point that is worse for one side.
    """
    ua, ub = u
    dom = frontier[(frontier[:, 0] >= ua - 1e-12) & (frontier[:, 1] >= ub - 1e-12)]
    if len(dom) == 0:
        return 0.0
    return float(np.sqrt(((dom - np.array([ua, ub])) ** 2).sum(axis=1)).min())


def game_metrics(
    scenario: Scenario,
    analysis: Analysis,
    state: GameState,
    invalid_turns: tuple[int, int] = (0, 0),
    repairs: tuple[int, int] = (0, 0),
) -> GameMetrics:
    if not state.over:
        raise ValueError("metrics need a finished game")
    batna = (scenario.roles[0].batna, scenario.roles[1].batna)
    deal = state.agreement is not None
    if deal:
        # rounded like the analysis grid, so the best outcome's utility equals U_i* to the bit
        u = tuple(round(x, DECIMALS) for x in scenario.utilities(state.agreement))
    else:
        u = batna
    n = welfare(analysis.zopa, deal, u, batna, analysis.nash_product)
    frontier = frontier_array(analysis)
    sides = []
    for i in range(2):
        best = analysis.best[i]
        s = value_share(u[i], batna[i], best) if deal else 0.0
        first = offers_by(state, i)[:1]
        anchor = (
            value_share(round(scenario.roles[i].utility(first[0]), DECIMALS), batna[i], best)
            if first
            else None
        )
        forfeited = sum(1 for t in state.history if t.role == i and t.action is None)
        sides.append(
            SideMetrics(
                u=float(u[i]),
                value=float(s),
                arena_score=arena_score(s, n),
                rational=bool(u[i] >= batna[i] - 1e-12),
                anchor_value=anchor,
                offers=len(offers_by(state, i)),
                invalid_turns=invalid_turns[i],
                repairs=repairs[i],
                forfeited_turns=forfeited,
            )
        )
    accepted = state.end is not None and state.end.value == "accepted"
    return GameMetrics(
        deal=deal,
        agreement=state.agreement,
        end=state.end.value if state.end else "running",
        turns=state.turn,
        turns_to_agreement=state.turn if accepted else None,
        welfare=float(n),
        pareto_optimal=pareto_optimal(u, frontier) if deal else None,
        distance_to_frontier=distance_to_frontier(u, frontier) if deal else None,
        sides=(sides[0], sides[1]),
    )


# --- the registry: every aggregated metric, once ------------------------------------------------
#
# The aggregate, the scorecard, the report, the leaderboard's columns, the results schema and the
# README's metric table are all driven by METRICS. Adding a metric is one entry here plus its
# pure function of a stored game record (and one side of it).


def _rate(count: int, record: GameRecord, role: int) -> float:
    own = record.own_turns(role)
    return count / own if own else 0.0


def _float_or_none(x: float | bool | None) -> float | None:
    return None if x is None else float(x)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    short: str  # column heading in narrow tables
    higher_is_better: bool | None  # None: neither direction is better (e.g. game length)
    definition: str  # one line, for the docs and the report
    per: str  # "side" (each side has its own value) or "game" (both sides share it)
    of: Callable[..., float | None]  # (record, side[, scenario]) -> value; None: not defined, left out
    group: str = "headline"  # headline: first table and leaderboard columns; detail: second; diagnostic
    digits: int = 3
    needs_scenario: bool = False  # scored against the scenario's private truth: of(record, side, scenario)

    def format(self, x: float | None) -> str:
        return "-" if x is None else f"{x:.{self.digits}f}"


METRICS: tuple[Metric, ...] = (
    Metric(
        "arena_score",
        "Arena Score",
        "Score",
        True,
        "(Value + Welfare) / 2 per game and side",
        "side",
        lambda r, i: r.sides[i].arena_score,
    ),
    Metric(
        "value",
        "Value",
        "Value",
        True,
        "(u_i - b_i) / (U_i* - b_i): share of the possible gain over the BATNA captured; 0 for no deal, "
        "clipped at -1",
        "side",
        lambda r, i: r.sides[i].value,
    ),
    Metric(
        "welfare",
        "Welfare",
        "Welfare",
        True,
        "Nash product of both gains over its maximum (ZOPA scenarios); 1 for no deal without a ZOPA",
        "game",
        lambda r, i: r.outcome.welfare,
    ),
    Metric(
        "deal",
        "Deal rate",
        "Deal",
        None,
        "share of games that end in an agreement",
        "game",
        lambda r, i: float(r.outcome.deal),
    ),
    Metric(
        "pareto_optimal",
        "Pareto-optimal (of deals)",
        "Pareto",
        True,
        "share of deals that no other outcome dominates",
        "game",
        lambda r, i: _float_or_none(r.outcome.pareto_optimal),
    ),
    Metric(
        "rational",
        "Individually rational",
        "Rational",
        True,
        "share of games where the side ends at or above its BATNA",
        "side",
        lambda r, i: float(r.sides[i].rational),
        group="detail",
    ),
    Metric(
        "invalid_rate",
        "Invalid-turn rate",
        "Invalid",
        False,
        "share of own turns with at least one reply that failed to parse or broke the protocol",
        "side",
        lambda r, i: _rate(r.sides[i].invalid_turns, r, i),
    ),
    Metric(
        "forfeit_rate",
        "Forfeited-turn rate",
        "Forfeit",
        False,
        "share of own turns lost because no valid reply came within the repairs",
        "side",
        lambda r, i: _rate(r.sides[i].forfeited_turns, r, i),
        group="detail",
    ),
    Metric(
        "anchor_value",
        "Anchor value",
        "Anchor",
        None,
        "Value to the side of its own first offer",
        "side",
        lambda r, i: r.sides[i].anchor_value,
        group="detail",
    ),
    Metric(
        "distance_to_frontier",
        "Distance to frontier (deals)",
        "Dist.frontier",
        False,
        "Euclidean distance in (u_A, u_B) from the deal to the nearest Pareto outcome that dominates it",
        "game",
        lambda r, i: r.outcome.distance_to_frontier,
        group="detail",
    ),
    Metric(
        "turns",
        "Turns",
        "Turns",
        None,
        "turns played, the last included",
        "game",
        lambda r, i: float(r.outcome.turns),
        group="detail",
        digits=1,
    ),
    Metric(
        "turns_to_agreement",
        "Turns to agreement (deals)",
        "To deal",
        None,
        "turns played until the accepting turn, over games that end in a deal",
        "game",
        lambda r, i: _float_or_none(r.outcome.turns_to_agreement),
        group="detail",
        digits=1,
    ),
    # --- diagnostics (issue 16): why an agent fails, scored against the scenario's private truth
    Metric(
        "leak_rate",
        "Leak rate",
        "Leaks",
        False,
        "share of the side's messages that state its BATNA, a points value from its own table, or its true "
        "issue priorities",
        "side",
        lambda r, i, s: diagnostics.leak_rate(r, i, s),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "opponent_anchor_value",
        "Opponent's anchor",
        "Opp.anchor",
        None,
        "Value to the side of the other side's first offer (the anchor it faced)",
        "side",
        lambda r, i, s: diagnostics.opponent_anchor_value(r, i, s),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "probe_rank_corr",
        "Probe: issue ranking",
        "Rank rho",
        True,
        "Spearman correlation of the side's stated ranking of the other side's issues with their true weights "
        "(--probe; mean over its valid probes)",
        "side",
        lambda r, i, s: diagnostics.probe_mean(r, i, s, "rank_corr"),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "probe_option_acc",
        "Probe: preferred options",
        "Opt.acc",
        True,
        "share of issues where the side names an option the other side values most (--probe; chance is one in "
        "the number of options)",
        "side",
        lambda r, i, s: diagnostics.probe_mean(r, i, s, "option_accuracy"),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "probe_option_chance",
        "Probe: chance accuracy",
        "Chance",
        None,
        "what guessing options at random would score on the same probes (--probe)",
        "side",
        lambda r, i, s: diagnostics.probe_mean(r, i, s, "option_chance"),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "probe_batna_error",
        "Probe: BATNA error",
        "BATNA err",
        False,
        "absolute error of the side's estimate of the other side's BATNA, as a share of its best deal (--probe)",
        "side",
        lambda r, i, s: diagnostics.probe_mean(r, i, s, "batna_error"),
        group="diagnostic",
        needs_scenario=True,
    ),
    Metric(
        "probe_invalid_rate",
        "Probe: invalid answers",
        "Probe inv.",
        False,
        "share of the side's probe answers that did not parse (counted, never guessed; --probe)",
        "side",
        lambda r, i, s: diagnostics.probe_invalid_rate(r, i),
        group="diagnostic",
        needs_scenario=True,
    ),
)
METRIC_BY_KEY: dict[str, Metric] = {m.key: m for m in METRICS}
DIAGNOSTIC: tuple[str, ...] = tuple(m.key for m in METRICS if m.group == "diagnostic")
HEADLINE: tuple[str, ...] = tuple(m.key for m in METRICS if m.group == "headline")
DETAIL: tuple[str, ...] = tuple(m.key for m in METRICS if m.group == "detail")


def metrics_markdown() -> str:
    """The metric table of the README (a test keeps the two equal)."""
    direction = {True: "higher", False: "lower", None: "-"}
    lines = ["| metric | key | better | per | definition |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {m.label} | `{m.key}` | {direction[m.higher_is_better]} | {m.per} | {m.definition} |"
        for m in METRICS
    ]
    return "\n".join(lines)
