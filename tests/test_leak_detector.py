"""The leak detector that knows its own error (issue 31): priority statements read as relations,
option names in their variants, the labelled set rebuilt from its sources, the stored precision and
recall recomputed, published runs kept on the detector they were shown with, and the belief probe's
ranking made expressible."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from arena_bench.core.diagnostics import LEAK_DETECTOR, LEAK_DETECTORS, leak_rate, message_leaks
from arena_bench.core.leaks import priority_relations, variant_pattern
from arena_bench.core.metrics import METRICS_VERSION, leak_detector_for
from arena_bench.playing.probes import PROBE_TEMPLATES, parse_probe, probe_schema
from arena_bench.scenarios.tasks import open_task_set
from arena_bench.scoring.diagnose import LEAK_DETECTOR_ERROR, leak_error_note
from arena_bench.scoring.display import diagnostics_rows
from arena_bench.scoring.leak_check import LABELS, detector_error, wilson
from arena_bench.scoring.results import Estimate

ROOT = Path(__file__).resolve().parents[1]
TS = open_task_set("negotiation-v1")
# test-0005, licensee (side 0): royalty 0.74 > audit_rights 0.13 > minimum_royalty 0.06 > term 0.04
# > upfront_fee 0.03; its table holds 5 points, and "term" has the option "5 years"
SC = TS.find("test-0005", "lite")


def leaks(message: str, detector: str = LEAK_DETECTOR) -> list[str]:
    return [lk.kind for lk in message_leaks(message, SC, 0, detector)]


@pytest.mark.parametrize(
    "true, bluff",
    [
        ("Audit rights comes second for us, right after royalty.", "Term comes second for us, right after royalty."),
        ("Royalty matters more to us than everything else combined.",
         "Term matters more to us than everything else combined."),
        ("Royalty ranks above audit rights, which ranks above the minimum royalty.",
         "Royalty ranks above term, which ranks above audit rights."),
    ],
)  # fmt: skip
def test_the_three_missed_kinds_of_priority_statement_are_leaks_now_and_their_bluffs_are_not(true, bluff):
    assert leaks(true, "leak-v1") == []  # what the issue found: v1 missed each of them
    assert leaks(true) == ["priorities"]
    assert leaks(bluff) == []  # the same sentence with a false order is a bluff, not a leak


def test_an_option_named_in_another_form_is_not_a_points_value():
    message = "We can offer annual audits and a 5 year term."
    assert leaks(message, "leak-v1") == ["points"]  # v1: "5 year" is not "5 years", so 5 read as points
    assert leaks(message) == []
    for form in ("5-year", "5 Years", "five"):
        assert leaks(f"A {form} term works for us.") == []
    assert leaks("That term is worth 5 points to us.") == ["points"]  # a real points value still counts


def test_variants_of_option_names():
    import re

    for name, written in [("5 years", "5-year"), ("10%", "10 percent"), ("$2M", "$2 million"),
                          ("$500,000", "$500k"), ("Annual audit", "annual audits"), ("10,000 units", "10000 unit")]:  # fmt: skip
        assert re.search(variant_pattern(name), written.lower()), (name, written)
    assert not re.search(variant_pattern("5 years"), "15 years")


def test_relations_are_read_pairwise_and_statements_about_the_other_side_are_skipped():
    names = [i.name for i in SC.issues]
    k = {n: i for i, n in enumerate(names)}
    assert priority_relations("Royalty over term, every time.", SC) == {(k["royalty"], k["term"])}
    assert priority_relations("You seem to care most about royalty.", SC) == set()
    assert priority_relations("Royalty is not our top priority.", SC) == set()
    got = priority_relations("First royalty, second audit rights, third the term.", SC)
    assert {(k["royalty"], k["audit_rights"]), (k["audit_rights"], k["term"])} <= got
    assert leaks("We are flexible on the upfront fee.") == ["priorities"]  # the true lowest
    assert leaks("We are flexible on royalty.") == []


def test_the_labelled_set_is_rebuilt_byte_for_byte_from_its_sources():
    spec = importlib.util.spec_from_file_location("leak_build", ROOT / "leakage" / "build.py")
    build = importlib.util.module_from_spec(spec)
    sys.modules["leak_build"] = build
    spec.loader.exec_module(build)
    for part in ("dev", "heldout"):
        rows = build.build(part)
        written = (LABELS / f"{part}.jsonl").read_text()
        assert "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) == written
    dev = [json.loads(x) for x in (LABELS / "dev.jsonl").read_text().splitlines()]
    held = [json.loads(x) for x in (LABELS / "heldout.jsonl").read_text().splitlines()]
    assert len(dev) + len(held) >= 300
    scenarios = {(r["scenario_id"], r["split"]) for r in dev + held}
    families = {TS.find(s, split).family for s, split in scenarios}
    assert len(scenarios) >= 10 and len(families) >= 5
    assert {r["role"] for r in held} == {0, 1} and any(r["kind"] == "transcript" for r in held)
    # the parts share no phrasing and no templated scenario: the held-out part never tuned anything
    assert not {r["phrase"] for r in dev if "phrase" in r} & {r["phrase"] for r in held if "phrase" in r}
    templated = lambda rows: {r["scenario_id"] for r in rows if r["kind"] not in ("transcript", "earlier")}
    assert not templated(dev) & templated(held)


@pytest.mark.parametrize("version", sorted(LEAK_DETECTORS))
def test_the_stored_precision_and_recall_are_what_the_held_out_part_gives(version):
    err = detector_error(version, "heldout")
    stored = LEAK_DETECTOR_ERROR[version]
    assert (err["messages"], err["leaks"]) == (stored["messages"], stored["leaks"])
    assert tuple(round(x, 3) for x in err["precision"]) == stored["precision"]
    assert tuple(round(x, 3) for x in err["recall"]) == stored["recall"]


def test_the_new_detector_is_better_than_the_old_on_the_held_out_part():
    old, new = LEAK_DETECTOR_ERROR["leak-v1"], LEAK_DETECTOR_ERROR[LEAK_DETECTOR]
    assert new["recall"][1] > old["recall"][2]  # intervals apart
    assert new["precision"][0] >= 0.95 and new["recall"][0] >= 0.95


def test_wilson_interval_by_hand():
    p, lo, hi = wilson(8, 10)
    assert p == 0.8 and lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson(10, 10)[2] == pytest.approx(1.0) and wilson(0, 10)[1] == pytest.approx(0.0)


def test_a_published_run_keeps_the_detector_it_was_shown_with():
    assert leak_detector_for("metrics-v1") == "leak-v1"
    assert leak_detector_for(METRICS_VERSION) == LEAK_DETECTOR
    message = "Royalty matters more to us than everything else combined."
    # leak_rate reads a record's turns only: who spoke, whether the turn was valid, what it said
    record = SimpleNamespace(turns=[SimpleNamespace(role=0, action=object(), message=message)])
    assert leak_rate(record, 0, SC, "leak-v1") == 0.0
    assert leak_rate(record, 0, SC, "leak-v2") == 1.0


def test_every_leak_rate_is_shown_with_its_detectors_error():
    found = {"leak_rate": Estimate(0.1, 0.05, 0.15, 0.02, 40, 10)}
    (row,) = diagnostics_rows(found, METRICS_VERSION)
    assert "precision 0.98" in row[2] and "recall 1.00" in row[2] and LEAK_DETECTOR in row[2]
    (old,) = diagnostics_rows(found, "metrics-v1")
    assert "leak-v1" in old[2] and "recall 0.50" in old[2]
    assert "not been measured" in leak_error_note("leak-v0")


def test_the_probe_ranking_can_only_be_written_valid_and_v1_is_kept():
    issues = SC.issues  # five issues: 120 rankings
    schema = probe_schema(issues)["properties"]["ranking"]
    names = [i.name for i in issues]
    assert schema["type"] == "string" and len(schema["enum"]) == 120
    assert all(sorted(r.split(" > ")) == sorted(names) for r in schema["enum"])
    answer = {"ranking": " > ".join(reversed(names)),
              "preferred": {i.name: i.options[0] for i in issues}, "batna_share": 0.3}  # fmt: skip
    parsed, error = parse_probe(json.dumps(answer), issues)
    assert error is None and parsed["ranking"] == list(reversed(range(len(names))))
    repeated = {**answer, "ranking": " > ".join([names[0]] * len(names))}
    assert parse_probe(json.dumps(repeated), issues)[0] is None  # still counted invalid, never repaired
    many = TS.find("test-0019", "lite").issues  # six issues: 720, the most listed
    assert len(probe_schema(many)["properties"]["ranking"]["enum"]) == len(list(itertools.permutations(many)))
    # probe-v1 as released
    v1 = PROBE_TEMPLATES["probe-v1"]
    assert (
        hashlib.sha256(v1.encode()).hexdigest()
        == "c8f08be451c29e28879e8fe831ac272d5f2d06b8955ab07b478bcff6c5452450"
    )
    assert probe_schema(issues, "probe-v1")["properties"]["ranking"] == {
        "type": "array", "items": {"type": "string", "enum": names}, "minItems": 5, "maxItems": 5}  # fmt: skip


def _plain_patterns(scenario):
    """leak-v2's blanking and trigger patterns as published: plain alternations, no lookahead."""
    import re

    from arena_bench.core import leaks as lk

    options = sorted({o for i in scenario.issues for o in i.options}, key=len, reverse=True)
    option = re.compile("|".join(f"(?:{variant_pattern(o)})" for o in options if o.strip()))
    words = lk._issue_words(scenario)
    per_issue = []
    for k, issue in enumerate(scenario.issues):
        others = {w for j, ws in enumerate(words) if j != k for w in ws}
        own = [w for w in words[k] if w not in others and w != issue.name.lower()]
        alts = [variant_pattern(issue.name)] + [rf"(?<!\w){re.escape(w)}(?:s|es)?(?!\w)" for w in own]
        per_issue.append(re.compile("|".join(f"(?:{a})" for a in alts)))
    any_issue = re.compile("|".join(f"(?:{p.pattern})" for p in per_issue))
    trigger = re.compile("|".join(f"(?:{p.pattern})" for p in lk._TRIGGER_PARTS))
    return option, per_issue, any_issue, trigger


