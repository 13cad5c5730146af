"""The runner notices what it cannot keep (issue 26): a games file replaced or truncated under a
running run, a full disk, and a spend reservation that no provider's token count can beat."""

from __future__ import annotations

import errno
import json
import os

import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.errors import StoreLost
from arena_bench.models.base import SpendLimit
from arena_bench.playing.runner import GameStore

from .leaderboard_fixtures import evaluation_run

SABOTEUR = '''
import os, subprocess
from examples_agent import Halfway

CALLS = [0]


class Saboteur(Halfway):
    """Plays like Halfway; on its 30th move it edits the run's games file the way `sed -i` does."""

    def act(self, obs):
        CALLS[0] += 1
        if CALLS[0] == 30:
            subprocess.run(["sed", "-i", "1d", os.environ["GAMES_FILE"]], check=True)
        return super().act(obs)
'''


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    from arena_bench.scoring.results import load_run

    return load_run(evaluation_run(tmp_path_factory.mktemp("r"), model="scripted/linear")).games[:3]


def test_a_replaced_or_truncated_store_is_noticed(tmp_path, records):
    path = tmp_path / "games.jsonl"
    store = GameStore(path, lock=False)
    store.append(records[0])
    os.replace(path, tmp_path / "moved")  # what sed -i and editors do: a new file under the name
    path.write_text((tmp_path / "moved").read_text())
    with pytest.raises(StoreLost, match="replaced"):
        store.append(records[1])
    store.close()

    other = tmp_path / "b.jsonl"
    store = GameStore(other, lock=False)
    store.append(records[0])
    with open(other, "r+") as f:
        f.truncate(10)
    with pytest.raises(StoreLost, match="truncated"):
        store.append(records[1])
    store.close()


def test_a_games_file_edited_during_a_run_stops_it_non_zero_in_one_line(tmp_path, monkeypatch):
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "examples_agent.py").write_text((repo / "examples" / "my_agent.py").read_text())
    (tmp_path / "saboteur.py").write_text(SABOTEUR)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out"
    spec = f"py:{tmp_path / 'saboteur.py'}:Saboteur"
    args = ["run", "--model", spec, "--split", "lite", "--limit", "3", "--output-path", str(out), "--no-progress",
            "--opponents", "scripted/boulware,scripted/linear", "--engine", "reference"]  # fmt: skip
    # the run folder is known only once planned: find it the way the run will name it
    from arena_bench.evaluation import evaluation_config, run_dir_for
    from arena_bench.scenarios.tasks import open_task_set

    config = evaluation_config(spec, split="lite", limit=3, opponents="scripted/boulware,scripted/linear",
                               engine="reference")  # fmt: skip
    games = run_dir_for(config, out, open_task_set("negotiation-v1").hash) / "games.jsonl"
    monkeypatch.setenv("GAMES_FILE", str(games))
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and "was replaced or changed by something else" in lines[0] and "--resume" in lines[0]
    )


def test_a_full_disk_ends_in_one_line_with_exit_2_and_resume_finishes(tmp_path, monkeypatch):
    import arena_bench.playing.runner as runner_module

    calls = [0]
    real_fsync = os.fsync

    def full_after_a_few(fd):
        calls[0] += 1
        if calls[0] > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    args = ["run", "--model", "scripted/linear", "--split", "lite", "--limit", "2", "--output-path",
            str(tmp_path), "--no-progress", "--engine", "reference", "--max-concurrency", "1", "--bootstrap", "50"]  # fmt: skip
    monkeypatch.setattr(runner_module.os, "fsync", full_after_a_few)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "--resume" in lines[0], r.output
    monkeypatch.setattr(runner_module.os, "fsync", real_fsync)
    again = CliRunner().invoke(main, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    (results,) = tmp_path.glob("*/*/results.json")
    counts = json.loads(results.read_text())["counts"]
    assert counts["completed"] == counts["planned"]


def test_the_spend_reservation_bounds_any_byte_level_token_count():
    limit = SpendLimit(1.0, (1e-6, 2e-6))
    for text in ("plain ascii " * 50, "ünïcödé " * 50, "漢字と絵文字🙂" * 40, "{}[]:,\n" * 100):
        messages = [{"role": "system", "content": text}, {"role": "user", "content": text[::-1]}]
        per_char = sum(len(m["content"]) for m in messages)  # a server counting one token a character
        per_byte = sum(len(m["content"].encode()) for m in messages)  # a byte-level tokenizer's worst case
        billed = max(per_char, per_byte) * 1e-6 + 300 * 2e-6
        assert limit.worst_case(messages, 300) >= billed


def test_an_edited_python_agent_gets_one_message_with_both_ways_out(tmp_path):
    """Rerunning after editing a py: agent used to say "pass --resume", and --resume then said
    "use another output path": both now give the same one message."""
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    agent = tmp_path / "agent.py"
    agent.write_text((repo / "examples" / "my_agent.py").read_text())
    args = ["run", "--model", f"py:{agent}:Halfway", "--split", "lite", "--limit", "1", "--output-path",
            str(tmp_path / "out"), "--no-progress", "--opponents", "scripted/boulware", "--bootstrap", "50"]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    assert not list((tmp_path / "out").glob("*/*/.lock"))  # a finished run folder keeps no lock file
    agent.write_text(agent.read_text() + "\n# edited\n")
    for extra in ([], ["--resume"]):
        r = CliRunner().invoke(main, [*args, *extra])
        assert r.exit_code == 2, r.output
        assert "another version of its file" in r.output and "--output-path" in r.output
        assert "pass --resume" not in r.output
