"""The language-model pipeline of ``arena-bench train`` for a config with ``"kind": "lm"``: teacher
data, supervised warmup, RL through text, evaluation of every stage on the probe set, a model card.

Writes under ``out``:

- ``teacher-data/``: the SFT dataset and its card (``reference_trainer.lm.data``);
- ``sft-model/``: the warm-started model, when an RL stage follows (else it is ``model/``);
- ``model/``: the last stage's transformers folder, with ``README.md`` (the model card);
- ``rl_curve.jsonl``: one line per RL iteration;
- ``eval/``: each stage's probe-set run and ``stages.md`` (when ``eval_limit`` > 0);
- ``summary.json``: settings, versions, timings and results of every stage.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from .data import DataConfig, build_dataset
from .rl import Dist, RLConfig, rl
from .sft import LMConfig, freeze_below, known_settings, load_base, sft


def versions() -> dict[str, Any]:
    import torch
    import transformers
    import trl

    import arena_bench

    return {"arena_bench": arena_bench.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__, "trl": trl.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}  # fmt: skip


def evaluate_stages(stages: dict[str, str], out: Path, cfg: LMConfig) -> dict[str, Any]:
    """Each stage (name -> player spec, e.g. hf/FOLDER) through arena_bench on the probe set's first
    ``eval_limit`` dev scenarios, constrained decoding off; paired differences between stages."""
    from arena_bench.evaluation import run

    from .evaluate import compare, probe_config, table

    runs = {}
    for name, spec in stages.items():
        config = probe_config(spec, max_tokens=cfg.eval_max_tokens, limit=cfg.eval_limit)
        if spec.startswith("hf/"):  # played in this process: the machine's threads, batched turns
            options = dict(config.player_options[spec])
            if cfg.bf16:
                options["dtype"] = "bfloat16"
            runtime = {"threads": cfg.threads, "max_batch": 32, "device": cfg.device}
            config = replace(config, player_options={spec: options}, runtime_options={spec: runtime})
        runs[name] = run(config, out / name, resume=True, progress=False)
    found = compare(runs)
    (out / "stages.json").write_text(json.dumps(found, indent=2))
    (out / "stages.md").write_text(table(found) + "\n")
    return found


def launched(device: str = "cpu") -> Any:
    """An ``accelerate.Accelerator`` when this process is one of several (``accelerate launch
    --multi_gpu --num_processes N``: accelerate's torchrun launcher, also on CPUs, where its ``--cpu``
    flag would start one process), else None: one process needs no wrapper. On DEVICE cpu the
    processes talk over gloo."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    return Accelerator(cpu=device == "cpu")


