from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from arena_bench.agents.base import Reply
from arena_bench.arrays.registry import SCRIPTED
from arena_bench.core.analysis import analyse
from arena_bench.core.protocol import Action
from arena_bench.core.records import GameRecord
from arena_bench.planning import Cell, agent_seed, cell_seed, game_id, plan_cells
from arena_bench.playing.conformance import check_agent
from arena_bench.playing.game import play_game
from arena_bench.playing.runner import GameStore
from arena_bench.scenarios.tasks import open_task_set


class Scripted:
    """Replies from a list (a unit test of the repair loop, not of any backend)."""

    def __init__(self, replies):
        self.replies = list(replies)

    async def act(self, obs):
        return self.replies.pop(0)


def test_repairs_then_forfeit_are_counted(logroll_scenario):
    bad = Reply(raw="{oops", error="not JSON")
    a = Scripted([bad, bad, bad, Reply(message="deal", action=Action.accept())])
    b = Scripted(
        [
            Reply(message="hi", action=Action.propose((1, 0))),
            Reply(message="?", action=Action.accept()),  # illegal: its own offer stands
            Reply(message="fine", action=Action.propose((1, 0))),
        ]
    )
    state, logs, m = asyncio.run(
        play_game(logroll_scenario, analyse(logroll_scenario), (a, b), first_mover=1)
    )
    # turn 0: B proposes; turn 1: A fails 3 times -> forfeited; turn 2: B tries accept (illegal) then proposes;
    # turn 3: A accepts
    assert [log.forfeited for log in logs] == [False, True, False, False]
    assert len(logs[1].attempts) == 3 and logs[1].attempts[0]["error"] == "not JSON"
    assert "your own" in logs[2].attempts[0]["error"]
    assert m.sides[0].invalid_turns == 1 and m.sides[0].repairs == 2 and m.sides[0].forfeited_turns == 1
    assert m.sides[1].invalid_turns == 1 and m.sides[1].repairs == 1 and m.sides[1].forfeited_turns == 0
    assert m.deal and m.agreement == (1, 0)


@pytest.mark.parametrize("name", sorted(SCRIPTED))
def test_panel_agents_only_play_legal_actions(name):
    scenarios = open_task_set("negotiation-v1").load("lite")[:10]
    assert check_agent(SCRIPTED[name].new_agent, scenarios) == []


def test_ids_written_directly_equal_their_json_definition():
    """cell_seed, agent_seed and game_id write their JSON directly for plain fields: the same
    hashes as the published definition (json.dumps of the fields), odd fields included."""
    import hashlib
    import json

    def h(*parts):
        return int.from_bytes(
            hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).digest()[:8], "big"
        )

    def gid(ts, c, salt):
        key = [ts, c.scenario_id, list(c.players), c.first_mover, c.rep, salt]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    cells = [
        Cell("dev-0001", ("scripted/boulware", "policy/ppo-nash-v2"), 0, 0),
        Cell('sc"n\\é', ("openai/gpt-ü", "x\ty"), 1, 3),
        Cell("s", ("a", "b"), np.int64(1), 2),  # a numpy int: through json.dumps (which refuses it)
        Cell("s", ("a", "b"), True, 0),
    ]
    for c in cells:
        for ts, salt in (("negotiation-v1", 0), ("töst-v2", 7), ("t", False)):
            try:
                want = (h(ts, c.scenario_id, c.first_mover, c.rep, salt), gid(ts, c, salt))
            except TypeError:
                with pytest.raises(TypeError):
                    cell_seed(ts, c, salt)
                continue
            assert (cell_seed(ts, c, salt), game_id(ts, c, salt)) == want
    for seed, role in ((2**63 + 5, 0), (12, 1), (0, True)):
        assert agent_seed(seed, role) == h(seed, role)


def test_seeds_are_paired_across_agents_and_ids_distinct():
    a = Cell("s1", ("x", "y"), 0, 0)
    b = Cell("s1", ("z", "y"), 0, 0)
    assert cell_seed("t-v1", a) == cell_seed("t-v1", b)  # y meets x and z with the same stream
    assert cell_seed("t-v1", a) != cell_seed("t-v2", a) != cell_seed("t-v1", Cell("s1", ("x", "y"), 1, 0))
    assert game_id("t-v1", a) != game_id("t-v1", b)


def test_plan_covers_roles_and_move_orders_once():
    scenarios = open_task_set("negotiation-v1").load("lite")[:2]
    cells = plan_cells(scenarios, [("m", "p"), ("m", "q"), ("m", "m")], reps=2)
    assert len(cells) == 2 * (2 + 2 + 1) * 2 * 2
    assert len(set(cells)) == len(cells)


