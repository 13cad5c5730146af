"""RL-through-text iteration time, side by side: rollouts on transformers' ``generate`` in the learner's
process against rollouts on a vLLM server playing the learner's LoRA adapter (issue 30).

    python benchmarks/lm_rl_iteration.py --start FOLDER [--api-base URL --served-model NAME] [--iterations 3]

FOLDER: a transformers folder to start RL from (an SFT model, or SmolLM2 converted from its GGUF:
``python -c "from tests.test_vllm_backend import convert_gguf; convert_gguf(Path('FOLDER'))"``).
Both runs play the smoke config's games (``reference_trainer/configs/lm-smoke.json``: 2 groups of 2
games, 4 turns, 32 new tokens, Boulware and the population) from the same start, with the same seed;
``--max-new-tokens`` and ``--max-turns`` make them longer. Without ``--api-base`` the trainer starts its
own vLLM server (its start-up is printed apart and not counted in an iteration). Prints, per rollout
path, the seconds of play and update of each iteration after the first (the first warms up), and
the ratio of the mean iteration times.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from reference_trainer.lm.pipeline import run_lm
from reference_trainer.lm.sft import LMConfig

ROOT = Path(__file__).resolve().parents[1]


def one(rollout: str, args, folder: Path) -> tuple[list[dict], float]:
    smoke = json.loads((ROOT / "reference_trainer/configs/lm-smoke.json").read_text())
    rl = {**smoke["rl"], "iterations": args.iterations, "rollout": rollout,
          "max_new_tokens": args.max_new_tokens, "max_turns": args.max_turns}  # fmt: skip
    if rollout == "vllm" and args.api_base:
        rl.update(api_base=args.api_base, served_model=args.served_model)
    cfg = replace(LMConfig.from_dict({**smoke, "rl": rl}), out=str(folder / rollout), start=str(args.start),
                  threads=args.threads, eval_limit=0)  # fmt: skip
    started = time.perf_counter()
    run_lm(cfg)
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (folder / rollout / "rl_curve.jsonl").read_text().splitlines()]
    return rows, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--start", type=Path, required=True)
    p.add_argument("--api-base", default="")
    p.add_argument("--served-model", default="warm-start")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--max-turns", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    means = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rollout in ("transformers", "vllm"):
            rows, wall = one(rollout, args, Path(tmp))
            timed = rows[1:] or rows
            its = [r["seconds_play"] + r["seconds_update"] for r in timed]
            means[rollout] = sum(its) / len(its)
            print(f"{rollout:>12}: wall {wall:.0f} s for {len(rows)} iterations (start-up included)")
            for r in rows:
                print(f"{'':>14}iteration {r['iteration']}: play {r['seconds_play']:.1f} s, update "
                      f"{r['seconds_update']:.1f} s, {r['tokens']} tokens, invalid calls {r['invalid_call_rate']:.2f}")  # fmt: skip
            print(f"{'':>14}mean iteration (after the first): {means[rollout]:.1f} s")
    print(f"vLLM rollouts: {means['transformers'] / means['vllm']:.2f}x the transformers iteration time")


if __name__ == "__main__":
    main()
