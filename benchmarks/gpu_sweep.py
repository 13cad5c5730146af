"""Large-batch play and training on one device, and learning per game against the CPU recipe.

    python benchmarks/gpu_sweep.py --device cuda --out DIR            # on a GPU machine (benchmarks/gpu/array_sweep.sh)
    python benchmarks/gpu_sweep.py --device cpu --batches 512,1024 --learn cpu:256:256 --learn-games 1024   # a dry run here

Three parts, each printed as it finishes and written to DIR/gpu_sweep.json with the settings and versions:

1. **Play**: scripted-vs-policy games per second at each batch size: rollouts of the trainer's
   array environment with every opponent drawn from the scripted panel (the learner's network on
   ``--device``, the opponents and the protocol on the array engine), no updates.
2. **Training**: games per second at each batch size with the PPO updates included (the config's
   opponent mix, ``--minibatch``), the split between rollouts and updates, and any minibatch the
   update left out for a non-finite gradient.
3. **Learning per game**: the same number of games (``--learn-games``) trained from the same
   cloned start at each ``device:batch:minibatch`` of ``--learn`` (the cloning's minibatch fixed), each then evaluated on ``dev``
   against panel-v1 through arena_bench (the config's evaluation: Arena Score with its interval).
   The first setting is the reference, normally the CPU recipe (1,024 games an iteration,
   minibatch 1,024): a larger batch keeps learning per game where its score's interval overlaps it.

Needs the ``train`` extra (torch). Every figure comes from the config given (default: the one that
trained ppo-nash-v2) with only the named settings changed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena_bench.agents.policy import load_policy  # noqa: E402
from reference_trainer.policy import ActorCritic, load_actor  # noqa: E402
from reference_trainer.train import (  # noqa: E402
    TrainConfig,
    advantages,
    mix_opponents,
    ppo_update,
    rollout,
    scenario_pool,
    train,
)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _setup(cfg: TrainConfig, policy: str):
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    model = load_actor(ActorCritic(cfg.hidden), load_policy(policy).params).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    pool = [{k: v.copy() for k, v in model.actor_params().items()}]
    return rng, model, opt, pool


def play_rate(cfg: TrainConfig, scenarios: list, policy: str, repeats: int) -> dict:
    """Rollouts against the scripted panel only (the pool's constants are built by the warm-up)."""
    cfg = dataclasses.replace(cfg, opponent_mix=(0.0, 0.0, 1.0))
    rng, model, _, pool = _setup(cfg, policy)
    _sync(cfg.device)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        rollout(model, scenarios, cfg, rng, mix_opponents(cfg, pool, [0.0], rng))
    _sync(cfg.device)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    games = repeats * cfg.games_per_iteration
    return {
        "batch": cfg.games_per_iteration,
        "games": games,
        "wall_s": wall,
        "cpu_s": cpu,
        "games_per_s": games / wall,
    }


def train_rate(cfg: TrainConfig, scenarios: list, policy: str, iterations: int) -> dict:
    """Rollouts and PPO updates with the config's opponent mix."""
    rng, model, opt, pool = _setup(cfg, policy)
    score = [0.0]
    _sync(cfg.device)
    t_roll = t_upd = 0.0
    skipped = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        t = time.perf_counter()
        batch = rollout(model, scenarios, cfg, rng, mix_opponents(cfg, pool, score, rng))
        t_roll += time.perf_counter() - t
        t = time.perf_counter()
        skipped += ppo_update(model, opt, advantages(batch, cfg), cfg, rng)["skipped_minibatches"]
        _sync(cfg.device)
        t_upd += time.perf_counter() - t
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    games = iterations * cfg.games_per_iteration
    return {
        "batch": cfg.games_per_iteration,
        "minibatch": cfg.minibatch,
        "games": games,
        "wall_s": wall,
        "cpu_s": cpu,
        "games_per_s": games / wall,
        "games_per_cpu_min": games / cpu * 60,
        "rollout_s": t_roll,
        "update_s": t_upd,
        "skipped_minibatches": skipped,
    }


def learning(cfg: TrainConfig, setting: str, games: int, out: Path) -> dict:
    """Train ``games`` games at ``device:batch:minibatch`` from the config's cloned start, then
    evaluate the last policy once (the config's split, limit and panel)."""
    device, batch, minibatch = setting.split(":")
    batch, minibatch = int(batch), int(minibatch)
    iterations = max(1, games // batch)
    run = dataclasses.replace(
        cfg,
        device=device,
        games_per_iteration=batch,
        minibatch=minibatch,
        iterations=iterations,
        eval_every=iterations,  # one evaluation, at the end
        select_decoding=False,
        keep_best=False,
        out=str(out / setting.replace(":", "-")),
    )
    summary = train(run, log=lambda line: print(f"  [{setting}] {line}", flush=True))
    with open(Path(run.out) / "learning_curve.csv", newline="") as f:
        last = list(csv.DictReader(f))[-1]
    return {
        "setting": setting,
        "games": iterations * batch,
        "iterations": iterations,
        "train_s": summary["train_seconds"],
        "games_per_s": iterations * batch / summary["train_seconds"],
        "arena_score": float(last["eval_score"]),
        "lo": float(last["eval_lo"]),
        "hi": float(last["eval_hi"]),
        "deal_rate": float(last["eval_deal"]),
        "skipped_minibatches": summary["skipped_minibatches"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "reference_trainer/configs/default.json")
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    p.add_argument("--batches", default="4096,16384,65536", help="games per iteration for parts 1 and 2")
    p.add_argument("--minibatch", type=int, default=4096, help="PPO minibatch for part 2")
    p.add_argument("--play-repeats", type=int, default=1, help="timed rollouts per batch size")
    p.add_argument("--train-iterations", type=int, default=1, help="timed iterations per batch size")
    p.add_argument("--warmup-batch", type=int, default=1024, help="one untimed rollout first (pool, device)")
    p.add_argument(
        "--learn",
        default="cpu:1024:1024,cuda:4096:1024,cuda:16384:4096",
        help="device:batch:minibatch settings for part 3, the reference first ('' skips part 3)",
    )
    p.add_argument("--learn-games", type=int, default=32768, help="games each setting of part 3 trains")
    p.add_argument("--bc-games", type=int, default=1000, help="cloned games of part 3's start (all settings)")
    p.add_argument("--policy", default="ppo-nash-v2", help="weights that parts 1 and 2 play with")
    p.add_argument("--out", type=Path, default=None, help="folder for gpu_sweep.json and part 3's runs")
    args = p.parse_args()

    threads = args.threads or torch.get_num_threads()
    cfg = dataclasses.replace(TrainConfig.from_file(args.config), device=args.device, threads=threads)
    out = args.out or Path(tempfile.mkdtemp(prefix="gpu-sweep-"))
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "command": " ".join(sys.argv),
        "settings": vars(args) | {"config": str(args.config), "out": str(out), "threads": threads},
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "cpu": platform.processor() or platform.machine(),
        },
        "play": [],
        "train": [],
        "learning": [],
    }

    def save() -> None:
        tmp = out / "gpu_sweep.json.tmp"
        tmp.write_text(json.dumps(report, indent=2))
        tmp.replace(out / "gpu_sweep.json")

    print(
        f"device {cfg.device} ({report['versions']['device_name']}), {threads} torch threads, out {out}",
        flush=True,
    )
    scenarios = scenario_pool(cfg)
    # untimed: the pool's per-scenario constants (built once per process) and the device's start
    play_rate(dataclasses.replace(cfg, games_per_iteration=args.warmup_batch), scenarios, args.policy, 1)
    for b in [int(x) for x in args.batches.split(",") if x]:
        run = dataclasses.replace(cfg, games_per_iteration=b)
        r = play_rate(run, scenarios, args.policy, args.play_repeats)
        report["play"].append(r)
        print(
            f"play  batch {b:>7,}: {r['games_per_s']:>9,.0f} games/s ({r['games']:,} games in {r['wall_s']:.1f} s)",
            flush=True,
        )
        save()
    for b in [int(x) for x in args.batches.split(",") if x]:
        run = dataclasses.replace(cfg, games_per_iteration=b, minibatch=args.minibatch)
        r = train_rate(run, scenarios, args.policy, args.train_iterations)
        report["train"].append(r)
        print(
            f"train batch {b:>7,} minibatch {run.minibatch:,}: {r['games_per_s']:>9,.0f} games/s with updates "
            f"(rollouts {r['rollout_s']:.1f} s, updates {r['update_s']:.1f} s; skipped minibatches "
            f"{r['skipped_minibatches']})",
            flush=True,
        )
        save()
    # every setting starts from the same cloning recipe (games, epochs, minibatch), whatever its PPO minibatch
    learn_cfg = dataclasses.replace(
        cfg, bc_games=args.bc_games, bc_minibatch=cfg.bc_minibatch or cfg.minibatch
    )
    for setting in [s for s in args.learn.split(",") if s]:
        r = learning(learn_cfg, setting, args.learn_games, out)
        report["learning"].append(r)
        ref = report["learning"][0]
        overlap = r["lo"] <= ref["hi"] and ref["lo"] <= r["hi"]
        print(
            f"learn {setting}: {r['games']:,} games in {r['train_s']:.0f} s ({r['games_per_s']:,.0f} games/s) -> "
            f"Arena Score {r['arena_score']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]"
            + ("" if r is ref else f"; {'overlaps' if overlap else 'does not overlap'} {ref['setting']}"),
            flush=True,
        )
        save()
    print(f"written: {out / 'gpu_sweep.json'}")


if __name__ == "__main__":
    main()
