"""Both API paths, the lean OpenAI client and litellm, against a real OpenAI-compatible HTTP server on
loopback (tests/fake_openai_server.py): every test runs on each, so they keep the same retries,
backoff, timeouts, usage, caching and failure handling."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arena_bench.cli import main

from .fake_openai_server import FakeOpenAIServer

pytest.importorskip("litellm")


@pytest.fixture(params=["openai", "litellm"], autouse=True)
def backend(request, monkeypatch):
    """``openai/...`` takes the lean client by default; the litellm run routes it through litellm."""
    from arena_bench.playing import players

    if request.param == "litellm":
        monkeypatch.setitem(players.PROVIDERS, "openai", "arena_bench.models:litellm_player")
    return request.param


def run(server, tmp_path, model, *extra, limit="2"):
    args = [
        "run",
        "--model",
        f"openai/{model}",
        "--api-base",
        server.url,
        "--limit",
        limit,
        "--opponents",
        "scripted/boulware,scripted/hardliner",
        "--output-path",
        str(tmp_path),
        "--no-progress",
        "--bootstrap",
        "200",
        "--model-args",
        "retry_base_s=0.01",
        *extra,
    ]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    found = sorted(tmp_path.glob(f"*{model}*/*/results.json"))
    res = json.loads(found[0].read_text()) if found else None
    games = (
        [json.loads(x) for x in (found[0].parent / "games.jsonl").read_text().splitlines()] if found else []
    )
    return result, res, games


def model_attempts(games, spec):
    return [a for g in games for t in g["turns"] if g["players"][t["role"]] == spec for a in t["attempts"]]


def test_good_replies_play_clean_games(tmp_path):
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "good")
    assert result.exit_code == 0, result.output
    assert res["counts"]["completed"] == res["counts"]["planned"] == 2 * (2 * 2 + 1) * 2
    st = res["statistics"]["agents"]["openai/good"]
    assert st["invalid_rate"]["mean"] == 0 and st["forfeit_rate"]["mean"] == 0
    attempts = model_attempts(games, "openai/good")
    assert len(attempts) == server.counters.by_status[200]  # every answered call is in the records, once
    assert all(a["raw"] and a["usage"]["tokens_in"] > 0 for a in attempts)
    assert res["players"]["openai/good"]["prompt_hash"]
    assert any(g["outcome"]["deal"] for g in games)


def test_malformed_replies_are_repaired_twice_then_forfeited(tmp_path):
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "malformed")
    assert result.exit_code == 0, result.output
    st = res["statistics"]["agents"]["openai/malformed"]
    assert st["invalid_rate"]["mean"] == 1.0 and st["forfeit_rate"]["mean"] == 1.0
    for g in games:
        for t in g["turns"]:
            if g["players"][t["role"]] == "openai/malformed":
                assert t["forfeited"] and t["action"] is None and len(t["attempts"]) == 3
                assert "no JSON object" in t["attempts"][0]["error"]
    assert "1.000" in result.output  # the invalid-turn rate is shown, not hidden


def test_mixed_errors_are_counted_exactly(tmp_path):
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "mixed")
    assert result.exit_code == 0, result.output
    for g in games:
        for i, side in enumerate(g["sides"]):
            if side["player"] != "openai/mixed":
                continue
            mine = [t for t in g["turns"] if t["role"] == i]
            assert side["invalid_turns"] == sum(1 for t in mine if any(a["error"] for a in t["attempts"]))
            assert side["forfeited_turns"] == sum(1 for t in mine if t["forfeited"])
            assert side["repairs"] == sum(min(len(t["attempts"]) - 1, 2) for t in mine)
    errors = [a["error"] for a in model_attempts(games, "openai/mixed") if a["error"]]
    assert any("is not an option" in e for e in errors) and any("no JSON object" in e for e in errors)
    assert len(model_attempts(games, "openai/mixed")) == server.counters.by_status[200]


def test_accept_with_nothing_on_the_table_is_rejected_with_the_reason(tmp_path):
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "accept-first")
    assert result.exit_code == 0
    first_moves = [g["turns"][0] for g in games if g["players"][g["first_mover"]] == "openai/accept-first"]
    assert first_moves and all("no offer on the table" in t["attempts"][0]["error"] for t in first_moves)
    assert all(t["action"]["kind"] == "propose" for t in first_moves)  # repaired on the next try


def test_429_and_500_are_retried_and_nothing_is_lost(tmp_path):
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "flaky", limit="1")
    assert result.exit_code == 0, result.output
    assert res["counts"]["failed"] == 0 and res["counts"]["completed"] == res["counts"]["planned"]
    # each distinct request got a 429, then a 500, then an answer (paired seeds make some requests identical
    # across games: the server answers those at once, as a cache would)
    distinct = len(server.counters.seen)
    assert server.counters.by_status[429] == server.counters.by_status[500] == distinct
    assert len(model_attempts(games, "openai/flaky")) == server.counters.by_status[200]
    assert res["players"]["openai/flaky"]["backend"]["retries_used"] == 2 * distinct


def test_timeouts_fail_cells_that_resume_completes(tmp_path):
    with FakeOpenAIServer(slow_s=1.5) as server:
        # no retries: the first calls time out, so those games fail (counted, not written)
        result, res, games = run(
            server,
            tmp_path,
            "stall-4",
            "--timeout",
            "0.3",
            "--model-args",
            "retry_base_s=0.01,max_retries=0",
            limit="1",
        )
        assert result.exit_code == 1, result.output  # failures make the command fail
        assert res["counts"]["failed"] > 0
        assert res["counts"]["completed"] + res["counts"]["failed"] == res["counts"]["planned"]
        assert "rerun with --resume" in result.output
        # resume: the server now answers at once
        result, res, games = run(
            server,
            tmp_path,
            "stall-4",
            "--timeout",
            "0.3",
            "--model-args",
            "retry_base_s=0.01,max_retries=0",
            "--resume",
            limit="1",
        )
    assert result.exit_code == 0, result.output
    assert res["counts"]["failed"] == 0 and res["counts"]["completed"] == res["counts"]["planned"]
    assert len({g["game_id"] for g in games}) == len(games) == res["counts"]["planned"]


def test_slow_reply_is_retried_after_timeout(tmp_path):
    with FakeOpenAIServer(slow_s=1.5) as server:
        result, res, games = run(server, tmp_path, "slow", "--timeout", "0.3", limit="1")
    assert result.exit_code == 0, result.output
    assert res["counts"]["failed"] == 0 and res["counts"]["completed"] == res["counts"]["planned"]
    assert res["players"]["openai/slow"]["backend"]["retries_used"] > 0


def test_cache_replays_without_calls_and_keeps_repetitions_apart(tmp_path):
    cache = tmp_path / "cache"
    with FakeOpenAIServer() as server:
        r1, res1, games1 = run(
            server, tmp_path / "a", "good", "--use-cache", str(cache), "--reps", "2", limit="1"
        )
        calls = server.counters.by_status[200]
        r2, res2, games2 = run(
            server, tmp_path / "b", "good", "--use-cache", str(cache), "--reps", "2", limit="1"
        )
        assert server.counters.by_status[200] == calls  # the second run made no calls
    assert r1.exit_code == r2.exit_code == 0
    strip = lambda gs: sorted((g["game_id"], json.dumps([t["action"] for t in g["turns"]])) for g in gs)  # noqa: E731
    assert strip(games1) == strip(games2)
    by_rep = {}
    for g in games1:
        by_rep.setdefault((g["scenario_id"], tuple(g["players"]), g["first_mover"]), []).append(
            json.dumps([t["attempts"][0]["raw"] for t in g["turns"]])
        )
    assert any(len(set(v)) > 1 for v in by_rep.values())  # repetitions did not collapse into one
    assert res2["players"]["openai/good"]["cache"]["hits"] > 0
    # per call a flag, per side a count under its own name: no field changes type between the levels
    for g in games2:
        for i, side in enumerate(g["sides"]):
            if side["player"] != "openai/good":
                continue
            attempts = [a for t in g["turns"] if t["role"] == i for a in t["attempts"]]
            assert all(a["usage"]["cached"] is True for a in attempts)
            assert side["usage"]["cached_calls"] == len(attempts) and "cached" not in side["usage"]


def test_games_in_flight_follow_the_connection_limit_unless_set(capsys):
    from arena_bench.evaluation import evaluation_config

    assert evaluation_config("openai/x", max_connections=64).max_concurrency == 64
    assert evaluation_config("openai/x", max_connections=8).max_concurrency == 32
    assert evaluation_config("scripted/linear").max_concurrency == 32
    assert evaluation_config("openai/x", max_connections=64, max_concurrency=16).max_concurrency == 16
    assert "--max-concurrency 16 games in flight allow at most that many" in capsys.readouterr().err


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_server_stops_the_run_at_once_with_one_line(tmp_path):
    import time

    started = time.perf_counter()
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "openai/nobody",
            "--api-base",
            f"http://127.0.0.1:{_free_port()}/v1",
            "--limit",
            "2",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--model-args",
            "retry_base_s=0.2",
        ],
    )
    assert r.exit_code == 2, r.output
    assert "no call to openai/nobody at http://127.0.0.1:" in r.output and "has succeeded" in r.output
    assert "--resume" in r.output and "Traceback" not in r.output
    assert time.perf_counter() - started < 60  # not every game's retries (2 x 68 games x 6 retries)


def test_sigterm_stops_a_run_within_seconds_and_leaves_it_resumable(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    with FakeOpenAIServer(slow_s=1.5) as server:
        args = [
            sys.executable,
            "-m",
            "arena_bench.cli",
            "run",
            "--model",
            "openai/stall-100000",
            "--api-base",
            server.url,
            "--limit",
            "2",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--timeout",
            "30",
        ]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(6)  # past start-up, with calls in flight
        os.kill(proc.pid, signal.SIGTERM)
        sent = time.perf_counter()
        _, err = proc.communicate(timeout=60)
        waited = time.perf_counter() - sent
    assert proc.returncode == 2 and "stopped by SIGTERM" in err and "--resume" in err, err[-2000:]
    assert waited < 10, waited
    (results,) = tmp_path.glob("*/*/results.json")
    assert json.loads(results.read_text())["counts"]["planned"] == 2 * 2 * 3


def test_a_prompt_past_the_context_window_is_a_counted_forfeit_and_the_game_goes_on(tmp_path, backend):
    """vLLM answers HTTP 400 when prompt + max_tokens pass max_model_len. That turn is forfeited at
    once (a repair would only be longer), counted, with the server's words kept; no game is lost."""
    with FakeOpenAIServer() as server:
        server.counters.context["ctx-900"] = 900  # what /v1/models reports
        result, res, games = run(server, tmp_path, "ctx-900", "--max-tokens", "100")
    assert result.exit_code == 0, result.output
    assert res["counts"]["completed"] == res["counts"]["planned"] and res["counts"]["failed"] == 0
    turns = [t for g in games for t in g["turns"] if g["players"][t["role"]] == "openai/ctx-900"]
    refused = [t for t in turns if t["forfeited"]]
    assert refused and len(refused) < len(turns)  # the early, short prompts fit
    for t in refused:
        assert len(t["attempts"]) == 1 and t["attempts"][0]["usage"]["refused"] is True
        assert "maximum context length is 900" in t["attempts"][0]["error"]
    assert len(refused) == server.counters.by_status[400]  # every refusal is in the records, once
    usage = res["usage"]["openai/ctx-900"]
    assert usage["refused_calls"] == len(refused)
    assert f"{len(refused)} refused by the server" in result.output
    st = res["statistics"]["agents"]["openai/ctx-900"]
    assert st["forfeit_rate"]["mean"] > 0
    if backend == "openai":  # the lean client reads /v1/models and warns before the first game
        assert "context window of 900 tokens" in result.output
        assert res["players"]["openai/ctx-900"]["backend"]["context_windows"] == {server.url: 900}


