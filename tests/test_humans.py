"""Humans on the same scale (issue 27): the CaSiNo and Deal or No Deal importers on small fixture
files written in the upstream formats, the human reference rows, and agents compared with humans
on the same scenarios; the full copies in ../shared/data/human/ in a slow test when they are there."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.core.analysis import analyse
from arena_bench.scenarios.humans import (
    HUMAN_OUTCOMES,
    casino_scenario,
    compare_with_humans,
    dond_scenario,
    human_rows,
    outcome_metrics,
    read_dataset,
    read_outcomes,
)
from arena_bench.scenarios.tasks import open_task_set, validate_task_set

FIXTURES = Path(__file__).parent / "data" / "human"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "human"


@pytest.fixture
def casino_dir(tmp_path):
    folder = tmp_path / "casino-upstream"
    folder.mkdir()
    for name in ("casino_train.json", "casino_test.json"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


@pytest.fixture
def dond_dir(tmp_path):
    folder = tmp_path / "dond-upstream"
    folder.mkdir()
    for name in ("data.txt", "test.txt"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def test_casino_points_are_the_scenarios_utilities_exactly():
    s = casino_scenario(("Firewood", "Water", "Food"), ("Food", "Water", "Firewood"))
    # camper A gets 3 firewood, 2 water, 0 food: 15 + 8 = 23 of 36 points; B the rest: 15 + 4 = 19
    agreement = (0, 2, 3)  # food, water, firewood: what A gets
    ua, ub = s.utilities(agreement)
    assert round(36 * ua, 9) == 23 and round(36 * ub, 9) == 19
    assert s.roles[0].batna == pytest.approx(5 / 36) and s.stratum == "different_priorities"


def test_dond_points_are_the_scenarios_utilities_exactly():
    s = dond_scenario((1, 4, 1), (0, 2, 2), (4, 1, 2))
    ua, ub = s.utilities((0, 4, 0))
    assert round(10 * ua, 9) == 8 and round(10 * ub, 9) == 6 and s.roles[0].batna == 0.0


def test_the_importers_read_both_upstream_formats_and_reproduce_the_recorded_points(casino_dir, dond_dir):
    casino = read_dataset("casino", casino_dir)
    assert {k: len(v) for k, v in casino.items()} == {"train": 3, "test": 1}
    ends = [o.end for _, o in casino["train"]]
    assert ends == ["accepted", "accepted", "walked_away"]  # a rejected deal then a new one is accepted
    for _, o in [*casino["train"], *casino["test"]]:
        assert o.points == o.recorded_points
    assert len({s.id for s, _ in casino["train"]}) == 2  # two dialogues on one pair of priority orders

    dond = read_dataset("dealornodeal", dond_dir)
    train, test = dond["train"], dond["test"]
    assert len(train) == 2 and len(test) == 2  # one outcome per dialogue (its first speaker's line)
    deal, no_deal = train
    assert deal[1].points == deal[1].recorded_points == (8.0, 6.0) and no_deal[1].end == "no_agreement"
    assert test[0][1].agreement == (2, 3, 0) and test[0][1].points == (10.0, 7.0)
    assert test[1][1].end == "no_agreement"  # a disconnect


def test_import_human_writes_a_runnable_task_set_with_outcomes_and_license_and_nothing_personal(
    casino_dir, dond_dir, tmp_path
):
    out = tmp_path / "casino-set"
    r = CliRunner().invoke(main, ["tasks", "import-human", "casino", str(casino_dir), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "recorded points reproduced: 6 of 6" in r.output
    assert validate_task_set(out) == []
    ts = open_task_set(out)
    assert ts.splits == ["train", "test"] and ts.full_name == "human-casino-v1"
    text = "".join(p.read_text() for p in out.iterdir())
    for private in ("secret reason text", "female", "proself", "satisfied", "Hello! I need firewood"):
        assert private not in text
    outcomes = read_outcomes(out)
    assert [o.messages for o in outcomes if o.split == "train"] == [2, 2, 2]
    assert "CC BY 4.0" in (out / "README.md").read_text() and "CC BY 4.0" in (out / "LICENSE.md").read_text()

    dond_out = tmp_path / "dond-set"
    r = CliRunner().invoke(
        main, ["tasks", "import-human", "dealornodeal", str(dond_dir), "--out", str(dond_out)]
    )
    assert r.exit_code == 0, r.output
    card = (dond_out / "README.md").read_text()
    assert "CC BY-NC 4.0" in card and "Non-commercial" in card
    assert (dond_out / HUMAN_OUTCOMES).is_file() and validate_task_set(dond_out) == []
    # a scripted agent plays the imported set like any other
    run = CliRunner().invoke(
        main,
        ["run", "--model", "scripted/linear", "--tasks", str(dond_out), "--split", "test", "--output-path",
         str(tmp_path / "runs"), "--no-progress", "--bootstrap", "50"],
    )  # fmt: skip
    assert run.exit_code == 0, run.output


def test_human_rows_and_the_comparison_use_the_boards_definitions(casino_dir, tmp_path):
    out = tmp_path / "casino-set"
    CliRunner().invoke(main, ["tasks", "import-human", "casino", str(casino_dir), "--out", str(out)])
    ts = open_task_set(out)
    scenarios = {s.id: s for s in ts.load("train")}
    outcomes = [o for o in read_outcomes(out) if o.split == "train"]
    rows = human_rows(outcomes, scenarios, b=100)
    assert rows["deal"].mean == pytest.approx(2 / 3)
    # the walk-away scores the outside option: Value 0, Welfare 0
    walk = next(o for o in outcomes if o.end == "walked_away")
    m = outcome_metrics(scenarios[walk.scenario_id], analyse(scenarios[walk.scenario_id]), None)
    assert m["value_a"] == m["welfare"] == 0.0 and m["pareto"] != m["pareto"]  # NaN: defined on deals only

    played = CliRunner().invoke(
        main,
        ["tournament", "--agents", "scripted/linear,scripted/logroller", "--tasks", str(out), "--split", "train",
         "--output-path", str(tmp_path / "runs"), "--no-progress", "--bootstrap", "50"],
    )  # fmt: skip
    assert played.exit_code == 0, played.output
    (run_dir,) = (tmp_path / "runs").glob("*/*/results.json")
    from arena_bench.scoring.results import load_run

    run = load_run(run_dir.parent)
    found = compare_with_humans(outcomes, scenarios, run.games, "scripted/logroller", b=100)
    self_play = found["rows"]["self-play"]
    assert self_play["scenarios"] == 2 and set(self_play["difference"]) == {"deal", "pareto", "joint"}
    # the paired difference is the mean over scenarios of (agent's mean - humans' mean)
    agent_deal = {g.scenario_id: [] for g in run.games}
    for g in run.games:
        if g.players == ("scripted/logroller", "scripted/logroller"):
            agent_deal[g.scenario_id].append(float(g.outcome.deal))
    human_deal = {}
    for o in outcomes:
        human_deal.setdefault(o.scenario_id, []).append(float(o.end == "accepted"))
    expected = sum(
        sum(agent_deal[s]) / len(agent_deal[s]) - sum(h) / len(h) for s, h in human_deal.items()
    ) / len(human_deal)
    assert self_play["difference"]["deal"].mean == pytest.approx(expected)

    cmp = CliRunner().invoke(
        main, ["humans", "compare", str(out), str(run_dir.parent), "--split", "train", "--bootstrap", "50",
               "--json", str(tmp_path / "cmp.json")]
    )  # fmt: skip
    assert cmp.exit_code == 0, cmp.output and "outcomes, not process" in cmp.output
    report = json.loads((tmp_path / "cmp.json").read_text())
    assert {c["agent"] for c in report["comparisons"]} == {"scripted/linear", "scripted/logroller"}
    assert report["license"] == "CC BY 4.0"

    # the site's Humans section: the reference rows and the comparison, with the source and license
    rows_json = tmp_path / "rows.json"
    assert (
        CliRunner()
        .invoke(main, ["humans", "rows", str(out), "--bootstrap", "50", "--json", str(rows_json)])
        .exit_code
        == 0
    )
    from arena_bench.board.leaderboard import build
    from arena_bench.board.verify import expected_for

    (tmp_path / "empty").mkdir()
    build(tmp_path / "empty", tmp_path / "site", expected_for("negotiation-v1", "lite"), b=50,
          humans=(rows_json, tmp_path / "cmp.json"))  # fmt: skip
    index = (tmp_path / "site" / "index.html").read_text()
    section = index.split("<h2 id='humans'>Humans</h2>")[1].split("<h2>Refused runs</h2>")[0]
    assert "human-casino-v1: human-human reference rows" in section and "CC BY 4.0" in section
    assert (
        "humans, train" in section and "scripted/logroller" in section and "outcomes, not of process" in index
    )


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="the full human datasets are not in ../shared/data/human")
def test_the_full_copies_import_with_every_recorded_point_reproduced(tmp_path):
    from arena_bench.scenarios.humans import import_human

    casino = import_human("casino", SHARED / "casino", tmp_path / "casino")
    assert casino["dialogues"] == {"train": 900, "valid": 30, "test": 100}
    assert casino["checks"]["checked"] == casino["checks"]["matched"] == 2 * 1005
    dond = import_human("dealornodeal", SHARED / "dealornodeal", tmp_path / "dond")
    assert dond["checks"]["checked"] == dond["checks"]["matched"] > 9000
    outcomes = read_outcomes(tmp_path / "casino")
    assert sum(o.end == "walked_away" for o in outcomes) == 25


def test_an_interrupted_runs_games_file_is_compared_and_marked_partial(casino_dir, tmp_path):
    """``humans compare`` on a run that never wrote its results file (stopped, or still going):
    its non-panel players are compared from games.jsonl, and the row says it is partial."""
    out = tmp_path / "casino-set"
    CliRunner().invoke(main, ["tasks", "import-human", "casino", str(casino_dir), "--out", str(out)])
    agent = Path(__file__).resolve().parent.parent / "examples" / "my_agent.py"
    r = CliRunner().invoke(
        main,
        ["run", "--model", f"py:{agent}:Halfway", "--tasks", str(out), "--split", "train", "--opponents",
         "scripted/linear", "--output-path", str(tmp_path / "runs"), "--no-progress", "--bootstrap", "50"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (games,) = (tmp_path / "runs").glob("*/*/games.jsonl")
    (games.parent / "results.json").unlink()  # as an interrupted run leaves it
    cmp = CliRunner().invoke(
        main, ["humans", "compare", str(out), str(games), "--split", "train", "--bootstrap", "50",
               "--json", str(tmp_path / "cmp.json")]
    )  # fmt: skip
    assert cmp.exit_code == 0, cmp.output
    (entry,) = json.loads((tmp_path / "cmp.json").read_text())["comparisons"]
    assert entry["agent"] == f"py:{agent}:Halfway" and entry["partial"] is True
    assert set(entry["rows"]) == {"self-play", "vs others"}
