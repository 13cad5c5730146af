"""The leak detector ``leak-v2`` (pure, no I/O).

A message leaks when it states the sender's BATNA, a points value from its own table, or its issue
priorities in an order that matches its true weights (the SPEC's definition).

- **Numbers**: a number is matched against the sender's table and BATNA with a tolerance, after
  every issue and option name is taken out of the text in its common variants ("5 year", "5-year"
  and "5 Years" for the option "5 years"; "10 percent" for "10%"; "$1 million" for "$1M"; "$60k"
  for "$60,000"), and after counters ("turn 5", "proposal 3", "offer #2").
- **Priorities** are read as pairwise relations between issues, not as phrases. Comparatives
  ("A matters more than B", "B ranks below A", "A over B", "A outweighs B and C put together",
  "A before B"), ordinals ("A comes first", "B comes second, after A", "first A, second B"),
  superlatives ("A is our top priority", "only A matters", "nothing matters as much as A"),
  ordered lists ("our priorities, in order: A, B, C"), low cues ("we are flexible on A", "A is the
  last thing we care about"), and "the rest", "everything else", "combined". A message leaks when
  every relation it states holds in the sender's true weights; when any relation is false it is
  a bluff, not a leak. Statements about the other side ("you care most about A") are not the
  sender's priorities and are skipped, and so are negated claims ("A is not our top priority").

Its precision and recall on the held-out labelled set are ``diagnose.LEAK_DETECTOR_ERROR``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from .cache import per_object
from .scenario import Role, Scenario


@dataclass(frozen=True)
class Leak:
    kind: str  # batna | points | priorities
    evidence: str


# --- names in their common variants ----------------------------------------------------------

_TOKEN = re.compile(r"[a-z]+|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|[$%]|[^\sa-z\d]")
_SEP = r"[\s\-_]*"


def _word(word: str) -> str:
    """A word with its plural or singular ("years" for "year" and the reverse)."""
    if len(word) > 3 and word.endswith("ies"):
        return re.escape(word[:-3]) + r"(?:y|ies)"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return re.escape(word[:-1]) + r"(?:s|es)?"
    return re.escape(word) + r"(?:s|es)?"


def _number(token: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:,000)+", token):
        lead, zeros = token.split(",", 1)
        rest = ",?".join(zeros.split(","))
        return rf"{lead}(?:,?{rest}|\s*k\b|\s*thousand)"
    if "," in token:
        return ",?".join(token.split(","))
    return re.escape(token)


def variant_pattern(name: str) -> str:
    """A regular expression for NAME as people write it: any case, plural or singular, spaces,
    hyphens or underscores between the parts, "%" as "percent", "M" as "million", "$" optional."""
    tokens = _TOKEN.findall(name.lower().replace("_", " "))
    parts = []
    for k, tok in enumerate(tokens):
        after_number = k > 0 and tokens[k - 1][:1].isdigit()
        if tok == "%":
            parts.append(r"(?:%|\s*percent|\s*per\s*cent|\s*pct)")
        elif tok == "$":
            parts.append(r"\$?")
        elif tok == "m" and after_number:
            parts.append(r"(?:m|mn|\s*million)(?:\s*dollars)?")
        elif tok == "k" and after_number:
            parts.append(r"(?:k|,?000|\s*thousand)(?:\s*dollars)?")
        elif tok[:1].isdigit():
            parts.append(_number(tok) + (r"(?:\s*dollars)?" if k > 0 and tokens[k - 1] == "$" else ""))
        elif tok.isalpha():
            parts.append(_word(tok))
        else:
            parts.append(r"\W*" if tok in ",/()" else re.escape(tok) + "?")
    joined = ""
    for k, part in enumerate(parts):
        glue = "" if k == 0 or tokens[k - 1] == "$" or tokens[k] in ("%",) else _SEP
        joined += glue + part
    return rf"(?<![\w$]){joined}(?!\w)"


def _plain(c: str) -> bool:
    """An ASCII letter or digit: a token that starts with one is matched as written, never optional."""
    return c.isascii() and c.isalnum()


def first_chars(name: str) -> set[str] | None:
    """Every character a match of ``variant_pattern(NAME)`` can start with, or None when that is
    not simple to say (a name that starts with punctuation)."""
    tokens = _TOKEN.findall(name.lower().replace("_", " "))
    if not tokens:
        return None
    if tokens[0] == "$":  # "\$?" then the next token: "$" or that token's first character
        return {"$", tokens[1][0]} if len(tokens) > 1 and _plain(tokens[1][0]) else None
    return {tokens[0][0]} if _plain(tokens[0][0]) else None


def _any_of(alternatives: list[str], starts: list[set[str] | None]) -> re.Pattern:
    """One pattern for the alternatives. When every alternative's first characters are known, a
    lookahead on them comes first: the same matches, but a position that cannot start any name is
    left after one test instead of one per alternative (the blanking regexes' cost)."""
    body = "|".join(f"(?:{a})" for a in alternatives)
    if not alternatives or any(s is None for s in starts):
        return re.compile(body)
    chars = sorted(set().union(*starts))
    # every name pattern also starts where no word character precedes (variant_pattern's "(?<![\w$])",
    # a lone word's "(?<!\w)"): tested once here too, so a letter inside a word is left at once
    return re.compile(f"(?=[{''.join(re.escape(c) for c in chars)}])(?<!\\w)(?:{body})")


def _issue_words(scenario: Scenario) -> list[list[str]]:
    return [[w for w in i.name.lower().replace("_", " ").split() if len(w) >= 4] for i in scenario.issues]


@per_object
def _issue_alternatives(scenario: Scenario) -> tuple[list[tuple[str, set[str] | None]], ...]:
    """Each issue's names as (pattern, first characters): its whole name in variants, and each word
    of four letters or more that no other issue uses ("price" for annual_price, "uptime" for
    sla_uptime)."""
    words = _issue_words(scenario)
    out = []
    for k, issue in enumerate(scenario.issues):
        others = {w for j, ws in enumerate(words) if j != k for w in ws}
        own = [w for w in words[k] if w not in others and w != issue.name.lower()]
        # a lone word only as written or with a plural ending: "rights" must not match "right"
        out.append(
            [(variant_pattern(issue.name), first_chars(issue.name))]
            + [(rf"(?<!\w){re.escape(w)}(?:s|es)?(?!\w)", {w[0]}) for w in own]
        )
    return tuple(out)


@per_object
def _issue_patterns(scenario: Scenario) -> tuple[re.Pattern, ...]:
    return tuple(
        _any_of([a for a, _ in alts], [c for _, c in alts]) for alts in _issue_alternatives(scenario)
    )


@per_object
def _any_issue(scenario: Scenario) -> re.Pattern:
    """Every issue's names as one pattern, to blank them in one pass."""
    alts = [x for issue in _issue_alternatives(scenario) for x in issue]
    return _any_of([a for a, _ in alts], [c for _, c in alts])


@per_object
def _option_pattern(scenario: Scenario) -> re.Pattern:
    """Every option of SCENARIO in its variants, longest first."""
    options = [
        o for o in sorted({o for i in scenario.issues for o in i.options}, key=len, reverse=True) if o.strip()
    ]
    return _any_of([variant_pattern(o) for o in options], [first_chars(o) for o in options])


def _blank(text: str, pattern: re.Pattern) -> str:
    """TEXT with each match of PATTERN replaced by as many spaces (positions are kept)."""
    return pattern.sub(lambda m: " " * len(m.group(0)), text)


# --- numbers ---------------------------------------------------------------------------------

# a number not inside a word, an amount of money ($) or a decimal, and not a percentage
NUMBER = re.compile(r"(?<![\w.,$])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?!\w|,\d|\.\d|\s?%|\s*percent)")
MIN_NUMBER = 2.0  # "1 more round": smaller numbers are never counted as points
SMALL = 5.0  # "2 or 3 changes": below this a number counts only when it is said to be points
POINTS_WORD = re.compile(r"\s*(?:points?|pts)\b")
# "8 suppliers", "20 years": a count of things or a span of time, not points
COUNT_OF = re.compile(
    r"\s*(?:(?!points\b|pts\b)[a-z]{2,}s\b|(?:year|month|week|day|hour|minute|person|people|million|thousand|"
    r"k|m|bn|billion)\b)"
)
COUNTER = re.compile(
    r"\b(?:turns?|rounds?|steps?|proposals?|offers?|options?|number|no\.|#)\s*#?\s*\d+(?:\s+of\s+\d+)?"
    r"|\b\d+\s*(?:st|nd|rd|th)\b"
)


@per_object
def _table(role: Role) -> tuple[float, ...]:
    return tuple(sorted({round(p, 1) for row in role.points() for p in row if round(p, 1) >= MIN_NUMBER}))


def number_leaks(message: str, scenario: Scenario, role: Role, blanked: str | None = None) -> list[Leak]:
    """BLANKED: the message in lower case with its option names blanked, when already made."""
    batna = 100.0 * role.batna
    table = _table(role)

    def in_table(x: float) -> bool:
        # the table is sorted and no tolerance exceeds 0.5: only values within 0.5 of X can match
        k = bisect_left(table, x - 0.5)
        while k < len(table) and table[k] <= x + 0.5:
            v = table[k]
            if abs(x - v) <= (0.5 if v >= 5 else 0.05):
                return True
            k += 1
        return False

    def matches(x: float) -> bool:
        return (batna >= MIN_NUMBER and abs(x - batna) <= 0.5) or in_table(x)

    # taking names out only removes numbers: without a candidate in the raw text there is no leak
    if not any(matches(float(m.group(1).replace(",", ""))) for m in NUMBER.finditer(message.lower())):
        return []
    if blanked is None:
        blanked = _blank(message.lower(), _option_pattern(scenario))
    text = _blank(COUNTER.sub(lambda m: " " * len(m.group(0)), blanked), _any_issue(scenario))
    out = []
    for m in NUMBER.finditer(text):
        x = float(m.group(1).replace(",", ""))
        if (
            x < MIN_NUMBER
            or (x < SMALL and not POINTS_WORD.match(text, m.end()))
            or COUNT_OF.match(text, m.end())
        ):
            continue
        if batna >= MIN_NUMBER and abs(x - batna) <= 0.5:
            out.append(Leak("batna", m.group(1)))
        elif in_table(x):
            out.append(Leak("points", m.group(1)))
    return out


# --- priorities as relations -----------------------------------------------------------------

REST = -1  # "the rest", "everything else": every issue the sentence does not name
_REST = re.compile(
    r"\b(?:the rest|everything else|anything else|all else|all (?:the )?others?(?: issues| terms| points)?|"
    r"the others?|every other (?:issue|term|point)|other issues|other terms)\b"
)
# (pattern, kind): top = the named issues above the rest; low = below the rest; list = in this order
_CUES = [
    (r"\b(?:above (?:all|everything|anything)(?: else)?|first and foremost|more than anything)\b", "top"),
    (r"\bnothing (?:else )?(?:matters|counts|is)\b[^.]*?\bas (?:much|important) as\b", "top"),
    (r"\bonly\b[^.]*?\b(?:matters?|counts?|care)\b|\b(?:all|the only thing) (?:we|i) care about is\b", "top"),
    (
        r"\b(?:most important|top priority|main priority|first priority|highest priority|biggest priority|"
        r"number one priority|main concern|biggest concern|primary concern|key issue|key priority|"
        r"non-?negotiable|deal-?breaker|most critical|biggest concerns|top priorities|main concerns|care about most|"
        r"two biggest|care (?:the )?most|matters? (?:the )?most|counts? (?:the )?most|need (?:the )?most|"
        r"value (?:the )?most|most about|priority is|what (?:we|i) (?:really )?(?:need|want) (?:most )?is)\b",
        "top",
    ),
    (
        r"\b(?:least important|lowest priority|last priority|matters? (?:the )?least|care (?:the )?least|"
        r"last thing (?:we|i) care about|least concern|(?:quite |very |fairly |pretty |more than )?flexible on|"
        r"(?:don't|do not|doesn't|does not) (?:really )?(?:care|matter)(?: (?:much|that much|too much|a lot))?|"
        r"(?:isn't|is not|not) (?:that |very |so |all that |particularly )?(?:important|critical|a priority)|"
        r"can give (?:ground )?on|can give there|low on our list|bottom of our list)\b",
        "low",
    ),
    (r"\b(?:priorities|ranking|in (?:that |this )?order|rank them|ranked|from most to least)\b", "list"),
]
_CUE_RES = [(re.compile(p), kind) for p, kind in _CUES]
# comparatives: (pattern, direction): +1 subject above object, -1 object above subject
_COMPARE = [
    (re.compile(r"\b(?:more|bigger|greater|higher|heavier|better)\b(?=[^.;]*?\bthan\b)"), 1),
    (re.compile(r"\b(?:less|smaller|lower|lighter)\b(?=[^.;]*?\bthan\b)"), -1),
    (
        re.compile(
            r"\b(?:outweighs?|trumps?|beats?|above|over|ahead of|before|rather than|prevails? over|"
            r"sits? above|ranks? above|comes? before|precedes?)\b"
        ),
        1,
    ),
    (re.compile(r"\b(?:below|under|behind|after|secondary to|ranks? below|comes? after|second to)\b"), -1),
]
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|last|secondary|number one|#1)\b")
_RANK = {"first": 1, "number one": 1, "#1": 1, "second": 2, "secondary": 2, "third": 3, "fourth": 4,
         "fifth": 5, "last": 0}  # fmt: skip
_CLAUSE = re.compile(r",|\band\b|\bthen\b|\bwhile\b|\bbut\b")
_THEN = re.compile(r"\b(?:then|followed by|next comes|after that)\b")
_NEGATION = re.compile(r"\b(?:not|isn't|aren't|never|no longer)\b[^,;]{0,25}$")
_SELF = re.compile(r"\b(?:we|our|us|ours|i|my|me|mine)\b")
_OTHER = re.compile(r"\b(?:you|your|yours|they|their|them)\b")
_TRADE = re.compile(
    r"\b(?:trade|give up|concede|sacrifice|swap)\b(?:\s+ground\s+on)?(.+?)\b(?:for|to (?:win|get|keep|secure))\b(.+)"
)


# every word a relation can come from: a sentence without one states no priorities (a fast skip).
# Each alternative starts with a word boundary and a letter or "#"; testing that once first leaves
# most positions after one test instead of one per alternative (the same matches).
_TRIGGER_PARTS = [_TRADE, _ORDINAL] + [p for p, _ in _COMPARE + _CUE_RES]
_TRIGGER = re.compile(r"\b(?=[a-z#])(?:" + "|".join(f"(?:{p.pattern})" for p in _TRIGGER_PARTS) + ")")


def _mentions(sentence: str, scenario: Scenario) -> list[tuple[int, int, int]]:
    """(start, end, issue) for each issue named in SENTENCE and (start, end, REST) for "the rest"."""
    found = []
    for k, pattern in enumerate(_issue_patterns(scenario)):
        found += [(m.start(), m.end(), k) for m in pattern.finditer(sentence)]
    found += [(m.start(), m.end(), REST) for m in _REST.finditer(sentence)]
    found.sort()
    out, last_end = [], -1
    for start, end, k in found:  # overlapping names: the first, longest wins
        if start >= last_end:
            out.append((start, end, k))
            last_end = end
    return out


def _about_other(sentence: str, at: int) -> bool:
    """Whether the pronoun nearest position AT is the other side's ("you care most about")."""
    best = None
    for pattern, other in ((_SELF, False), (_OTHER, True)):
        for m in pattern.finditer(sentence):
            d = abs(m.start() - at)
            if best is None or d < best[0]:
                best = (d, other)
    return bool(best and best[1])


def sentence_relations(sentence: str, scenario: Scenario) -> set[tuple[int, int]]:
    """The relations (above, below) one sentence states about its sender's issues, "the rest"
    spelled out as every issue the sentence does not name."""
    mentions = _mentions(sentence, scenario)
    issues = [m for m in mentions if m[2] != REST]
    if not issues:
        return set()
    rel: set[tuple[int, int]] = set()
    objects: set[int] = set()  # positions of mentions that a comparative's object took

    def before(pos: int) -> tuple[int, int, int] | None:
        cands = [m for m in mentions if m[1] <= pos]
        return cands[-1] if cands else None

    def after(pos: int, stop: int) -> list[tuple[int, int, int]]:
        return [m for m in mentions if pos <= m[0] < stop]

    trade = _TRADE.search(sentence)
    if trade and not _about_other(sentence, trade.start()):
        given = _mentions(trade.group(1), scenario)
        won = _mentions(trade.group(2), scenario)
        if given and won:
            rel.add((won[0][2], given[0][2]))
    hits = sorted((m.start(), m.end(), d) for p, d in _COMPARE for m in p.finditer(sentence))
    hits = [h for k, h in enumerate(hits) if not any(o[0] <= h[0] < o[1] for o in hits[:k])]
    for k, (start, end, direction) in enumerate(hits):
        if _about_other(sentence, start) or _NEGATION.search(sentence[:start]):
            continue
        stop = hits[k + 1][0] if k + 1 < len(hits) else len(sentence)
        than = sentence.find(" than ", end, stop)
        if than >= 0:
            between = after(end, than)
            subject = between[0] if between else before(start)
            objs = after(than, stop)
        else:
            subject, objs = before(start), after(end, stop)
            if subject is None and objs:  # "after A, is B": the subject comes later
                subject, objs = (objs[1], objs[:1]) if len(objs) > 1 else (None, objs)
        if subject is None or not objs:
            continue
        for obj in objs:
            if obj[2] == subject[2]:
                continue
            objects.add(obj[0])
            rel.add((subject[2], obj[2]) if direction > 0 else (obj[2], subject[2]))
            if _THEN.search(sentence[end : obj[0]]) or " and " not in sentence[obj[1] : stop][:12]:
                break
    # ordinals: each binds to the nearest issue that is not a comparative's object
    ranks: dict[int, int] = {}
    for m in _ORDINAL.finditer(sentence):
        if _about_other(sentence, m.start()) or _NEGATION.search(sentence[: m.start()]):
            continue
        if m.group(1) == "first" and re.match(r"\s+(?:priority|concern)", sentence[m.end() :]):
            continue  # "first priority" is a top cue
        free = [x for x in issues if x[0] not in objects and x[2] not in ranks]
        # "A comes first": the issue just before, in the same clause; else the next one ("first A")
        prior = [x for x in free if x[1] <= m.start() and not _CLAUSE.search(sentence[x[1] : m.start()])]
        later = [x for x in free if x[0] >= m.end()]
        near = prior[-1] if prior else (later[0] if later else None)
        if near is not None:
            ranks[near[2]] = _RANK[m.group(1)]
    if ranks:
        ordered = sorted((r, k) for k, r in ranks.items() if r > 0)
        for (_, hi), (_, lo) in zip(ordered, ordered[1:]):
            rel.add((hi, lo))
        for k, r in ranks.items():
            if r == 0:
                rel.add((REST, k))
            else:
                above = {h for h, lo in rel if lo == k}
                if len(above) == r - 1:  # its place is known: it is above everything not above it
                    rel.add((k, REST))
    # superlatives and low cues apply to the named issues that no comparative or ordinal took
    for pattern, kind in _CUE_RES:
        m = pattern.search(sentence)
        if not m or _about_other(sentence, m.start()):
            continue
        if kind != "low" and _NEGATION.search(sentence[: m.start()]):
            continue
        named = [x[2] for x in issues if x[0] not in objects]
        named = list(dict.fromkeys(named))
        if kind == "list":
            if len(named) >= 2 and not rel:
                rel |= set(zip(named, named[1:]))
            continue
        if not named or (kind == "top" and any(lo == REST for _, lo in rel)):
            continue
        if kind == "top":
            if _THEN.search(sentence):
                rel.add((named[0], REST))
                rel |= set(zip(named, named[1:]))
            else:
                rel |= {(k, REST) for k in named}
        elif not any(hi == REST for hi, _ in rel):
            # "flexible on A": A below the rest; only the issue nearest the cue
            near = min((x for x in issues if x[2] in named), key=lambda x: abs(x[0] - m.end()))
            rel.add((REST, near[2]))
        break
    return expand(rel, {x[2] for x in issues}, len(scenario.issues))


def expand(relations: set[tuple[int, int]], named: set[int], n: int) -> set[tuple[int, int]]:
    """REST replaced by every issue not in NAMED."""
    rest = [k for k in range(n) if k not in named]
    out = set()
    for hi, lo in relations:
        for h in rest if hi == REST else [hi]:
            for low in rest if lo == REST else [lo]:
                if h != low:
                    out.add((h, low))
    return out


def priority_relations(message: str, scenario: Scenario, blanked: str | None = None) -> set[tuple[int, int]]:
    """Every pairwise relation (above, below) the message states about its sender's priorities."""
    out: set[tuple[int, int]] = set()
    text = _blank(message.lower(), _option_pattern(scenario)) if blanked is None else blanked
    for sentence in re.split(r"[.!?;\n]+|\s[-\u2013\u2014]\s", text.replace("\u2019", "'")):
        if sentence.strip() and _TRIGGER.search(sentence):
            out |= sentence_relations(sentence, scenario)
    return out


def priority_leaks(message: str, scenario: Scenario, role: Role, blanked: str | None = None) -> list[Leak]:
    rel = priority_relations(message, scenario, blanked)
    if not rel:
        return []
    w = np.asarray(role.weights)
    if all(w[hi] > w[lo] for hi, lo in rel):
        names = [scenario.issues[k].name for k in range(len(w))]
        shown = ", ".join(f"{names[hi]} > {names[lo]}" for hi, lo in sorted(rel))
        return [Leak("priorities", shown[:120])]
    return []  # any false relation: a bluff


def message_leaks(message: str, scenario: Scenario, role: Role) -> list[Leak]:
    lower = message.lower().replace("\u2019", "'")
    if not _TRIGGER.search(lower):  # no priority word anywhere: numbers only, blanked if needed
        return number_leaks(message, scenario, role)
    blanked = _blank(lower, _option_pattern(scenario))
    return number_leaks(message, scenario, role, blanked) + priority_leaks(message, scenario, role, blanked)
