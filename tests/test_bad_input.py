"""Every bad input a user can give ends in one clear line and a non-zero exit, with no traceback
and nothing already written lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.cli import main

from .conftest import GENIUS_DIR, TASKS_V1


def invoke(args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in r.output, r.output
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit), repr(r.exception)
    return r


@pytest.mark.parametrize(
    "option, value",
    [
        ("--max-concurrency", 0),
        ("--max-connections", 0),
        ("--reps", 0),
        ("--bootstrap", 0),
        ("--timeout", -1),
        ("--max-tokens", -5),
        ("--temperature", -0.5),
        ("--limit", 0),
    ],
)
def test_numeric_options_are_checked_when_parsed(tmp_path, option, value):
    r = invoke(["run", "--model", "scripted/linear", option, value, "--output-path", tmp_path])
    assert r.exit_code == 2 and option in r.output
    assert not any(tmp_path.iterdir())  # nothing started, nothing written


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/linear",
            "--limit",
            "2",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(out),
            "--no-progress",
            "--bootstrap",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    (run,) = out.glob("*/*/results.json")
    return run.parent


@pytest.fixture
def truncated(small_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    games = run / "games.jsonl"
    data = games.read_bytes()
    games.write_bytes(data[: len(data) - 40])
    return run


@pytest.mark.parametrize("command", [["report"], ["power"], ["show-game", None, "0"]])
def test_commands_on_a_truncated_games_file_say_where_and_what_to_do(truncated, command):
    args = [command[0], truncated, *command[2:]]
    r = invoke(args)
    assert r.exit_code == 2
    assert "games.jsonl:" in r.output and "not valid JSON" in r.output and "--resume" in r.output


def test_show_game_refuses_a_task_set_with_another_hash(small_run, tmp_path):
    import json

    run = tmp_path / "run"
    shutil.copytree(small_run, run)
    results = json.loads((run / "results.json").read_text())
    results["task_set"]["hash"] = "0" * 64
    (run / "results.json").write_text(json.dumps(results))
    game = json.loads((run / "games.jsonl").read_text().splitlines()[0])["game_id"]
    r = invoke(["show-game", run, game])
    assert r.exit_code == 2 and "pass the run's own task set folder" in r.output


def test_resume_with_a_corrupt_middle_line_replays_only_that_game(small_run, tmp_path):
    run = tmp_path / "out"
    shutil.copytree(small_run.parent.parent, run)
    (folder,) = run.glob("*/*/games.jsonl")
    lines = folder.read_text().splitlines(keepends=True)
    lines[3] = lines[3][:50] + "\n"
    folder.write_text("".join(lines))
    r = invoke(
        [
            "run",
            "--model",
            "scripted/linear",
            "--limit",
            "2",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            run,
            "--no-progress",
            "--bootstrap",
            "50",
            "--resume",
        ]
    )
    assert r.exit_code == 0, r.output
    import json

    results = json.loads((folder.parent / "results.json").read_text())
    assert (
        results["counts"]["played_this_session"] == 1
        and results["counts"]["resumed_from_store"] == len(lines) - 1
    )
    assert len(folder.read_text().splitlines()) == len(lines)
    assert "not valid JSON" in (folder.parent / "games.rejected.jsonl").read_text()


@pytest.mark.skipif(not (GENIUS_DIR / "laptop").is_dir(), reason="../shared/data/genius is not here")
def test_import_genius_with_a_reservation_that_is_not_a_number(tmp_path):
    laptop = GENIUS_DIR / "laptop"
    bad = tmp_path / "laptop_buyer_utility.xml"
    bad.write_text(
        (laptop / "laptop_buyer_utility.xml")
        .read_text()
        .replace('<reservation value="0"', '<reservation value="abc"')
    )
    r = invoke(
        ["tasks", "import-genius", laptop / "laptop_domain.xml", bad, laptop / "laptop_seller_utility.xml"]
    )
    assert r.exit_code == 2 and "<reservation value> is 'abc', not a number" in r.output


def test_a_task_set_folder_with_a_broken_manifest(tmp_path):
    broken = tmp_path / "broken-v1"
    shutil.copytree(TASKS_V1, broken)
    (broken / "MANIFEST.json").write_text("{not json")
    r = invoke(["run", "--model", "scripted/linear", "--tasks", broken, "--output-path", tmp_path / "out"])
    assert r.exit_code == 2 and "MANIFEST.json" in r.output and "malformed" in r.output
    assert not Path(tmp_path / "out").exists()


def test_resuming_a_run_with_another_policy_file_under_the_same_name_is_refused(tmp_path):
    """A retrained policy saved over the old file must not inherit the old file's stored games."""
    from arena_bench.config import RunConfig
    from arena_bench.errors import RunError
    from arena_bench.evaluation import run

    shipped = Path(__file__).resolve().parent.parent / "arena_bench" / "policies"
    policy = tmp_path / "mine.npz"
    shutil.copy(shipped / "ppo-nash-v1.npz", policy)
    spec = f"policy/{policy}"
    config = RunConfig(
        kind="evaluation",
        agents=(spec,),
        split="dev",
        limit=1,
        opponents=("scripted/boulware",),
        self_play=False,
        bootstrap_replicates=50,
    )
    first = run(config, tmp_path / "out", progress=False)
    games = first.path / "games.jsonl"
    played = games.read_bytes()
    again = run(config, tmp_path / "out", resume=True, progress=False)  # the same file: resumes
    assert again.results.counts.resumed_from_store == len(played.splitlines()) > 0
    shutil.copy(shipped / "ppo-nash-v2.npz", policy)
    with pytest.raises(
        RunError, match=r"holds games of policy/.*mine\.npz played by another version of its file"
    ):
        run(config, tmp_path / "out", resume=True, progress=False)
    assert games.read_bytes() == played