def run_lm(
    cfg: LMConfig,
    config_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Every stage of CFG. ``resume``: keep what an earlier sitting on the same ``out`` finished
    (teacher data, a saved SFT model) and continue SFT and RL from their last checkpoints."""
    import torch

    out = Path(cfg.out)
    accelerator = launched(cfg.device)
    main = accelerator is None or accelerator.is_main_process
    out.mkdir(parents=True, exist_ok=True)
    rl_cfg = RLConfig.from_dict(cfg.rl)
    if rl_cfg.iterations:
        Dist(accelerator).check(rl_cfg)  # before an hour of SFT, not after
    summary: dict[str, Any] = {"config": asdict(cfg), "config_file": config_file, "overrides": overrides or {},
                               "versions": versions(), "processes": accelerator.num_processes if accelerator else 1}  # fmt: skip
    stages = {"raw": f"hf/{cfg.base}"}
    previous = (
        json.loads((out / "summary.json").read_text()) if resume and (out / "summary.json").is_file() else {}
    )
    if cfg.start:
        sft_folder = Path(cfg.start)
        if not (sft_folder / "config.json").is_file():
            raise FileNotFoundError(
                f"LM config, start: {sft_folder} is not a transformers folder (no config.json)"
            )
        summary["sft"] = {"skipped": True, "model": str(sft_folder)}
    else:
        sft_folder = out / ("sft-model" if rl_cfg.iterations else "model")
        done = sft_folder / SFT_DONE
        if resume and done.is_file():  # an earlier sitting finished SFT: its model stands
            summary["data"] = previous.get("data", {"resumed": True})
            summary["sft"] = {**json.loads(done.read_text()), "resumed": True}
        else:
            data_cfg = DataConfig(**known_settings(DataConfig, cfg.data, "LM config, data"))
            started = time.perf_counter()
            if main:  # one process writes the data; the others read what it wrote
                dataset = build_dataset(data_cfg, out / "teacher-data")
            if accelerator:
                accelerator.wait_for_everyone()
                if not main:
                    import datasets

                    dataset = datasets.load_from_disk(str(out / "teacher-data"))
            summary["data"] = {"rows": len(dataset), "seconds": round(time.perf_counter() - started, 1)}
            summary["sft"] = sft(cfg, dataset, out, sft_folder, resume=resume, save=main)
            if main:
                (done).write_text(json.dumps(summary["sft"], indent=2) + "\n")
            if accelerator:
                accelerator.wait_for_everyone()
    stages["sft"] = f"hf/{sft_folder}"
    if rl_cfg.iterations:
        if cfg.device == "cpu":
            torch.set_num_threads(cfg.threads)
        model, tokenizer = load_base(str(sft_folder), cfg.device)
        reference, _ = load_base(str(sft_folder), cfg.device)
        rollouts = None
        if rl_cfg.rollout == "vllm":  # the learner is a LoRA adapter the rollout servers load
            from peft import LoraConfig, get_peft_model

            from .rollout_server import VLLMRollouts

            if accelerator and not rl_cfg.api_base:
                raise ValueError(
                    "LM config, rl.api_base: several processes share rollout servers; start them on "
                    f"{sft_folder} (README, 'RL on vLLM') and list them, or run one process"
                )
            n = model.config.num_hidden_layers
            # train_layers: adapters on the top blocks only, so the backward pass stops there (on CPU
            # most of a step's cost is the backward pass through the lower blocks)
            top = list(range(n - cfg.train_layers, n)) if cfg.train_layers else None
            # every linear layer of the blocks by name (peft takes layers_to_transform only with names)
            linear = sorted({name.rpartition(".")[2] for name, m in model.model.layers.named_modules()
                             if isinstance(m, torch.nn.Linear)})  # fmt: skip
            model = get_peft_model(model, LoraConfig(r=rl_cfg.lora_r, lora_alpha=2 * rl_cfg.lora_r,
                                                     target_modules=linear, layers_to_transform=top,
                                                     task_type="CAUSAL_LM"))  # fmt: skip
            rollouts = VLLMRollouts(rl_cfg, sft_folder, out, cfg.device)
        else:
            freeze_below(model, cfg.train_layers)
        try:
            summary["rl"] = rl(rl_cfg, model, reference, tokenizer, out, cfg.device, cfg.bf16, cfg.seed,
                               accelerator=accelerator, resume=resume, rollouts=rollouts)  # fmt: skip
        finally:
            if rollouts is not None:
                rollouts.close()
        if rollouts is not None:
            model = model.merge_and_unload()  # a plain transformers folder, as the other path saves
        if main:
            model.save_pretrained(out / "model")
            tokenizer.save_pretrained(out / "model")
        stages["rl"] = f"hf/{out / 'model'}"
        del model, reference
    elif cfg.start and main:  # a warm start and no RL: the start is the last stage
        shutil.copytree(sft_folder, out / "model", dirs_exist_ok=True)
    if not main:  # the evaluation, the card and the summary are the first process's
        accelerator.wait_for_everyone()
        return summary
    if cfg.eval_limit:
        started = time.perf_counter()
        summary["evaluation"] = evaluate_stages(stages, out / "eval", cfg)
        summary["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    from .hub import model_card

    (out / "model").mkdir(exist_ok=True)
    (out / "model" / "README.md").write_text(model_card(summary, out))
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if accelerator:
        accelerator.wait_for_everyone()
    return summary


SFT_DONE = "sft.json"  # written into the SFT model's folder once it is saved whole
