"""Tokens per second of the hf/ backend (SmolLM2-135M GGUF, CPU) at batch 1 and batch 16,
with the real first-turn prompt of a lite scenario and constrained decoding on.

    python benchmarks/hf_throughput.py --threads 2
"""

from __future__ import annotations

import argparse
import time

from arena_bench.agents.base import Observation
from arena_bench.models.base import GenerationSettings
from arena_bench.models.hf_backend import HFBackend
from arena_bench.playing.game import public_view
from arena_bench.playing.prompts import reply_schema, system_prompt, turn_prompt
from arena_bench.scenarios.tasks import open_task_set


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--batches", default="1,16")
    p.add_argument("--max-tokens", type=int, default=120)
    p.add_argument("--structured", default="on", choices=["on", "off"])
    args = p.parse_args()
    t = time.perf_counter()
    backend = HFBackend(
        args.model,
        GenerationSettings(max_tokens=args.max_tokens, structured=args.structured),
        device=args.device,
        threads=args.threads,
    )
    print(f"load: {time.perf_counter() - t:.1f} s ({backend.source}, {args.device}, {args.threads} threads)")
    scenario = open_task_set("negotiation-v1").load("lite")[0]
    obs = Observation(0, scenario.roles[0], public_view(scenario), (), 0, 20, None, None)
    messages = [
        {"role": "system", "content": system_prompt(obs)},
        {"role": "user", "content": turn_prompt(obs)},
    ]
    schema = reply_schema(scenario.issues)
    backend._generate_batch([(messages, schema, 0)])  # warm-up (grammar compile, allocator)
    for size in (int(b) for b in args.batches.split(",")):
        t = time.perf_counter()
        out = backend._generate_batch([(messages, schema, k) for k in range(size)])
        elapsed = time.perf_counter() - t
        generated = sum(c.tokens_out for c in out)
        print(
            f"batch {size:>2}: {out[0].tokens_in} prompt tokens each, {generated} tokens generated in {elapsed:.1f} s "
            f"= {generated / elapsed:.1f} tokens/s ({size * out[0].tokens_in / elapsed:.0f} prompt+gen tokens/s incl. prefill)"
        )


if __name__ == "__main__":
    main()
