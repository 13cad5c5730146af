"""Tokens per second of a local engine inside a tournament against the same engine generating raw
batches of the same size: how much of the engine the harness keeps busy (goal: at least 80%).

    python benchmarks/local_engine_tournament.py --engine hf --batch 16 --limit 2
    python benchmarks/local_engine_tournament.py --engine vllm --model /path/to/smollm2-folder --batch 32

One engine is loaded once and used both ways. "Raw": ``_generate_batch`` on BATCH real turn prompts
(first turns of the split's scenarios, both sides), repeated. "Tournament": the model against Boulware
and Linear on the first LIMIT scenarios of lite with BATCH games in flight, through the real runner
(parsing, repairs, the panel's turns, records); generated tokens over wall time. Constrained decoding
as in a default run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena_bench.agents.base import Observation  # noqa: E402
from arena_bench.planning import plan_cells  # noqa: E402
from arena_bench.playing.game import public_view  # noqa: E402
from arena_bench.playing.players import make_player  # noqa: E402
from arena_bench.playing.prompts import reply_schema, system_prompt, turn_prompt  # noqa: E402
from arena_bench.playing.runner import GameStore, run_cells  # noqa: E402
from arena_bench.scenarios.tasks import open_task_set  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=["hf", "vllm"], default="hf")
    p.add_argument("--model", default="smollm2-135m", help="hf/ reference or vllm/ folder")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--limit", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    options = {"max_batch": args.batch, "max_tokens": 200}
    if args.engine == "hf":
        options["threads"] = args.threads
    else:
        options.update({"dtype": "bfloat16", "enforce_eager": "true", "max_model_len": "4096"})
    spec = f"{args.engine}/{args.model}"
    t = time.perf_counter()
    player = make_player(spec, options)
    backend = player.backend
    print(f"{spec}: loaded in {time.perf_counter() - t:.1f} s; batch {args.batch}")

    ts = open_task_set("negotiation-v1")
    scenarios = ts.load("lite")
    items = []
    for k in range(args.batch):
        s = scenarios[k // 2 % len(scenarios)]
        obs = Observation(k % 2, s.roles[k % 2], public_view(s), (), 0, 20, None, None)
        msgs = [
            {"role": "system", "content": system_prompt(obs)},
            {"role": "user", "content": turn_prompt(obs)},
        ]
        items.append((msgs, reply_schema(s.issues), k))
    backend._generate_batch(items[:2])  # warm-up (grammars, allocator)
    gen, seconds = 0, 0.0
    for r in range(args.repeats):
        t = time.perf_counter()
        out = backend._generate_batch([(m, sch, seed + 1000 * r) for m, sch, seed in items])
        seconds += time.perf_counter() - t
        gen += sum(c.tokens_out for c in out)
    raw = gen / seconds
    print(f"raw engine: {gen} tokens in {seconds:.1f} s = {raw:.1f} generated tokens/s at batch {args.batch}")

    chosen = scenarios[: args.limit]
    cells = plan_cells(chosen, [(spec, "scripted/boulware"), (spec, "scripted/linear")])
    players = {spec: player, **{o: make_player(o) for o in ("scripted/boulware", "scripted/linear")}}
    with tempfile.TemporaryDirectory() as tmp:
        store = GameStore(Path(tmp) / "games.jsonl")
        t = time.perf_counter()
        asyncio.run(
            run_cells(
                cells,
                {s.id: s for s in chosen},
                players,
                store,
                task_set=ts.full_name,
                task_hash=ts.hash,
                split="lite",
                max_concurrency=args.batch,
                progress=False,
            )  # fmt: skip
        )
        wall = time.perf_counter() - t
        tokens = sum(
            a.usage.get("tokens_out", 0)
            for r in store.records
            for turn in r.turns
            if r.players[turn.role] == spec
            for a in turn.attempts
        )
        store.close()
    sizes = getattr(backend.batcher, "batch_sizes", [])
    mean_batch = sum(sizes) / len(sizes) if sizes else float("nan")
    inside = tokens / wall
    print(
        f"tournament: {len(cells)} games, {tokens} tokens in {wall:.1f} s = {inside:.1f} generated tokens/s "
        f"(mean batch {mean_batch:.1f})"
    )
    print(f"tournament / raw engine: {inside / raw:.0%}")


if __name__ == "__main__":
    main()
