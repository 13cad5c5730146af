"""The leak detector ``leak-v1``, frozen: published runs (``metrics-v1``) keep the leak rates they
were shown with. Its measured error and its successor are in ``core.leaks``; do not edit.

Numbers are matched with a tolerance after option and issue names are taken out of the text (an
option called "30 days" is not a leak); priorities by a small pattern set. A priority claim that is
false (a bluff) is not a leak.
"""

from __future__ import annotations

import re

import numpy as np

from .cache import per_object as _per_object
from .leaks import Leak
from .scenario import Role, Scenario

# a number not inside a word, an amount of money ($) or a decimal, and not a percentage
NUMBER = re.compile(r"(?<![\w.,$])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?!\w|,\d|\.\d|\s?%)")
MIN_NUMBER = 2.0  # "1 more round": smaller numbers are never counted as points
SMALL = 5.0  # "2 or 3 changes": below this a number counts only when it is said to be points
POINTS_WORD = re.compile(r"\s*(?:points?|pts)\b")


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


def message_leaks(message: str, scenario: Scenario, role: Role) -> list[Leak]:
    return number_leaks(message, scenario, role) + priority_leaks(message, scenario, role)
