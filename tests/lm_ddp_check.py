"""One RL policy step, three times, on fixed samples: run as one process (``python tests/lm_ddp_check.py
OUT``) or several (``accelerate launch --cpu --num_processes 2 tests/lm_ddp_check.py OUT``); each
process takes its share of the samples and saves the trainable weights it ends with to OUT/rank<R>.pt.
tests/test_lm.py compares them: every process the same, and the same as one process with all samples."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import torch


def main(out: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from reference_trainer.lm.pipeline import launched
    from reference_trainer.lm.rl import Call, Dist, RLConfig, policy_step

    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)  # fmt: skip
    model = LlamaForCausalLM(config)
    if int(__import__("os").environ.get("RANK", "0")) == 0:
        out.mkdir(parents=True, exist_ok=True)
        torch.save({n: p.detach().clone() for n, p in model.named_parameters()}, out / "init.pt")
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad = False
    rng = np.random.default_rng(5)
    samples = [
        (Call(0, rng.integers(3, 96, int(rng.integers(4, 12))).tolist(),
              rng.integers(3, 96, int(rng.integers(1, 7))).tolist()), float(rng.normal()))
        for _ in range(10)
    ]  # fmt: skip
    accelerator = launched("cpu")
    dist = Dist(accelerator)
    mine = samples[dist.rank :: dist.world]
    trainable = [p for p in model.parameters() if p.requires_grad]
    # plain SGD: a step is proportional to the gradient, so a wrongly scaled share would show (Adam's
    # step would hide a constant factor)
    opt = torch.optim.SGD(trainable, lr=0.5)
    learner = model
    if accelerator:
        learner, opt = accelerator.prepare(model, opt)
    cfg = RLConfig(micro_batch=2, kl_coef=0.1)
    for _ in range(3):
        model.train()
        policy_step(learner, ref, mine, cfg, opt, trainable, dist, "cpu", False)
    out.mkdir(parents=True, exist_ok=True)
    torch.save({n: p.detach().clone() for n, p in model.named_parameters()}, out / f"rank{dist.rank}.pt")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
