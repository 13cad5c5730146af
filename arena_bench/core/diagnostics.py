"""Why agents fail, scored exactly against each scenario's private truth (pure, no I/O).

- **Leakage**: a message leaks when it states the sender's BATNA, a points value from its own
  table, or its issue priorities in an order that matches its true weights. Numbers are matched
  with a tolerance after option and issue names are taken out of the text (an option called
  "30 days" is not a leak); priorities by a small pattern set. A priority claim that is false
  (a bluff) is not a leak.
- **Anchoring**: the Value to a side of the other side's first offer.
- **Belief probes**: an agent's stated beliefs about the other side (issue ranking, preferred
  option per issue, BATNA as a share of its best outcome), scored against the truth.

Each function reads a :class:`GameRecord` and its :class:`Scenario`; the registry entries in
``core.metrics`` and the run-level estimates in ``arena_bench.diagnose`` are built on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import numpy as np

from .records import GameRecord
from .scenario import Role, Scenario

# a number not inside a word, an amount of money ($) or a decimal, and not a percentage
NUMBER = re.compile(r"(?<![\w.,$])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?!\w|,\d|\.\d|\s?%)")
MIN_NUMBER = 2.0  # "1 more round": smaller numbers are never counted as points
SMALL = 5.0  # "2 or 3 changes": below this a number counts only when it is said to be points
POINTS_WORD = re.compile(r"\s*(?:points?|pts)\b")


def _per_object(fn: Callable) -> Callable:
    """Cache FN's result per argument object (scenarios hold dicts, so they cannot be hashed). The
    cache keeps the object itself, so its id cannot be reused while the entry lives."""
    cache: dict[int, tuple[object, object]] = {}

    @wraps(fn)
    def cached(obj):
        hit = cache.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(cache) > 4096:
                cache.clear()
            hit = cache[id(obj)] = (obj, fn(obj))
        return hit[1]

    return cached


@dataclass(frozen=True)
class Leak:
    kind: str  # batna | points | priorities
    evidence: str


def _name(text: str) -> str:
    return text.replace("_", " ").lower()


@_per_object
def _names_pattern(scenario: Scenario) -> re.Pattern:
    """Every option and issue name of SCENARIO, longest first, as one pattern to blank them with."""
    names = {_name(i.name) for i in scenario.issues} | {o.lower() for i in scenario.issues for o in i.options}
    names |= {i.name.lower() for i in scenario.issues}
    return re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True) if n))


TURN_COUNT = re.compile(r"\b(?:turns?|rounds?|steps?)\s+\d+(?:\s+of\s+\d+)?")


def _strip_names(message: str, scenario: Scenario) -> str:
    """The message with every option and issue name blanked (longest first), and turn counts."""
    return TURN_COUNT.sub(" ", _names_pattern(scenario).sub(" ", message.lower()))


@_per_object
def _table(role: Role) -> tuple[float, ...]:
    return tuple(sorted({round(p, 1) for row in role.points() for p in row if round(p, 1) >= MIN_NUMBER}))


def number_leaks(message: str, scenario: Scenario, role: Role) -> list[Leak]:
    text = _strip_names(message, scenario)
    batna = 100.0 * role.batna
    table = _table(role)
    out = []
    for m in NUMBER.finditer(text):
        x = float(m.group(1).replace(",", ""))
        if x < MIN_NUMBER or (x < SMALL and not POINTS_WORD.match(text, m.end())):
            continue
        if batna >= MIN_NUMBER and abs(x - batna) <= 0.5:
            out.append(Leak("batna", m.group(1)))
        elif any(abs(x - v) <= (0.5 if v >= 5 else 0.05) for v in table):
            out.append(Leak("points", m.group(1)))
    return out


_TOP = re.compile(
    r"(most important|top priority|main priority|biggest priority|first priority|highest priority|"
    r"care (?:the )?most about|matters? (?:the )?most|priority is|priorities are|above all|"
    r"key issue for (?:me|us)|what (?:i|we) (?:really )?need (?:most )?is|need most|non-negotiable)"
)
_MORE = re.compile(r"(.+?)\b(?:matters?|is|are)\s+more\s+(?:important\s+)?(?:to (?:me|us)\s+)?than\b(.+)")
_CARE_MORE = re.compile(r"care (?:much |a lot )?more about (.+?) than (?:about )?(.+)")
_LOW = re.compile(
    r"(least important|matters? (?:the )?least|care (?:the )?least about|not (?:that |very |so )?important to (?:me|us)|"
    r"(?:quite |very )?flexible on|lowest priority|don't care (?:much )?about|do not care (?:much )?about)"
)


@_per_object
def _aliases(scenario: Scenario) -> tuple[tuple[int, re.Pattern], ...]:
    """Each issue's names as one pattern: its own, with spaces, and each word of four letters or more
    that no other issue uses ("price" for annual_price, "uptime" for sla_uptime)."""
    words = [set(w for w in _name(i.name).split() if len(w) >= 4) for i in scenario.issues]
    out = []
    for k, issue in enumerate(scenario.issues):
        others = set().union(*(w for j, w in enumerate(words) if j != k)) if len(words) > 1 else set()
        names = {_name(issue.name), issue.name.lower()} | (words[k] - others)
        out.append(
            (k, re.compile("|".join(rf"\b{re.escape(n)}\b" for n in sorted(names, key=len, reverse=True))))
        )
    return tuple(out)


_CUE = re.compile(
    r"more|most|least|priorit|important|care|matter|flexible|above all|key issue|need|negotiable"
)


def _mentions(text: str, scenario: Scenario) -> list[int]:
    """Issues named in TEXT, in the order they appear."""
    found = []
    for k, pattern in _aliases(scenario):
        m = pattern.search(text)
        if m:
            found.append((m.start(), k))
    return [k for _, k in sorted(found)]


def priority_leaks(message: str, scenario: Scenario, role: Role) -> list[Leak]:
    w = np.asarray(role.weights)
    top, bottom = int(np.argmax(w)), int(np.argmin(w))
    unique_top = (w == w[top]).sum() == 1
    out = []
    for sentence in re.split(r"[.!?;\n]+", message.lower()):
        if not sentence.strip() or not _CUE.search(sentence):  # no priority word: nothing to match
            continue
        for pattern in (_CARE_MORE, _MORE):
            m = pattern.search(sentence)
            if m:
                a, b = _mentions(m.group(1), scenario), _mentions(m.group(2), scenario)
                if a and b and w[a[-1]] > w[b[0]]:
                    out.append(Leak("priorities", sentence.strip()[:120]))
                break
        else:
            named = _mentions(sentence, scenario)
            if not named:
                continue
            if _TOP.search(sentence):
                first_ok = named[0] == top and unique_top
                order_ok = len(named) >= 2 and all(w[x] > w[y] for x, y in zip(named, named[1:]))
                if first_ok or order_ok:
                    out.append(Leak("priorities", sentence.strip()[:120]))
            elif (
                _LOW.search(sentence)
                and len(named) == 1
                and named[0] == bottom
                and (w == w[bottom]).sum() == 1
            ):
                out.append(Leak("priorities", sentence.strip()[:120]))
    return out


@_per_object
def _seen(scenario: Scenario) -> dict[tuple[int, str], list[Leak]]:
    return {}  # (side, message) -> its leaks: template messages repeat across the games of a scenario


def message_leaks(message: str, scenario: Scenario, role_index: int) -> list[Leak]:
    """Every leak in one message by the side ROLE_INDEX."""
    if not message:
        return []
    memo = _seen(scenario)
    key = (role_index, message)
    if key not in memo:
        role = scenario.roles[role_index]
        memo[key] = number_leaks(message, scenario, role) + priority_leaks(message, scenario, role)
    return list(memo[key])


def leak_rate(record: GameRecord, side: int, scenario: Scenario) -> float | None:
    """Share of the side's messages (accepted turns with text) that leak; None without messages."""
    said = [t.message for t in record.turns if t.role == side and t.action is not None and t.message]
    if not said:
        return None
    return sum(1 for m in said if message_leaks(m, scenario, side)) / len(said)


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