def test_usage_and_prompt_cache_savings_are_recorded_and_shown(tmp_path, backend):
    """The loopback server keeps a prefix cache like vLLM's and OpenAI's: a system prompt it has seen
    comes back as cached prompt tokens, which the records, the results and the scorecard show."""
    with FakeOpenAIServer() as server:
        result, res, games = run(server, tmp_path, "good")
    assert result.exit_code == 0, result.output
    attempts = model_attempts(games, "openai/good")
    usage = res["usage"]["openai/good"]
    assert usage["calls"] == len(attempts)
    assert usage["tokens_in"] == sum(a["usage"]["tokens_in"] for a in attempts)
    cached = sum(a["usage"].get("cached_tokens", 0) for a in attempts)
    assert 0 < cached == usage["cached_tokens"] < usage["tokens_in"]
    assert "from the provider's prompt cache" in result.output
    assert usage["cost_usd"] is None  # a server of your own has no list price: unknown, never zero


def test_anthropic_system_prompts_are_marked_for_prompt_caching():
    from arena_bench.models.litellm_backend import cache_marked

    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": "turn"}]
    marked = cache_marked("anthropic/claude-sonnet-4-5", messages)
    assert marked[0]["content"] == [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}]
    assert marked[1] == messages[1] and messages[0]["content"] == "rules"  # the game's own list is untouched
    assert cache_marked("openai/gpt-4o-mini", messages) is messages  # OpenAI caches prefixes by itself