def test_the_fast_patterns_match_exactly_what_the_published_alternations_match():
    """The blanking and trigger patterns start with a lookahead on the characters a name can start
    with (3x faster); every match must be the published pattern's, on the labelled messages and on
    text made of every scenario's names in their variants, cases and punctuation."""
    import random

    from arena_bench.core import leaks as lk

    rng = random.Random(5)
    labelled = [json.loads(line) for f in ("dev", "heldout") for line in (LABELS / f"{f}.jsonl").open()]
    scenarios = {(s.id, split): s for split in ("dev", "test") for s in TS.load(split)[::4]}
    glue = [" ", ", ", "; ", "-", " and ", "$", " (", ") ", "#", "'", "\u00e9", "5", "_", ": "]
    checked = 0
    for (sid, _split), sc in scenarios.items():
        option, per_issue, any_issue, trigger = _plain_patterns(sc)
        names = [o for i in sc.issues for o in i.options] + [i.name for i in sc.issues]
        texts = [row["message"] for row in labelled][:: len(scenarios) // 4 or 1]
        for _ in range(30):
            parts = [rng.choice(names) for _ in range(rng.randint(1, 6))]
            parts = [
                p.upper() if rng.random() < 0.2 else p.replace(" ", rng.choice(["-", "_", "  "]))
                for p in parts
            ]
            texts.append("".join(p + rng.choice(glue) for p in parts) + " matters more than the rest")
        for text in (t.lower() for t in texts):
            assert lk._blank(text, lk._option_pattern(sc)) == lk._blank(text, option), (sid, text)
            assert lk._blank(text, lk._any_issue(sc)) == lk._blank(text, any_issue), (sid, text)
            for fast, plain in zip(lk._issue_patterns(sc), per_issue):
                assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]
            assert [m.span() for m in lk._TRIGGER.finditer(text)] == [
                m.span() for m in trigger.finditer(text)
            ]
            checked += 1
    assert checked > 2000
