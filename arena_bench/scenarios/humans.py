"""Humans on the same scale: published human-human negotiations as task sets with their outcomes.

Two datasets record both sides' private values and the final deal, which is this benchmark's
scenario model (issues, options, additive points per side, an outside option):

- **CaSiNo** (Chawla et al., NAACL 2021; CC BY 4.0): two campers divide 3 packages each of Food,
  Water and Firewood; each has a private priority order worth 5/4/3 points a package; walking away
  gives both 5 points. One scenario per ordered pair of priority orders.
- **Deal or No Deal** (Lewis et al., EMNLP 2017; CC BY-NC 4.0, non-commercial): two people divide
  books, hats and balls with private values (each side's whole set is worth 10); no deal gives 0.
  One scenario per distinct (item counts, both sides' values), the first speaker as side A.

An issue is one kind of item; an option is how many of it side A gets (the rest go to side B), so
a side's utility is its points over its best possible points, exactly, and the BATNA is the
walk-away points over the same. Only what a scenario and an outcome need is kept: no worker ids,
demographics, personality, free-text reasons or messages (only their number).

Parsing is pure (dicts and lines in, scenarios and outcomes out); the importers at the bottom read
and write files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.scenario import Issue, Role, Scenario, validate
from ..errors import TaskSetError

HUMAN_OUTCOMES = "human_outcomes.jsonl"
HUMAN_FORMAT = "arena-bench-human-outcomes/1"

DATASETS: dict[str, dict[str, Any]] = {
    "casino": {
        "title": "CaSiNo (campsite negotiation)",
        "citation": "Chawla et al., CaSiNo: A Corpus of Campsite Negotiation Dialogues, NAACL 2021",
        "source": "https://github.com/kushalchawla/CaSiNo",
        "license": "CC BY 4.0",
        "commercial": True,
    },
    "dealornodeal": {
        "title": "Deal or No Deal",
        "citation": "Lewis et al., Deal or No Deal? End-to-End Learning for Negotiation Dialogues, EMNLP 2017",
        "source": "https://github.com/facebookresearch/end-to-end-negotiator",
        "license": "CC BY-NC 4.0",
        "commercial": False,
    },
}


@dataclass(frozen=True)
class HumanOutcome:
    """One human dialogue's result on its scenario, in the benchmark's encoding."""

    dataset: str
    dialogue: str  # the dataset's own id (CaSiNo) or split:line (Deal or No Deal)
    split: str
    scenario_id: str
    end: str  # accepted, walked_away, no_agreement
    agreement: tuple[int, ...] | None  # side A's share of each issue
    points: tuple[float, float]  # recomputed from the scenario and the agreement, in the dataset's points
    recorded_points: tuple[float | None, float | None]  # as the dataset records them (None: not recorded)
    messages: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["agreement"] = list(self.agreement) if self.agreement is not None else None
        d["points"] = list(self.points)
        d["recorded_points"] = list(self.recorded_points)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HumanOutcome:
        return cls(
            str(d["dataset"]),
            str(d["dialogue"]),
            str(d["split"]),
            str(d["scenario_id"]),
            str(d["end"]),
            tuple(int(x) for x in d["agreement"]) if d.get("agreement") is not None else None,
            (float(d["points"][0]), float(d["points"][1])),
            tuple(None if x is None else float(x) for x in d["recorded_points"]),  # type: ignore[arg-type]
            int(d["messages"]),
        )


# --- CaSiNo ---------------------------------------------------------------------------------------

CASINO_ISSUES = ("Food", "Water", "Firewood")
CASINO_POINTS = {"High": 5, "Medium": 4, "Low": 3}
CASINO_UNITS = 3
CASINO_WALK_AWAY = 5
CASINO_ROLES = ("camper A", "camper B")


def _casino_order(value2issue: dict[str, str], where: str) -> tuple[str, str, str]:
    try:
        order = (value2issue["High"], value2issue["Medium"], value2issue["Low"])
    except (KeyError, TypeError):
        raise TaskSetError(f"{where}: value2issue must name a High, Medium and Low issue") from None
    if sorted(order) != sorted(CASINO_ISSUES):
        raise TaskSetError(f"{where}: value2issue {order} is not an order of {CASINO_ISSUES}")
    return order


def casino_scenario(order_a: tuple[str, ...], order_b: tuple[str, ...]) -> Scenario:
    """Camper A's and camper B's priority orders (High, Medium, Low) as a scenario."""
    best = CASINO_UNITS * sum(CASINO_POINTS.values())  # 36

    def role(name: str, order: tuple[str, ...], mine) -> Role:
        per_unit = {issue: CASINO_POINTS[level] for issue, level in zip(order, ("High", "Medium", "Low"))}
        weights = tuple(CASINO_UNITS * per_unit[i] / best for i in CASINO_ISSUES)
        values = tuple(tuple(mine(k) / CASINO_UNITS for k in range(CASINO_UNITS + 1)) for _ in CASINO_ISSUES)
        ranking = ", then ".join(f"{i} ({per_unit[i]} points a package)" for i in order)
        narrative = (
            f"You are {name}, packing extra supplies for a camping trip with another camper. There are "
            f"{CASINO_UNITS} extra packages each of food, water and firewood to divide between you. What you "
            f"need most: {ranking}. If you walk away, each of you keeps {CASINO_WALK_AWAY} points' worth of "
            "supplies."
        )
        return Role(name, weights, values, CASINO_WALK_AWAY / best, narrative)

    issues = tuple(
        Issue(
            name.lower(),
            f"{CASINO_UNITS} extra packages of {name.lower()}.",
            tuple(f"A gets {k}, B gets {CASINO_UNITS - k}" for k in range(CASINO_UNITS + 1)),
        )
        for name in CASINO_ISSUES
    )
    sid = "casino-a-" + "-".join(x.lower() for x in order_a) + "-b-" + "-".join(x.lower() for x in order_b)
    scenario = Scenario(
        id=sid,
        title="Campsite: food, water and firewood",
        context=(
            "Two campers (A and B) divide 3 extra packages each of food, water and firewood. Every package "
            "goes to one of them; an option says how many camper A gets."
        ),
        issues=issues,
        roles=(
            role(CASINO_ROLES[0], order_a, lambda k: k),
            role(CASINO_ROLES[1], order_b, lambda k: CASINO_UNITS - k),
        ),
        family="casino",
        stratum="same_priorities" if order_a == order_b else "different_priorities",
        generator={"dataset": "casino", "license": DATASETS["casino"]["license"]},
    )
    validate(scenario)
    return scenario


def casino_points(order: tuple[str, ...], counts: dict[str, int]) -> int:
    per_unit = {issue: CASINO_POINTS[level] for issue, level in zip(order, ("High", "Medium", "Low"))}
    return sum(per_unit[i] * counts[i] for i in CASINO_ISSUES)


def parse_casino(
    dialogues: list[dict[str, Any]], split: str, label: str
) -> list[tuple[Scenario, HumanOutcome]]:
    out = []
    for k, d in enumerate(dialogues):
        where = f"{label}: dialogue {k}"
        try:
            info = d["participant_info"]
            agents = ("mturk_agent_1", "mturk_agent_2")
            orders = tuple(_casino_order(info[a]["value2issue"], f"{where} {a}") for a in agents)
            logs = d["chat_logs"]
            recorded = tuple(info[a].get("outcomes", {}).get("points_scored") for a in agents)
        except (KeyError, TypeError):
            raise TaskSetError(f"{where}: not in the CaSiNo format (participant_info, chat_logs)") from None
        scenario = casino_scenario(orders[0], orders[1])
        end, agreement, proposal, messages = "no_agreement", None, None, 0
        for turn in logs:
            text = turn.get("text")
            if text == "Submit-Deal":
                mine = (
                    turn["task_data"]["issue2youget"]
                    if turn["id"] == agents[0]
                    else turn["task_data"]["issue2theyget"]
                )
                proposal = tuple(int(mine[i]) for i in CASINO_ISSUES)
            elif text == "Accept-Deal" and proposal is not None:
                end, agreement = "accepted", proposal
            elif text == "Reject-Deal":
                proposal = None
            elif text == "Walk-Away":
                end, agreement = "walked_away", None
                break
            else:
                messages += 1
        if agreement is not None:
            counts_a = dict(zip(CASINO_ISSUES, agreement))
            counts_b = {i: CASINO_UNITS - c for i, c in counts_a.items()}
            points = (float(casino_points(orders[0], counts_a)), float(casino_points(orders[1], counts_b)))
        else:
            points = (float(CASINO_WALK_AWAY), float(CASINO_WALK_AWAY))
        out.append(
            (
                scenario,
                HumanOutcome(
                    "casino",
                    str(d.get("dialogue_id", k)),
                    split,
                    scenario.id,
                    end,
                    agreement,
                    points,
                    tuple(None if r is None else float(r) for r in recorded),  # type: ignore[arg-type]
                    messages,
                ),
            )
        )
    return out


# --- Deal or No Deal ------------------------------------------------------------------------------

DOND_ITEMS = ("books", "hats", "balls")
DOND_TOTAL = 10
DOND_ROLES = ("side A", "side B")


def dond_scenario(counts: tuple[int, ...], values_a: tuple[int, ...], values_b: tuple[int, ...]) -> Scenario:
    total_a = sum(c * v for c, v in zip(counts, values_a))
    total_b = sum(c * v for c, v in zip(counts, values_b))
    if total_a <= 0 or total_b <= 0:
        raise TaskSetError(f"counts {counts} with values {values_a}/{values_b}: a side values nothing")

    def role(name: str, values: tuple[int, ...], total: int, mine) -> Role:
        weights = tuple(c * v / total for c, v in zip(counts, values))
        rows = tuple(tuple(mine(k, c) / c for k in range(c + 1)) for c in counts)
        worth = ", ".join(
            f"{item}: {v} point{'s' if v != 1 else ''} each" for item, v in zip(DOND_ITEMS, values)
        )
        narrative = (
            f"You are {name}. You and the other side divide {', '.join(f'{c} {i}' for c, i in zip(counts, DOND_ITEMS))}. "
            f"What each item is worth to you ({worth}; {total} points in all). If there is no deal, both of you get 0."
        )
        return Role(name, weights, rows, 0.0, narrative)

    issues = tuple(
        Issue(item, f"{c} {item} to divide.", tuple(f"A gets {k}, B gets {c - k}" for k in range(c + 1)))
        for item, c in zip(DOND_ITEMS, counts)
    )
    sid = (
        "dond-"
        + "".join(map(str, counts))
        + "-a"
        + "".join(map(str, values_a))
        + "-b"
        + "".join(map(str, values_b))
    )
    scenario = Scenario(
        id=sid,
        title="Deal or No Deal: books, hats and balls",
        context=(
            "Two people (A and B) divide a few books, hats and balls; each item goes to one of them. An option "
            "says how many side A gets of that item. With no deal neither gets anything."
        ),
        issues=issues,
        roles=(
            role(DOND_ROLES[0], values_a, total_a, lambda k, c: k),
            role(DOND_ROLES[1], values_b, total_b, lambda k, c: c - k),
        ),
        family="dealornodeal",
        stratum="dealornodeal",
        generator={"dataset": "dealornodeal", "license": DATASETS["dealornodeal"]["license"]},
    )
    validate(scenario)
    return scenario


def _ints(words: list[str], where: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in words)
    except ValueError:
        raise TaskSetError(f"{where}: expected numbers, got {' '.join(words)!r}") from None


def _selection(words: list[str]) -> tuple[int, ...] | None:
    """item0=a item1=b item2=c -> (a, b, c); None for <disconnect>, <no_agreement> and the like."""
    picked = []
    for w in words:
        if not w.startswith("item") or "=" not in w:
            return None
        try:
            picked.append(int(w.split("=", 1)[1]))
        except ValueError:
            return None
    return tuple(picked) if len(picked) == len(DOND_ITEMS) else None


@dataclass(frozen=True)
class _DondLine:
    counts: tuple[int, ...]
    mine: tuple[int, ...]
    theirs: tuple[int, ...]
    dialogue: list[str]  # utterances, "YOU: ..." / "THEM: ..."
    my_pick: tuple[int, ...] | None
    their_pick: tuple[int, ...] | None  # the tagged format records both picks
    reward: int | None  # the plain format records the line's own reward
    agree: bool | None


def _dond_line(line: str, where: str) -> _DondLine | None:
    line = line.strip()
    if not line:
        return None
    if line.startswith("<input>"):  # the tagged format of val.txt and test.txt
        try:
            inp = line.split("<input>")[1].split("</input>")[0].split()
            dialogue = line.split("<dialogue>")[1].split("</dialogue>")[0]
            output = line.split("<output>")[1].split("</output>")[0].split()
            partner = line.split("<partner_input>")[1].split("</partner_input>")[0].split()
        except IndexError:
            raise TaskSetError(f"{where}: not in the tagged Deal or No Deal format") from None
        a, b = _ints(inp, where), _ints(partner, where)
        picks = (_selection(output[:3]), _selection(output[3:6])) if len(output) >= 6 else (None, None)
        utterances = [u.strip() for u in dialogue.split("<eos>") if u.strip()]
        return _DondLine(a[0::2], a[1::2], b[1::2], utterances, picks[0], picks[1], None, None)
    words = line.split()
    if len(words) < 14 or "<selection>" not in words:
        raise TaskSetError(f"{where}: not in the plain Deal or No Deal format")
    a = _ints(words[:6], where)
    b = _ints(words[-6:], where)
    sel = words.index("<selection>")
    body = " ".join(words[6:sel])
    utterances = [u.strip() for u in body.split("<eos>") if u.strip()]
    tail = words[sel + 1 : -6]
    pick = _selection(tail[: tail.index("<eos>")] if "<eos>" in tail else tail[:3])
    reward = next(
        (int(w.split("=", 1)[1]) for w in tail if w.startswith("reward=") and w[7:].isdigit()), None
    )
    agree = "agree" in tail
    return _DondLine(a[0::2], a[1::2], b[1::2], utterances, pick, None, reward, agree)


def _swap(utterances: list[str]) -> tuple[str, ...]:
    return tuple(
        ("THEM:" + u[4:]) if u.startswith("YOU:") else ("YOU:" + u[5:]) if u.startswith("THEM:") else u
        for u in utterances
    )


def parse_dond(lines: Iterable[str], split: str, label: str) -> list[tuple[Scenario, HumanOutcome]]:
    """One outcome per dialogue, seen from its first speaker (side A); the other perspective's line
    gives side B's recorded reward and pick."""
    parsed = []
    for lineno, line in enumerate(lines, 1):
        p = _dond_line(line, f"{label}:{lineno}")
        if p is not None:
            parsed.append((lineno, p))
    by_key: dict[tuple, _DondLine] = {}
    for _, p in parsed:
        by_key[(p.counts, p.mine, p.theirs, tuple(p.dialogue))] = p
    out = []
    cache: dict[tuple, Scenario] = {}
    for lineno, p in parsed:
        if not p.dialogue or not p.dialogue[0].startswith("YOU:"):
            continue  # the second speaker's copy of a dialogue
        other = by_key.get((p.counts, p.theirs, p.mine, _swap(p.dialogue)))
        key = (p.counts, p.mine, p.theirs)
        if key not in cache:
            cache[key] = dond_scenario(*key)
        scenario = cache[key]
        their_pick = p.their_pick if p.their_pick is not None else (other.my_pick if other else None)
        agreed = (
            p.my_pick is not None
            and their_pick is not None
            and all(m + t == c for m, t, c in zip(p.my_pick, their_pick, p.counts))
            and (p.agree is not False)
        )
        agreement = p.my_pick if agreed else None
        if agreement is not None:
            points = (
                float(sum(k * v for k, v in zip(agreement, p.mine))),
                float(sum((c - k) * v for c, k, v in zip(p.counts, agreement, p.theirs))),
            )
        else:
            points = (0.0, 0.0)
        recorded = (
            float(p.reward) if p.reward is not None else None,
            float(other.reward) if other is not None and other.reward is not None else None,
        )
        out.append(
            (
                scenario,
                HumanOutcome(
                    "dealornodeal",
                    f"{split}:{lineno}",
                    split,
                    scenario.id,
                    "accepted" if agreement is not None else "no_agreement",
                    agreement,
                    points,
                    recorded,
                    len(p.dialogue),
                ),
            )
        )
    return out


