"""Agents in their own process (exec:COMMAND): a real subprocess per game side, JSON lines both ways."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

from arena_bench.board.verify import expected_for, verify_run
from arena_bench.cli import main
from arena_bench.playing.external import observation_json
from arena_bench.playing.game import public_view
from arena_bench.scenarios.tasks import open_task_set

REPO = Path(__file__).resolve().parent.parent


def _run(tmp_path, command: str, *extra: str):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            f"exec:{command}",
            "--limit",
            "1",
            "--opponents",
            "scripted/boulware,scripted/pushover",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "50",
            *extra,
        ],
    )
    assert r.exit_code == 0, r.output
    (results,) = tmp_path.glob("*/*/results.json")
    return json.loads(results.read_text())


def test_a_program_in_its_own_process_plays_whole_games(tmp_path):
    data = _run(tmp_path, f"{sys.executable} {REPO / 'examples' / 'exec_agent.py'}")
    (spec,) = data["config"]["agents"]
    st = data["statistics"]["agents"][spec]
    assert data["players"][spec]["kind"] == "exec" and data["players"][spec]["observation_format"]
    assert data["counts"]["completed"] == data["counts"]["planned"] == 2 * (2 * 2 + 1)
    assert st["invalid_rate"]["mean"] == 0.0 and st["deal"]["mean"] > 0  # Pushover's offers are good enough


def test_a_program_that_writes_nonsense_is_counted_never_repaired(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text(
        "import sys\nfor line in sys.stdin:\n    print('I think we should split it', flush=True)\n"
    )
    data = _run(tmp_path / "out", f"{sys.executable} {script}")
    (spec,) = data["config"]["agents"]
    st = data["statistics"]["agents"][spec]
    assert st["invalid_rate"]["mean"] == 1.0 and st["forfeit_rate"]["mean"] == 1.0


def test_a_program_that_dies_after_replying_is_counted_and_the_run_finishes(tmp_path):
    script = tmp_path / "dies.py"
    script.write_text(
        "import json, sys\nsys.stdin.readline()\n"
        "print(json.dumps({'message': 'bye', 'action': 'walk_away'}), flush=True)\n"
        "sys.stdin.readline()\nsys.exit(3)\n"
    )
    data = _run(tmp_path / "out", f"{sys.executable} {script}", "--timeout", "5")
    (spec,) = data["config"]["agents"]
    assert data["counts"]["failed"] == 0 and data["counts"]["completed"] == data["counts"]["planned"]


def test_a_program_that_dies_before_its_first_reply_stops_the_run_in_one_line(tmp_path):
    """The README's route for code agents: a typo in the command must not end in a scorecard of
    forfeits with exit 0, but in one line with the program's exit code and its own error."""
    r = CliRunner().invoke(
        main,
        ["run", "--model", f"exec:{sys.executable} {tmp_path / 'nosuchfile.py'}", "--limit", "1",
         "--opponents", "scripted/boulware", "--output-path", str(tmp_path / "out"), "--no-progress"],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1, r.output
    assert "exited with code 2 before its first reply" in lines[0]
    assert "can't open file" in lines[0] and "nosuchfile.py" in lines[0]
    assert "pipe closed" not in r.output


def test_the_observation_holds_only_the_agents_own_brief():
    from arena_bench.agents.base import Observation
    from arena_bench.core.protocol import initial_state

    scenario = open_task_set("negotiation-v1").load("lite")[0]
    state = initial_state(scenario.shape, 0)
    obs = Observation(
        role_index=0,
        brief=scenario.roles[0],
        public=public_view(scenario),
        history=state.history,
        turn=0,
        max_turns=20,
        standing_offer=None,
        standing_by=None,
    )
    data = observation_json(obs)
    assert set(data) == {
        "format",
        "scenario",
        "you",
        "turn",
        "max_turns",
        "history",
        "standing_offer",
        "standing_offer_by",
        "can_accept",
        "feedback",
        "attempt",
    }
    assert set(data["scenario"]) == {"id", "title", "context", "roles", "issues"}
    assert (
        data["you"]["role"] == scenario.roles[0].name and data["you"]["brief"] == scenario.roles[0].narrative
    )
    other = scenario.roles[1]
    text = json.dumps(data)
    assert other.narrative not in text  # the other side's private brief never travels


def test_in_process_python_agents_are_refused_by_the_leaderboard(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            f"py:{REPO / 'examples' / 'my_agent.py'}:Halfway",
            "--limit",
            "1",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    (results,) = tmp_path.glob("*/*/results.json")
    reasons, _ = verify_run(results.parent, expected_for("negotiation-v1", "lite"))
    assert any("ran in the harness's own process" in x and "exec:" in x for x in reasons)
