"""Hostile submissions (issue 26): every shown number recomputed, files past the reader's limits
refused with a reason, one bad run never stopping a build, one row per model name, and a
property-based fuzz of the loader (only ResultsError or a list of reasons, never a crash)."""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arena_bench.board.leaderboard import build
from arena_bench.board.verify import check_game, expected_for, validate_and_verify, verify_run
from arena_bench.core.analysis import analyse
from arena_bench.core.records import GameRecord
from arena_bench.errors import ResultsError
from arena_bench.planning import page_slug
from arena_bench.scenarios.tasks import open_task_set
from arena_bench.scoring.results import RunResults

from .leaderboard_fixtures import evaluation_run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    return evaluation_run(tmp_path_factory.mktemp("runs"), model="scripted/linear")


@pytest.fixture
def copy_run(real_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(real_run, target)
    return target


def _lines(run):
    return (run / "games.jsonl").read_text().splitlines()


def _edit(run, index, fn):
    lines = _lines(run)
    g = json.loads(lines[index])
    fn(g)
    lines[index] = json.dumps(g)
    (run / "games.jsonl").write_text("\n".join(lines) + "\n")
    return g


def _first_deal(run) -> int:
    return next(i for i, line in enumerate(_lines(run)) if json.loads(line)["outcome"]["deal"])


@pytest.mark.parametrize(
    "field, change",
    [
        ("pareto_optimal", lambda o, s: o.update(pareto_optimal=not o["pareto_optimal"])),
        (
            "distance_to_frontier",
            lambda o, s: o.update(distance_to_frontier=0.0 if o["distance_to_frontier"] else 0.3),
        ),
        ("turns", lambda o, s: o.update(turns=o["turns"] + 3)),
        ("turns_to_agreement", lambda o, s: o.update(turns_to_agreement=1)),
        ("agreement_text", lambda o, s: o.update(agreement_text={"x": "y"})),
        ("anchor_value", lambda o, s: s[0].update(anchor_value=0.99)),
        ("offers", lambda o, s: s[0].update(offers=s[0]["offers"] + 5)),
        ("rational", lambda o, s: s[0].update(rational=not s[0]["rational"])),
        ("repairs", lambda o, s: s[1].update(repairs=2)),
    ],
)
def test_every_shown_field_is_recomputed(copy_run, field, change):
    index = _first_deal(copy_run)
    g = _edit(copy_run, index, lambda g: change(g["outcome"], g["sides"]))
    reasons, _ = verify_run(copy_run, expected_for("negotiation-v1", "lite"))
    assert any(g["game_id"] in r and field in r for r in reasons), reasons


def test_a_deep_line_a_wrong_type_a_bomb_and_a_huge_message_are_refused_and_the_build_finishes(
    real_run, tmp_path
):
    folder = tmp_path / "results"
    honest = folder / "submissions" / "honest" / "run"
    shutil.copytree(real_run, honest)

    def variant(name: str):
        target = folder / "submissions" / name / "run"
        shutil.copytree(real_run, target)
        return target

    deep = variant("deep")
    lines = _lines(deep)
    lines[3] = "[" * 200_000 + "]" * 200_000
    (deep / "games.jsonl").write_text("\n".join(lines) + "\n")

    wrong = variant("wrong-type")
    data = json.loads((wrong / "results.json").read_text())
    data["counts"]["seconds_this_session"] = "x"
    (wrong / "results.json").write_text(json.dumps(data))

    bomb = variant("bomb")
    data = json.loads((bomb / "results.json").read_text())
    data["games_file"] = "games.jsonl.gz"
    (bomb / "results.json").write_text(json.dumps(data))
    with gzip.open(bomb / "games.jsonl.gz", "wb", compresslevel=1) as f:
        chunk = b"0" * (1 << 20)
        for _ in range(64):  # 64 MiB on one line, from a file of about 100 KB
            f.write(chunk)
    (bomb / "games.jsonl").unlink()
    assert (bomb / "games.jsonl.gz").stat().st_size < 1 << 20

    huge = variant("huge-message")
    _edit(huge, 0, lambda g: g["turns"][0].update(message="x" * 200_000))

    deep_results = variant("deep-results")
    (deep_results / "results.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000)

    summary = build(folder, tmp_path / "site", expected_for("negotiation-v1", "lite"), b=50)
    refused = {r["run"].split("/")[1]: r["reasons"][0] for r in summary["refused"]}
    assert set(refused) == {"deep", "wrong-type", "bomb", "huge-message", "deep-results"}, refused
    assert "nested too deep" in refused["deep"]
    assert "seconds_this_session" in refused["wrong-type"]
    assert "longer than" in refused["bomb"]
    assert "longer than 100,000 characters" in refused["huge-message"]
    assert [e["model"] for e in summary["entries"]] == ["scripted/linear"]
    for run in (deep, wrong, bomb, huge, deep_results):  # validate-results reports, never crashes
        assert validate_and_verify(run)


def test_one_row_per_model_a_forged_date_is_refused_and_replaces_is_honoured(real_run, tmp_path):
    folder = tmp_path / "results"
    first = folder / "submissions" / "a" / "run"
    second = folder / "submissions" / "b" / "run"
    dated_1970 = folder / "submissions" / "c" / "run"
    for target in (first, second, dated_1970):
        shutil.copytree(real_run, target)
    data = json.loads((dated_1970 / "results.json").read_text())
    data["created_at"] = "1970-01-01T00:00:00+00:00"
    data["counts"]["seconds_this_session"] = 0.001
    (dated_1970 / "results.json").write_text(json.dumps(data))
    data = json.loads((second / "results.json").read_text())
    data["created_at"] = data["created_at"].replace("2026-", "2026-", 1)
    (second / "results.json").write_text(json.dumps(data))
    summary = build(folder, tmp_path / "site", expected_for("negotiation-v1", "lite"), b=50)
    reasons = {r["run"]: r["reasons"][0] for r in summary["refused"]}
    assert "before arena-bench existed" in reasons["submissions/c/run"]
    assert "submissions/a/run" in reasons["submissions/b/run"] and "replaces" in reasons["submissions/b/run"]
    assert len(summary["entries"]) == 1 and summary["entries"][0]["source"] == "self-reported"

    data["replaces"] = "submissions/a/run"
    (second / "results.json").write_text(json.dumps(data))
    summary = build(folder, tmp_path / "site2", expected_for("negotiation-v1", "lite"), b=50)
    reasons = {r["run"]: r["reasons"][0] for r in summary["refused"]}
    assert (
        reasons["submissions/a/run"] == "replaced by submissions/b/run" and "submissions/b/run" not in reasons
    )


def test_look_alike_names_get_pages_and_folders_of_their_own():
    names = ["openai/victim model", "openai/victim_model", "openai/victim/model", "openai/victim-model"]
    assert len({page_slug(n) for n in names}) == len(names)
    assert all(page_slug(n).startswith("openai_victim") for n in names[:2])


# --- property-based fuzz of the loader ------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True), st.text(max_size=30)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _mutate(obj, path, value, delete):
    obj = copy.deepcopy(obj)
    if not path:
        return value
    target = obj
    for key in path[:-1]:
        target = target[key]
    if delete and isinstance(target, dict):
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value
    return obj


@pytest.fixture(scope="module")
def sample(real_run):
    lines = _lines(real_run)
    game = json.loads(lines[_first_deal(real_run)])
    results = json.loads((real_run / "results.json").read_text())
    ts = open_task_set("negotiation-v1")
    scenario = ts.find(game["scenario_id"])
    return game, results, scenario, analyse(scenario)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=_values, delete=st.booleans())
def test_fuzzed_game_records_are_refused_or_checked_never_crash(sample, data, value, delete):
    game, _, scenario, analysis = sample
    paths = list(_paths(game))
    path = data.draw(st.sampled_from(paths))
    mutated = _mutate(game, path, value, delete)
    try:
        record = GameRecord.from_dict(json.loads(json.dumps(mutated)), "fuzz")
    except ResultsError:
        return
    problems = check_game(record, scenario, analysis)
    assert isinstance(problems, list)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=_values, delete=st.booleans())