# --- task sets ------------------------------------------------------------------------------------

CASINO_FILES = {"train": "casino_train.json", "valid": "casino_valid.json", "test": "casino_test.json"}
DOND_FILES = {"train": "data.txt", "valid": "val.txt", "test": "test.txt"}


def read_dataset(kind: str, path: Path) -> dict[str, list[tuple[Scenario, HumanOutcome]]]:
    """Every split found under PATH (a folder holding the upstream files, or one file)."""
    path = Path(path)
    if kind not in DATASETS:
        import difflib

        hint = difflib.get_close_matches(kind, list(DATASETS), n=1)
        raise TaskSetError(
            f"unknown human dataset {kind!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f" Known: {', '.join(DATASETS)}"
        )
    names = CASINO_FILES if kind == "casino" else DOND_FILES
    files = {split: path / name for split, name in names.items()} if path.is_dir() else {"test": path}
    found = {split: f for split, f in files.items() if f.is_file()}
    if not found:
        raise TaskSetError(
            f"{path}: none of {', '.join(names.values())} is there (the {DATASETS[kind]['title']} files)"
        )
    out = {}
    for split, f in found.items():
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskSetError(f"{f}: cannot be read ({type(exc).__name__})") from None
        if kind == "casino":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TaskSetError(f"{f}:{exc.lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(data, list):
                raise TaskSetError(f"{f}: a CaSiNo split is a JSON list of dialogues")
            out[split] = parse_casino(data, split, str(f))
        else:
            out[split] = parse_dond(text.splitlines(), split, str(f))
    return out


def dataset_card(kind: str, name: str, splits: dict[str, int], dialogues: dict[str, int]) -> str:
    meta = DATASETS[kind]
    data_files = "\n".join(f"  - split: {s}\n    path: {s}.jsonl" for s in splits)
    commercial = (
        ""
        if meta["commercial"]
        else "\n**Non-commercial.** The source is licensed CC BY-NC 4.0: this folder and anything derived from it "
        "may not be used commercially, and it is never shipped in the arena-bench package.\n"
    )
    return f"""---
pretty_name: arena-bench {name}
license: {meta["license"].lower().replace(" ", "-")}
tags:
- negotiation
- human
configs:
- config_name: default
  data_files:
{data_files}
---

# arena-bench task set `{name}`: {meta["title"]}

Imported with `arena-bench tasks import-human {kind}` from the human-human dialogues of
{meta["citation"]} ({meta["source"]}), license **{meta["license"]}**.
{commercial}
One scenario per distinct pair of private tables; each line stores its exact analysis.
`{HUMAN_OUTCOMES}` holds each dialogue's outcome (allocation or no deal, each side's points, the number of
messages); nothing personal and no message text is kept.

| split | scenarios | human dialogues |
| --- | --- | --- |
{chr(10).join(f"| {s} | {splits[s]} | {dialogues[s]} |" for s in splits)}

Humans negotiated in free text, agents in arena-bench's protocol: a comparison is of outcomes, not of process.
"""


def build_human_files(
    kind: str, found: dict[str, list[tuple[Scenario, HumanOutcome]]], name: str
) -> dict[str, bytes]:
    from .tasks import manifest_bytes, scenario_line

    files: dict[str, bytes] = {}
    splits, dialogues = {}, {}
    outcomes: list[str] = []
    for split, pairs in found.items():
        seen: dict[str, Scenario] = {}
        for scenario, outcome in pairs:
            seen.setdefault(scenario.id, scenario)
            outcomes.append(json.dumps({"format": HUMAN_FORMAT, **outcome.to_dict()}, sort_keys=True))
        lines = [scenario_line(seen[sid]) for sid in sorted(seen)]  # each line holds its exact analysis
        files[f"{split}.jsonl"] = ("\n".join(lines) + "\n").encode()
        splits[split] = len(lines)
        dialogues[split] = len(pairs)
    files[HUMAN_OUTCOMES] = ("\n".join(outcomes) + "\n").encode()
    files["README.md"] = dataset_card(kind, name, splits, dialogues).encode()
    files["LICENSE.md"] = (
        f"{DATASETS[kind]['title']}: {DATASETS[kind]['citation']}.\nSource: {DATASETS[kind]['source']}\n"
        f"License: {DATASETS[kind]['license']}"
        + ("" if DATASETS[kind]["commercial"] else " (non-commercial use only)")
        + "\nThe scenarios and outcomes in this folder are derived from it and carry the same license.\n"
    ).encode()
    name_part, _, version = name.rpartition("-v")
    files["MANIFEST.json"] = manifest_bytes(name_part, int(version), files, splits)
    return files


def import_human(
    kind: str, path: Path, out: Path, overwrite: bool = False, name: str | None = None
) -> dict[str, Any]:
    """Write the task set folder (manifest, card, license) and its ``human_outcomes.jsonl``."""
    from .tasks import write_atomic_dir

    found = read_dataset(kind, path)
    name = name or f"human-{kind}-v1"
    files = build_human_files(kind, found, name)
    write_atomic_dir(files, Path(out), overwrite=overwrite)
    return {
        "manifest": json.loads(files["MANIFEST.json"]),
        "dialogues": {s: len(p) for s, p in found.items()},
        "checks": point_checks([o for pairs in found.values() for _, o in pairs]),
    }


def point_checks(outcomes: list[HumanOutcome]) -> dict[str, int]:
    """How many recorded points the recomputation reproduces, over the dialogues that record them
    (CaSiNo: every deal; Deal or No Deal: deals whose both sides' rewards are recorded)."""
    checked = matched = 0
    for o in outcomes:
        if o.end != "accepted":
            continue
        for mine, recorded in zip(o.points, o.recorded_points):
            if recorded is None:
                continue
            checked += 1
            matched += abs(mine - recorded) < 1e-9
    return {"checked": checked, "matched": matched}


def read_outcomes(folder: Path) -> list[HumanOutcome]:
    path = Path(folder) / HUMAN_OUTCOMES
    if not path.is_file():
        raise TaskSetError(f"{path}: missing; import the dataset with arena-bench tasks import-human")
    out = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append(HumanOutcome.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                raise TaskSetError(f"{path}:{lineno}: not a human outcome") from None
    return out


# --- the same metrics for humans and agents, and their paired comparison ---------------------------

HUMAN_METRICS: tuple[tuple[str, str, str], ...] = (
    ("deal", "Deal rate", "share of dialogues (games) that ended in a deal"),
    ("pareto", "Pareto-optimal (of deals)", "share of deals on the Pareto frontier"),
    ("joint", "Joint points / best (deals)", "both sides' points over the best joint points of the scenario"),
    ("welfare", "Welfare (Nash share)", "Nash product of the gains over its maximum; 0 for no deal"),
    (
        "value_a",
        "Value, side A",
        "side A's gain over its outside option, as a share of its best possible gain",
    ),
    ("value_b", "Value, side B", "the same for side B"),
    ("below_batna", "Below-BATNA deals", "share of deals worse than a side's outside option"),
    ("arena", "Arena Score (mean of sides)", "(Value + Welfare) / 2, averaged over the two sides"),
)
COMPARED = ("deal", "pareto", "joint")


def outcome_metrics(scenario: Scenario, analysis, agreement) -> dict[str, float]:
    """SPEC section 4's per-game metrics from a scenario and a final agreement (None: no deal), with
    NaN where a metric is defined on deals only. The same numbers as a played game's record."""
    import math

    from ..core.analysis import DECIMALS
    from ..core.metrics import frontier_array, pareto_optimal, value_share, welfare

    batna = (scenario.roles[0].batna, scenario.roles[1].batna)
    deal = agreement is not None
    u = tuple(round(x, DECIMALS) for x in scenario.utilities(agreement)) if deal else batna
    n = welfare(analysis.zopa, deal, u, batna, analysis.nash_product)
    values = [value_share(u[i], batna[i], analysis.best[i]) if deal else 0.0 for i in (0, 1)]
    best_joint = sum(analysis.max_joint.u)
    nan = math.nan
    return {
        "deal": float(deal),
        "pareto": float(pareto_optimal(u, frontier_array(analysis))) if deal else nan,
        "joint": (u[0] + u[1]) / best_joint if deal and best_joint > 0 else nan,
        "welfare": float(n),
        "value_a": values[0],
        "value_b": values[1],
        "below_batna": float(u[0] < batna[0] - 1e-12 or u[1] < batna[1] - 1e-12) if deal else nan,
        "arena": ((values[0] + n) / 2 + (values[1] + n) / 2) / 2,
    }


def _analyses(scenarios: dict[str, Scenario]) -> dict[str, Any]:
    from ..core.analysis import analyse

    return {sid: analyse(s) for sid, s in scenarios.items()}


def human_rows(
    outcomes: list[HumanOutcome], scenarios: dict[str, Scenario], b: int = 2000, seed: int | None = None
):
    """Each metric over the human dialogues, with a cluster-bootstrap interval over scenarios."""
    import numpy as np

    from ..core.stats import DEFAULT_SEED, cluster_bootstrap

    analyses = _analyses({o.scenario_id: scenarios[o.scenario_id] for o in outcomes})
    rows = [outcome_metrics(scenarios[o.scenario_id], analyses[o.scenario_id], o.agreement) for o in outcomes]
    values = np.array([[r[k] for k, _, _ in HUMAN_METRICS] for r in rows], dtype=float)
    estimates = cluster_bootstrap(
        values, np.array([o.scenario_id for o in outcomes]), b=b, seed=seed or DEFAULT_SEED
    )
    return dict(zip((k for k, _, _ in HUMAN_METRICS), estimates))


def _per_scenario(ids: list[str], rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    import numpy as np

    out: dict[str, dict[str, list[float]]] = {}
    for sid, r in zip(ids, rows):
        for k, v in r.items():
            out.setdefault(sid, {}).setdefault(k, []).append(v)
    return {
        sid: {k: (float(np.nanmean(v)) if not all(np.isnan(v)) else float("nan")) for k, v in m.items()}
        for sid, m in out.items()
    }


def compare_with_humans(
    outcomes: list[HumanOutcome],
    scenarios: dict[str, Scenario],
    games,
    agent: str,
    b: int = 2000,
    seed: int | None = None,
) -> dict[str, Any]:
    """The agent's games against the humans' dialogues on the same scenarios, paired by scenario:
    for each compared metric, the mean over scenarios of (agent's mean - humans' mean), with a
    cluster-bootstrap interval over scenarios. Two rows: the agent's self-play, and its games
    against other players (its own side's metrics are not separated: these are outcomes of pairs)."""
    import numpy as np

    from ..core.stats import DEFAULT_SEED, cluster_bootstrap

    analyses = _analyses(scenarios)
    human = _per_scenario(
        [o.scenario_id for o in outcomes],
        [outcome_metrics(scenarios[o.scenario_id], analyses[o.scenario_id], o.agreement) for o in outcomes],
    )
    out: dict[str, Any] = {"agent": agent, "rows": {}}
    for label, pick in (
        ("self-play", lambda g: g.players[0] == agent and g.players[1] == agent),
        ("vs others", lambda g: (agent in g.players) and g.players[0] != g.players[1]),
    ):
        mine = [g for g in games if pick(g) and g.scenario_id in human]
        if not mine:
            continue
        agent_means = _per_scenario(
            [g.scenario_id for g in mine],
            [
                outcome_metrics(scenarios[g.scenario_id], analyses[g.scenario_id], g.outcome.agreement)
                for g in mine
            ],
        )
        shared = sorted(agent_means)
        diffs = np.array([[agent_means[s][k] - human[s][k] for k in COMPARED] for s in shared], dtype=float)
        means = np.array([[agent_means[s][k] for k in COMPARED] for s in shared], dtype=float)
        hum = np.array([[human[s][k] for k in COMPARED] for s in shared], dtype=float)
        cluster = np.arange(len(shared))
        row = {
            "scenarios": len(shared),
            "games": len(mine),
            "agent": dict(zip(COMPARED, cluster_bootstrap(means, cluster, b=b, seed=seed or DEFAULT_SEED))),
            "humans": dict(zip(COMPARED, cluster_bootstrap(hum, cluster, b=b, seed=seed or DEFAULT_SEED))),
            "difference": dict(
                zip(COMPARED, cluster_bootstrap(diffs, cluster, b=b, seed=seed or DEFAULT_SEED))
            ),
        }
        out["rows"][label] = row
    return out