def _real_lines(tmp_path, n: int) -> list[str]:
    from arena_bench.evaluation import RunConfig, run

    played = run(
        RunConfig(
            kind="tournament",
            agents=("scripted/boulware", "scripted/linear"),
            limit=2,
            bootstrap_replicates=50,
        ),
        tmp_path / "src",
        progress=False,
    )
    return (played.path / "games.jsonl").read_text().splitlines(keepends=True)[:n]


def test_store_moves_a_torn_last_line_out_and_keeps_the_rest(tmp_path):
    a, b, c = _real_lines(tmp_path, 3)
    p = tmp_path / "games.jsonl"
    p.write_text(a + b[: len(b) // 2])
    store = GameStore(p)
    assert (
        store.done == {json.loads(a)["game_id"]} and len(store.rejected) == 1 and "torn" in store.rejected[0]
    )
    store.append(GameRecord.from_dict(json.loads(c)))
    store.close()
    assert p.read_text() == a + c
    (moved,) = [json.loads(x) for x in (tmp_path / "games.rejected.jsonl").read_text().splitlines()]
    assert moved["line"] == 2 and moved["text"] == b[: len(b) // 2]


def test_store_moves_a_corrupt_middle_line_and_a_duplicate_out_keeping_every_other_game(tmp_path):
    lines = _real_lines(tmp_path, 6)
    p = tmp_path / "games.jsonl"
    p.write_text(lines[0] + lines[1] + "{not json\n" + "".join(lines[2:]) + lines[3])
    store = GameStore(p)
    store.close()
    assert store.done == {
        json.loads(x)["game_id"] for x in lines
    }  # only the broken cell is missing: none here
    assert p.read_text() == "".join(lines)
    reasons = [json.loads(x)["reason"] for x in (tmp_path / "games.rejected.jsonl").read_text().splitlines()]
    assert len(reasons) == 2 and "not valid JSON" in reasons[0] and "already stored" in reasons[1]


def test_a_second_process_on_the_same_run_folder_is_refused_naming_the_holder(tmp_path):
    from arena_bench.errors import RunError

    store = GameStore(tmp_path / "games.jsonl")
    try:
        code = (
            "import sys; from arena_bench.playing.runner import GameStore\n"
            f"GameStore({str(tmp_path / 'games.jsonl')!r})"
        )
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert other.returncode != 0 and f"pid {os.getpid()}" in other.stderr and "RunError" in other.stderr
        with pytest.raises(RunError, match="in use by another arena-bench process"):
            GameStore(tmp_path / "games.jsonl")
    finally:
        store.close()
    GameStore(tmp_path / "games.jsonl").close()  # released with the first store


def _strip_timing(record):
    for t in record["turns"]:
        for a in t["attempts"]:
            a.pop("usage", None)
    for s in record["sides"]:
        s.pop("usage", None)
    return record


def _run(out: Path, *extra):
    return [
        sys.executable,
        "-m",
        "arena_bench.cli",
        "run",
        "--model",
        "scripted/random-rational",
        "--split",
        "lite",
        "--output-path",
        str(out),
        "--no-progress",
        "--bootstrap",
        "200",
        *extra,
    ]


def _games(out: Path):
    (path,) = out.glob("*/*/games.jsonl")
    return {r["game_id"]: _strip_timing(r) for r in map(json.loads, path.read_text().splitlines())}


def test_kill_9_halfway_then_resume_equals_uninterrupted_run(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_run(full), check=True, capture_output=True)
    expected = _games(full)

    proc = subprocess.Popen(_run(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    games = None
    while time.time() < deadline:
        found = list(killed.glob("*/*/games.jsonl"))
        if found and found[0].stat().st_size > 0 and found[0].read_bytes().count(b"\n") >= len(expected) // 3:
            games = found[0]
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert games is not None, "the run finished or stalled before it could be killed"
    partial = games.read_bytes().count(b"\n")
    assert 0 < partial < len(expected)

    again = subprocess.run(_run(killed), capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr  # refuses to silently restart

    resumed = subprocess.run(_run(killed, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    got = _games(killed)
    assert len(games.read_text().splitlines()) == len(expected)  # nothing repeated
    assert got == expected  # nothing lost, same games
    results = json.loads((games.parent / "results.json").read_text())
    assert (
        results["counts"]["completed"] == len(expected)
        and results["counts"]["resumed_from_store"] >= partial - 1
    )
