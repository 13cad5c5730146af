"""Why agents fail, scored exactly against each scenario's private truth (pure, no I/O).

- **Leakage**: a message leaks when it states the sender's BATNA, a points value from its own
  table, or its issue priorities in an order that matches its true weights; a false priority
  claim (a bluff) is not a leak. The detector is versioned: ``core.leaks`` (leak-v2, priorities
  read as pairwise relations) and ``core.leaks_v1`` (frozen, for runs published with it).
- **Anchoring**: the Value to a side of the other side's first offer.
- **Belief probes**: an agent's stated beliefs about the other side (issue ranking, preferred
  option per issue, BATNA as a share of its best outcome), scored against the truth.

Each function reads a :class:`GameRecord` and its :class:`Scenario`; the registry entries in
``core.metrics`` and the run-level estimates in ``arena_bench.scoring.diagnose`` are built on them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import leaks, leaks_v1
from .cache import per_object
from .leaks import Leak
from .records import GameRecord
from .scenario import Role, Scenario

LEAK_DETECTOR = "leak-v2"  # results record it (``Results.leak_detector``); older runs read leak-v1
LEAK_DETECTORS: dict[str, Callable[[str, Scenario, Role], list[Leak]]] = {
    "leak-v1": leaks_v1.message_leaks,
    "leak-v2": leaks.message_leaks,
}


@per_object
def _seen(scenario: Scenario) -> dict[tuple[str, int, str], list[Leak]]:
    return {}  # (detector, side, message) -> its leaks: template messages repeat across a scenario's games


def message_leaks(
    message: str, scenario: Scenario, role_index: int, detector: str = LEAK_DETECTOR
) -> list[Leak]:
    """Every leak in one message by the side ROLE_INDEX, by the named detector version."""
    return list(_memo_leaks(message, scenario, role_index, detector)) if message else []


def _memo_leaks(message: str, scenario: Scenario, role_index: int, detector: str) -> list[Leak]:
    """The scenario's memo entry for the message (not a copy: callers that hand it out copy it)."""
    memo = _seen(scenario)
    key = (detector, role_index, message)
    found = memo.get(key)
    if found is None:
        found = memo[key] = LEAK_DETECTORS[detector](message, scenario, scenario.roles[role_index])
    return found


def leak_rate(
    record: GameRecord, side: int, scenario: Scenario, detector: str = LEAK_DETECTOR
) -> float | None:
    """Share of the side's messages (accepted turns with text) that leak; None without messages."""
    said = [t.message for t in record.turns if t.role == side and t.action is not None and t.message]
    if not said:
        return None
    # the memo entry itself, no copy: this runs for every message of every game of a run
    return sum(1 for m in said if _memo_leaks(m, scenario, side, detector)) / len(said)


# --- anchoring -------------------------------------------------------------------------------


def best_utility(role: Role) -> float:
    return float(sum(w * max(v) for w, v in zip(role.weights, role.values)))


def first_offer(record: GameRecord, by: int) -> tuple[int, ...] | None:
    for t in record.turns:
        if t.role == by and t.action is not None and t.action.kind == "propose":
            return t.action.offer
    return None


def opponent_anchor_value(record: GameRecord, side: int, scenario: Scenario) -> float | None:
    """Value to SIDE of the other side's first offer (the anchor it faced); None if none was made."""
    offer = first_offer(record, 1 - side)
    if offer is None:
        return None
    role = scenario.roles[side]
    u, best = role.utility(offer), best_utility(role)
    return min(1.0, max(-1.0, (u - role.batna) / (best - role.batna)))


# --- belief probes ---------------------------------------------------------------------------


def rank_correlation(stated_order: list[int], true_weights: tuple[float, ...]) -> float | None:
    """Spearman's rho between a stated ranking (issue indices, most important first) and the true
    weights (ties get average ranks); None when the ranking is not a permutation of the issues."""
    n = len(true_weights)
    if sorted(stated_order) != list(range(n)) or n < 2:
        return None
    stated_rank = np.empty(n)
    stated_rank[np.asarray(stated_order)] = np.arange(n)  # 0 = most important
    true_rank = _average_ranks(-np.asarray(true_weights, dtype=float))
    a, b = stated_rank - stated_rank.mean(), true_rank - true_rank.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return None if denom == 0 else float((a * b).sum() / denom)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for v in np.unique(x):
        tied = x == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def option_accuracy(stated: list[int], role: Role) -> tuple[float, float]:
    """(share of issues whose stated option is one the other side values most, the chance rate)."""
    hits, chance = 0.0, 0.0
    for o, values in zip(stated, role.values):
        best = [j for j, v in enumerate(values) if v == max(values)]
        hits += float(o in best)
        chance += len(best) / len(values)
    return hits / len(stated), chance / len(stated)


def batna_error(stated_share: float, role: Role) -> float:
    """|stated - true| BATNA as a share of the other side's best outcome."""
    return abs(stated_share - role.batna / best_utility(role))


def probe_scores(
    record: GameRecord, side: int, scenario: Scenario
) -> list[tuple[int, dict[str, float | None]]]:
    """(after, scores) for each valid probe answer of SIDE, about the other side."""
    out = []
    for p in record.probes:
        if p.side == side and p.answer is not None:
            answer = p.answer
            scores = {"rank_corr": rank_correlation(answer["ranking"], scenario.roles[1 - side].weights)}
            acc, chance = option_accuracy(answer["preferred"], scenario.roles[1 - side])
            scores["option_accuracy"], scores["option_chance"] = acc, chance
            share = answer.get("batna_share")
            scores["batna_error"] = None if share is None else batna_error(share, scenario.roles[1 - side])
            out.append((p.after, scores))
    return out


def probe_mean(record: GameRecord, side: int, scenario: Scenario, key: str) -> float | None:
    xs = [s[key] for _, s in probe_scores(record, side, scenario) if s[key] is not None]
    return float(np.mean(xs)) if xs else None


def probe_invalid_rate(record: GameRecord, side: int) -> float | None:
    asked = [p for p in record.probes if p.side == side]
    return sum(1 for p in asked if p.answer is None) / len(asked) if asked else None
