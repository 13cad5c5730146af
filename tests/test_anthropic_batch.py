"""Anthropic's Message Batches behind --batch (anthropic/ models), against the loopback server's
/v1/messages/batches: turn-synchronous batches, the forced reply tool, the cached system prompt, and
errored lines as counted forfeits."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from arena_bench.cli import main

from .fake_openai_server import FakeOpenAIServer
from .test_scale_runs import load


def anthropic_batch_args(url: str, out: Path, model: str = "good") -> list[str]:
    return ["run", "--model", f"anthropic/{model}", "--api-base", url, "--batch", "--limit", "2",
            "--opponents", "scripted/boulware,scripted/hardliner", "--output-path", str(out / model),
            "--no-progress", "--bootstrap", "100", "--model-args", "batch_poll_s=0.05"]  # fmt: skip


def test_anthropic_message_batches_run_turn_synchronously_with_the_cached_system_prompt(tmp_path):
    def args(url, model="good"):
        return anthropic_batch_args(url, tmp_path, model)

    with FakeOpenAIServer() as server:
        result = CliRunner().invoke(main, args(server.url), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        run_dir, res, games = load(tmp_path / "good")
        assert res["counts"]["completed"] == len(games) == 2 * (2 * 4 + 2)
        assert res["players"]["anthropic/good"]["backend"]["kind"] == "anthropic-batch"
        usage = res["usage"]["anthropic/good"]
        sizes = server.counters.batch_lines
        assert sum(sizes) == usage["calls"] - usage["replayed_calls"] and max(sizes) >= 2 * (2 * 4 + 2)
        headers = server.counters.anthropic_headers
        assert all(h["anthropic-version"] == "2023-06-01" and h["x-api-key"] for h in headers)
        # the reply came back as the forced tool's input and parsed, and the system prompt was read from cache
        invalid = [a for g in games for t in g["turns"] for a in t["attempts"] if a.get("error")]
        assert invalid == [] and usage["cached_tokens"] > 0
        logged = [json.loads(x) for x in (run_dir / "batches.jsonl").read_text().splitlines()]
        assert [len(b["custom_ids"]) for b in logged] == sizes
        # an errored line is that turn's counted forfeit, with Anthropic's words in the record
        bad = CliRunner().invoke(main, args(server.url, "batch-lineerror"), catch_exceptions=False)
        assert bad.exit_code == 0, bad.output
        _, res_bad, games_bad = load(tmp_path / "batch-lineerror")
    refused = [
        a
        for g in games_bad
        for t in g["turns"]
        for a in t["attempts"]
        if "line rejected" in (a.get("error") or "")
    ]
    assert refused and res_bad["usage"]["anthropic/batch-lineerror"]["refused_calls"] == len(refused)
