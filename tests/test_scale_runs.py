"""Full-scale runs against real loopback servers: several replicas with one killed mid-run, a
litellm Router config, a dollar budget that stops cleanly, and the Batch API (turn-synchronous,
resumable after a kill)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.cli import main

from .fake_openai_server import FakeOpenAIServer

pytest.importorskip("openai")
ROOT = Path(__file__).resolve().parents[1]


def start_server_process() -> tuple[subprocess.Popen, str]:
    """A loopback server in its own process, so that killing it resets its connections like a real crash."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai_server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    url = proc.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    return proc, url


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arena_bench.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def load(out: Path, pattern: str = "*/*/results.json"):
    found = sorted(out.glob(pattern))
    res = json.loads(found[0].read_text())
    games = [json.loads(x) for x in (found[0].parent / "games.jsonl").read_text().splitlines() if x]
    return found[0].parent, res, games


def test_a_replica_killed_mid_run_loses_nothing(tmp_path):
    """Two servers of one model; one is killed (SIGKILL: connections reset) while games are in flight.
    Its calls are retried at once on the other, and every planned game is stored, none failed."""
    a, url_a = start_server_process()
    b, url_b = start_server_process()
    try:
        run = subprocess.Popen(
            [
                sys.executable, "-m", "arena_bench.cli", "run", "--model", "openai/delay-150",
                "--api-base", url_a, "--api-base", url_b, "--limit", "2",
                "--opponents", "scripted/boulware,scripted/linear", "--max-connections", "8", "--max-concurrency", "4",
                "--output-path", str(tmp_path), "--no-progress", "--bootstrap", "100",
                "--model-args", "retry_base_s=0.05",
            ],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.time() + 120
        while time.time() < deadline and run.poll() is None:  # kill once games are being stored
            stored = list(tmp_path.glob("*/*/games.jsonl"))
            if stored and len(stored[0].read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        assert run.poll() is None, "the run ended before the kill: make its games longer"
        a.send_signal(signal.SIGKILL)
        out, err = run.communicate(timeout=240)
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
    assert run.returncode == 0, out + err
    _, res, games = load(tmp_path)
    assert res["counts"]["failed"] == 0
    assert res["counts"]["completed"] == res["counts"]["planned"] == len(games) == 2 * (2 * 4 + 2)
    servers = res["players"]["openai/delay-150"]["backend"]["servers"]
    assert [s["api_base"] for s in servers] == [url_a, url_b]
    assert all(s["calls"] > 0 for s in servers)  # both served before the kill
    assert servers[0]["set_aside"] >= 1  # the dead one was noticed and set aside
    assert servers[1]["calls"] > servers[0]["calls"]  # the survivor took the rest
    assert res["config"]["player_options"]["openai/delay-150"]["api_base"] == [url_a, url_b]


def test_a_litellm_router_file_spreads_calls_over_its_deployments(tmp_path):
    pytest.importorskip("litellm")
    with FakeOpenAIServer() as one, FakeOpenAIServer() as two:
        router = tmp_path / "router.json"
        router.write_text(
            json.dumps(
                {
                    "model_list": [
                        {
                            "model_name": "good",
                            "litellm_params": {"model": "openai/good", "api_base": s.url, "api_key": "x"},
                        }
                        for s in (one, two)
                    ]
                }
            )
        )
        args = ["run", "--model", "openai/good", "--limit", "1", "--opponents", "scripted/boulware",
                "--output-path", str(tmp_path / "out"), "--no-progress", "--bootstrap", "100",
                "--model-args", f"router={router},retry_base_s=0.01"]  # fmt: skip
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert one.counters.by_status.get(200, 0) > 0 and two.counters.by_status.get(200, 0) > 0
    _, res, games = load(tmp_path / "out")
    assert res["counts"]["completed"] == res["counts"]["planned"] == 6
    recorded = res["players"]["openai/good"]["backend"]["router"]
    assert recorded["file"] == str(router) and len(recorded["sha256"]) == 64


@pytest.mark.parametrize(
    "content, says",
    [
        ("{not json", "not a valid json file"),
        (json.dumps({"model_list": []}), "needs a non-empty 'model_list'"),
        (json.dumps({"model_list": [{"model_name": "x"}]}), "model_list[0] needs 'model_name' and 'litellm_params'"),
        (
            json.dumps({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/a"}},
                                       {"model_name": "b", "litellm_params": {"model": "openai/b"}}]}),
            "no model_name matches 'openai/good'",
        ),
    ],
)  # fmt: skip
def test_a_router_file_that_does_not_parse_is_a_one_line_error(tmp_path, content, says):
    pytest.importorskip("litellm")
    router = tmp_path / "router.json"
    router.write_text(content)
    args = ["run", "--model", "openai/good", "--limit", "1", "--output-path", str(tmp_path / "out"),
            "--model-args", f"router={router}"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert str(router) in result.output and says in result.output.lower().replace("JSON", "json")
    assert not (tmp_path / "out").exists()  # nothing written


def test_a_budget_stops_cleanly_before_it_is_passed_and_resume_continues(tmp_path):
    """A priced model (gpt-4o-mini at litellm's list price) whose calls go to the loopback server
    (OPENAI_BASE_URL). The run stops before its spend could pass the budget, keeps what it played,
    records the spend, and a resume with a larger budget finishes the split."""
    pytest.importorskip("litellm")
    with FakeOpenAIServer() as server:
        env = {"OPENAI_BASE_URL": server.url, "OPENAI_API_KEY": "test"}
        common = ["run", "--model", "openai/gpt-4o-mini", "--limit", "1", "--output-path", str(tmp_path),
                  "--no-progress", "--bootstrap", "100", "--max-connections", "4",
                  "--max-concurrency", "4"]  # fmt: skip
        first = cli(*common, "--budget-usd", "0.01", env=env)
        assert first.returncode == 2, first.stdout + first.stderr
        assert "budget reached" in first.stderr and "--resume" in first.stderr
        run_dir, res, games = load(tmp_path)
        spent = json.loads((run_dir / "spend.json").read_text())["openai/gpt-4o-mini"]
        assert 0 < spent <= 0.01
        stored = sum(s["usage"].get("cost_usd", 0) for g in games for s in g["sides"])
        assert stored <= spent  # games cut off by the stop spent too, and are counted
        assert 0 < res["counts"]["completed"] < res["counts"]["planned"]
        second = cli(*common, "--budget-usd", "1", "--resume", env=env)
        assert second.returncode == 0, second.stdout + second.stderr
    _, res, games = load(tmp_path)
    assert res["counts"]["completed"] == res["counts"]["planned"] == len(games)
    assert res["usage"]["openai/gpt-4o-mini"]["cost_usd"] > 0
    assert "a game)" in second.stdout  # the scorecard's per-game cost


def test_a_budget_needs_a_price(tmp_path):
    with FakeOpenAIServer() as server:
        args = ["run", "--model", "openai/good", "--api-base", server.url, "--limit", "1",
                "--output-path", str(tmp_path), "--budget-usd", "1"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "no list price is known for openai/good" in result.output


# --- the Batch API ---------------------------------------------------------------------------------


def batch_args(url: str, out: Path, model: str = "good", poll: str = "0.05") -> list[str]:
    return ["run", "--model", f"openai/{model}", "--api-base", url, "--batch", "--limit", "2",
            "--opponents", "scripted/boulware,scripted/hardliner", "--output-path", str(out),
            "--no-progress", "--bootstrap", "100", "--model-args", f"batch_poll_s={poll}"]  # fmt: skip


def test_batch_runs_turn_synchronously_and_replays_from_its_answers(tmp_path):
    with FakeOpenAIServer() as server:
        result = CliRunner().invoke(main, batch_args(server.url, tmp_path), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        run_dir, res, games = load(tmp_path)
        assert res["counts"]["completed"] == res["counts"]["planned"] == len(games) == 2 * (2 * 4 + 2)
        model_calls = sum(
            len(t["attempts"]) for g in games for t in g["turns"] if g["players"][t["role"]] == "openai/good"
        )
        sizes = server.counters.batch_lines
        # one request per model turn, each sent once (a seat's same first turn against two panel members is
        # one request, replayed for the second game); every open game takes its turn in each batch
        usage = res["usage"]["openai/good"]
        assert model_calls == usage["calls"] and usage["replayed_calls"] > 0
        assert sum(sizes) == model_calls - usage["replayed_calls"]
        assert usage["games"] == len(games)
        assert len(sizes) <= 2 * 20 + 2 and max(sizes) >= 2 * (2 * 4 + 2)
        logged = [json.loads(x) for x in (run_dir / "batches.jsonl").read_text().splitlines()]
        assert [len(b["custom_ids"]) for b in logged] == sizes
        assert res["players"]["openai/good"]["backend"]["kind"] == "openai-batch"
        # replay: the same run from its recorded answers submits nothing and writes the same games
        (run_dir / "games.jsonl").rename(run_dir / "games.first.jsonl")
        again = CliRunner().invoke(
            main, [*batch_args(server.url, tmp_path), "--resume"], catch_exceptions=False
        )
        assert again.exit_code == 0, again.output
        assert server.counters.batch_lines == sizes
    first = {
        json.loads(x)["game_id"]: json.loads(x)["outcome"] for x in (run_dir / "games.first.jsonl").open()
    }
    second = {json.loads(x)["game_id"]: json.loads(x)["outcome"] for x in (run_dir / "games.jsonl").open()}
    assert first == second


def test_a_killed_batch_run_waits_on_its_pending_batch_instead_of_resubmitting(tmp_path):
    server, url = start_server_process()
    try:
        run = subprocess.Popen(
            [sys.executable, "-m", "arena_bench.cli", *batch_args(url, tmp_path, poll="30")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.time() + 60
        while not list(tmp_path.glob("*/*/batches.jsonl")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # submitted, now sleeping out its 30 s poll
        run.kill()
        run.wait()
        (log,) = tmp_path.glob("*/*/batches.jsonl")
        pending = [json.loads(x) for x in log.read_text().splitlines()]
        assert len(pending) == 1 and not (log.parent / "batch_results.jsonl").exists()
        resumed = cli(*batch_args(url, tmp_path), "--resume")
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    finally:
        server.kill()
        server.wait()
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert logged[0] == pending[0]
    submitted = [c for b in logged for c in b["custom_ids"]]
    assert len(submitted) == len(set(submitted))  # the first batch's requests were never sent again
    _, res, games = load(tmp_path)
    assert res["counts"]["completed"] == res["counts"]["planned"] == len(games)


def test_per_line_batch_errors_are_counted_forfeits(tmp_path):
    with FakeOpenAIServer() as server:
        result = CliRunner().invoke(
            main, batch_args(server.url, tmp_path, "batch-lineerror"), catch_exceptions=False
        )
    assert result.exit_code == 0, result.output
    _, res, games = load(tmp_path)
    turns = [t for g in games for t in g["turns"] if g["players"][t["role"]] == "openai/batch-lineerror"]
    refused = [t for t in turns if t["forfeited"]]
    assert refused and all("line rejected by the test server" in t["attempts"][0]["error"] for t in refused)
    assert res["usage"]["openai/batch-lineerror"]["refused_calls"] == len(refused)


def test_an_expired_batch_stops_the_run_with_a_clear_error(tmp_path):
    with FakeOpenAIServer() as server:
        result = CliRunner().invoke(main, batch_args(server.url, tmp_path, "batch-expire"))
    assert result.exit_code == 2
    assert "ended expired" in result.output and "--resume" in result.output
    (log,) = tmp_path.glob("*/*/batches.jsonl")
    assert len(log.read_text().splitlines()) == 1
