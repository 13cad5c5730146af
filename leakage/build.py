"""Build the labelled leak set (``leakage/labels-v1/{dev,heldout}.jsonl``) from its sources.

Run from the repository root: ``python leakage/build.py``. Deterministic (seeded); the output is
committed, and a test checks that this script still writes it byte for byte.

Every label follows the SPEC's definition and is decided here from the scenario's private truth,
never by the detector (this script does not import it):

- a message leaks when it states the sender's BATNA, a points value from its own table, or its
  priorities in an order that matches its true weights;
- a priority claim is a set of pairwise relations (``A>B``; ``*`` stands for every issue the
  phrase does not name). It leaks when every relation holds in the sender's true weights and at
  least one is non-trivial ("A and B are our two biggest concerns" says nothing when there are
  only two issues); when any relation is false it is a bluff, not a leak; a claim about the *other* side's priorities is not
  a leak either;
- a number stated as points leaks only when it is in the sender's own table (or is its BATNA).

Sources, each kept to its part:

- ``phrases-dev.json`` and ``phrases-heldout.json``: phrasings written before the v2 detector,
  filled with each scenario's issue names and options in their common variants ("5-year" for
  "5 years", "10 percent" for "10%", "$1 million" for "$1M", case, hyphens, plurals). Dev scenarios
  come from the ``dev`` split, held-out ones from ``test`` scenarios outside ``lite``.
- ``transcripts.jsonl``: 57 messages from SmolLM2's games on the board, labelled by hand; split by
  scenario so no scenario's transcripts are in both parts.
- the two earlier hand-written sets (``tests/data/leakage_labelled.jsonl``: dev;
  ``tests/data/leakage_heldout.jsonl``: the published held-out check).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from arena_bench.scenarios.tasks import open_task_set  # noqa: E402

OUT = ROOT / "labels-v1"
PER_PHRASE = 5
SITUATION = [3, 4, 6, 7, 8, 10, 12, 14, 15, 20, 25, 30, 40, 45]


def issue_forms(issue, all_issues) -> list[str]:
    """Ways a person writes an issue's name."""
    spaced = issue.name.replace("_", " ")
    forms = [spaced, spaced, issue.name, spaced.title(), spaced.replace(" ", "-")]
    words = [w for w in spaced.split() if len(w) >= 4]
    others = {w for i in all_issues if i is not issue for w in i.name.replace("_", " ").split()}
    forms += [w for w in words if w not in others and w != spaced]
    return forms


def option_forms(option: str) -> list[str]:
    """Ways a person writes an option: its own form and common variants of its units."""
    forms = [option]
    m = re.fullmatch(r"(\d+) (year|month|week|day)s", option)
    if m:
        forms += [f"{m[1]} {m[2]}", f"{m[1]}-{m[2]}", f"{m[1]} {m[2].capitalize()}s"]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%(.*)", option)
    if m:
        forms += [f"{m[1]} percent{m[2]}", f"{m[1]} per cent{m[2]}"]
    m = re.fullmatch(r"\$(\d+)M", option)
    if m:
        forms += [f"${m[1]} million", f"{m[1]} million dollars", f"${m[1]}m"]
    m = re.fullmatch(r"\$(\d{1,3}),000", option)
    if m:
        forms += [f"${m[1]}k", f"{m[1]},000 dollars", f"${m[1]}000"]
    m = re.fullmatch(r"(\d[\d,]*) (units|spaces|sessions|options)", option)
    if m:
        forms += [f"{m[1]} {m[2][:-1]}"]
    if option[:1].isupper() and not option[:2].isupper():
        forms.append(option.lower())
    return forms


def holds(relations, slots, weights) -> bool:
    named = set(slots.values())
    pairs = 0
    for rel in relations:
        hi, lo = rel.split(">")
        his = [i for i in range(len(weights)) if i not in named] if hi == "*" else [slots[hi]]
        los = [i for i in range(len(weights)) if i not in named] if lo == "*" else [slots[lo]]
        if any(weights[h] <= weights[low] for h in his for low in los):
            return False
        pairs += len(his) * len(los)
    return pairs > 0  # "*" with nothing left is vacuous: a claim needs one real relation


def fmt_points(x: float) -> str:
    return str(int(round(x))) if abs(x - round(x)) < 1e-9 else f"{x:.1f}"


def off_table(role, rng) -> int | None:
    table = {round(p, 1) for row in role.points() for p in row} | {round(100 * role.batna, 1)}
    for _ in range(200):
        x = int(rng.integers(5, 71))
        if all(abs(x - v) > 1.0 for v in table):
            return x
    return None