def test_fuzzed_results_files_are_refused_or_read_never_crash(sample, data, value, delete):
    _, results, _, _ = sample
    paths = [p for p in _paths(results) if len(p) <= 3]
    path = data.draw(st.sampled_from(paths))
    mutated = _mutate(results, path, value, delete)
    with contextlib.suppress(ResultsError):
        RunResults.from_dict(json.loads(json.dumps(mutated)), "fuzz")


def test_refused_runs_of_another_splits_table_are_listed_not_dropped(real_run, tmp_path):
    """``build --also-split lite``: a refused lite run is named with its reason on the console's
    list and the page, as ``--split lite`` alone names it (it used to vanish)."""
    folder = tmp_path / "results"
    shutil.copytree(real_run, folder / "submissions" / "good" / "run")
    bad = folder / "submissions" / "partial" / "run"
    shutil.copytree(real_run, bad)
    data = json.loads((bad / "results.json").read_text())
    data["partial"] = True
    (bad / "results.json").write_text(json.dumps(data))
    summary = build(
        folder, tmp_path / "site", expected_for("negotiation-v1", "test"), b=50, extra_splits=("lite",)
    )
    (refused,) = summary["refused"]
    assert refused["run"] == "submissions/partial/run" and refused["split"] == "lite"
    assert "partial split" in refused["reasons"][0]
    assert [e["model"] for e in summary["splits"]["lite"]] == ["scripted/linear"]
    page = (tmp_path / "site" / "index.html").read_text()
    assert "submissions/partial/run (split lite)" in page


def test_an_unchanged_run_is_not_replayed_again_and_a_changed_one_is(real_run, tmp_path, monkeypatch):
    """``leaderboard build --cache``: verdicts keyed by the run's file hashes, the board's settings and
    the verifier's version; a rebuild replays only what changed (issue 28's warm rebuild)."""
    import arena_bench.board.verify as verify

    folder = tmp_path / "results" / "submissions" / "a" / "run"
    shutil.copytree(real_run, folder)
    cache = tmp_path / "cache"
    expected = expected_for("negotiation-v1", "lite")
    assert verify_run(folder, expected, cache=cache)[0] == []
    assert len(list(cache.iterdir())) == 1

    def no_replay(*a, **k):
        raise AssertionError("replayed although nothing changed")

    monkeypatch.setattr(verify, "replay_games", no_replay)
    reasons, run = verify_run(folder, expected, cache=cache)
    assert reasons == [] and len(run.games) > 0
    monkeypatch.undo()
    g = _edit(folder, _first_deal(folder), lambda g: g["outcome"].update(turns=g["outcome"]["turns"] + 1))
    reasons, _ = verify_run(folder, expected, cache=cache)
    assert any(g["game_id"] in r and "turns" in r for r in reasons)


def test_a_rebuild_with_nothing_new_is_the_site_as_it_is_and_a_new_file_rebuilds(
    real_run, tmp_path, monkeypatch
):
    """The site keeps a key of everything it was built from; an equal key returns at once, any new or
    changed input file (or --no-cache: ``cache=None``) builds again."""
    import arena_bench.board.leaderboard as leaderboard

    folder = tmp_path / "results" / "submissions" / "a" / "run"
    shutil.copytree(real_run, folder)
    site, cache, expected = tmp_path / "site", tmp_path / "cache", expected_for("negotiation-v1", "lite")
    first = build(tmp_path / "results", site, expected, b=50, cache=cache)
    assert "up_to_date" not in first and (site / leaderboard.BUILD_STAMP).is_file()

    def no_collect(*a, **k):
        raise AssertionError("read the runs although nothing changed")

    monkeypatch.setattr(leaderboard, "collect", no_collect)
    again = build(tmp_path / "results", site, expected, b=50, cache=cache)
    assert again["up_to_date"] and [e["model"] for e in again["entries"]] == [
        e["model"] for e in first["entries"]
    ]
    monkeypatch.undo()
    (folder / "notes.txt").write_text("a new file in the results folder")
    assert "up_to_date" not in build(tmp_path / "results", site, expected, b=50, cache=cache)
    assert "up_to_date" not in build(tmp_path / "results", site, expected, b=50, cache=None)