def fill(phrase: dict, sc, side: int, mode: str, rng) -> dict | None:
    """One message from PHRASE for SIDE of scenario SC; MODE is 'true'/'random' for priority
    phrases, 'leak'/'clean' for numbers. None when the scenario cannot make it."""
    role = sc.roles[side]
    n = len(sc.issues)
    letters = sorted(set(re.findall(r"\{o?([A-D])\}", phrase["t"])))
    if len(letters) > n:
        return None
    slots = None
    if "rel" in phrase and mode == "true":
        for _ in range(500):
            pick = rng.permutation(n)[: len(letters)]
            cand = dict(zip(letters, map(int, pick)))
            if holds(phrase["rel"], cand, role.weights):
                slots = cand
                break
        if slots is None:
            return None
    else:
        slots = dict(zip(letters, map(int, rng.permutation(n)[: len(letters)])))
    values = {}
    if phrase.get("num") == "points":
        if mode == "leak":
            cells = [(j, o, p) for j, row in enumerate(role.points()) for o, p in enumerate(row) if p >= 5]
            j, o, p = cells[int(rng.integers(len(cells)))]
            values["P"] = fmt_points(p)
            if "A" in slots:
                slots["A"] = j
            values["oA_option"] = o
        else:
            x = off_table(role, rng)
            if x is None:
                return None
            values["P"] = str(x)
    if phrase.get("num") == "batna":
        if mode == "leak":
            if 100 * role.batna < 5:
                return None
            values["N"] = fmt_points(round(100 * role.batna, 1))
        else:
            x = off_table(role, rng)
            if x is None:
                return None
            values["N"] = str(x)
    text = phrase["t"]
    for letter, k in slots.items():
        issue = sc.issues[k]
        forms = issue_forms(issue, sc.issues)
        name = forms[int(rng.integers(len(forms)))]
        option_k = values.get("oA_option") if letter == "A" and "oA_option" in values else None
        option = (
            issue.options[int(rng.integers(len(issue.options)))]
            if option_k is None
            else issue.options[option_k]
        )
        oforms = option_forms(option)
        text = text.replace("{o" + letter + "}", oforms[int(rng.integers(len(oforms)))])
        text = text.replace("{" + letter + "}", name)
    used = set(slots.values())
    while "{o}" in text:
        free = [k for k in range(n) if k not in used] or list(range(n))
        k = free[int(rng.integers(len(free)))]
        used.add(k)
        option = sc.issues[k].options[int(rng.integers(len(sc.issues[k].options)))]
        oforms = option_forms(option)
        text = text.replace("{o}", oforms[int(rng.integers(len(oforms)))], 1)
    text = text.replace("{P}", values.get("P", "")).replace("{N}", values.get("N", ""))
    while "{S}" in text:
        text = text.replace("{S}", str(SITUATION[int(rng.integers(len(SITUATION)))]), 1)
    text = text[0].upper() + text[1:]
    if "rel" in phrase:
        leak = phrase.get("about") != "other" and holds(phrase["rel"], slots, role.weights)
        kind = "priorities"
    elif "num" in phrase:
        leak, kind = mode == "leak", phrase["num"]
    else:
        leak, kind = False, "clean"
    return {"message": text, "leak": leak, "kind": kind, "phrase": phrase["t"]}


def scenarios_for(part: str, ts) -> list:
    """Dev: one dev-split scenario per family; held-out: test scenarios outside lite, one per family."""
    if part == "dev":
        pool, split = ts.load("dev"), "dev"
    else:
        lite = {s.id for s in ts.load("lite")}
        pool, split = [s for s in ts.load("test") if s.id not in lite], "test"
    out, seen = [], {}
    for s in pool:
        if seen.get(s.family, 0) < (2 if part == "heldout" else 1):
            seen[s.family] = seen.get(s.family, 0) + 1
            out.append((s, split))
    return out


def transcript_part(scenario_id: str) -> str:
    return "heldout" if int(hashlib.sha256(scenario_id.encode()).hexdigest(), 16) % 2 else "dev"


def build(part: str) -> list[dict]:
    ts = open_task_set("negotiation-v1")
    rng = np.random.default_rng({"dev": 31, "heldout": 131}[part])
    scenarios = scenarios_for(part, ts)
    rows = []
    for phrase in json.loads((ROOT / f"phrases-{part}.json").read_text())["phrases"]:
        if "rel" in phrase:
            modes = ["true"] * 3 + ["random"] * 2
        elif "num" in phrase:
            modes = ["leak"] * 3 + ["clean"] * 2
        else:
            modes = ["clean"] * PER_PHRASE
        for mode in modes:
            for _ in range(20):
                sc, split = scenarios[int(rng.integers(len(scenarios)))]
                side = int(rng.integers(2))
                row = fill(phrase, sc, side, mode, rng)
                if row is not None:
                    rows.append({"scenario_id": sc.id, "split": split, "role": side, **row,
                                 "source": f"phrases-{part}.json"})  # fmt: skip
                    break
    for line in (ROOT / "transcripts.jsonl").read_text().splitlines():
        r = json.loads(line)
        if transcript_part(r["scenario_id"]) == part:
            rows.append({**{k: r[k] for k in ("scenario_id", "split", "role", "message", "leak")},
                         "kind": "transcript", "source": "transcripts.jsonl"})  # fmt: skip
    earlier = {"dev": "leakage_labelled.jsonl", "heldout": "leakage_heldout.jsonl"}[part]
    for line in (ROOT.parent / "tests" / "data" / earlier).read_text().splitlines():
        r = json.loads(line)
        rows.append({**{k: r[k] for k in ("scenario_id", "split", "role", "message", "leak")},
                     "kind": "earlier", "source": f"tests/data/{earlier}"})  # fmt: skip
    return [{"id": f"{part}-{k:04d}", **r} for k, r in enumerate(rows)]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for part in ("dev", "heldout"):
        rows = build(part)
        tmp = OUT / f".{part}.jsonl.tmp"
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        tmp.replace(OUT / f"{part}.jsonl")
        scen = {r["scenario_id"] for r in rows}
        print(f"{part}: {len(rows)} messages, {sum(r['leak'] for r in rows)} leaks, {len(scen)} scenarios")


if __name__ == "__main__":
    main()
