"""Training throughput of the reference trainer: games per minute, updates included.

    python benchmarks/train_throughput.py [--config reference_trainer/configs/default.json] \
        [--iterations 30] [--device cpu|cuda]

Runs PPO iterations of the config after an untimed warm-up iteration (rollouts against its
opponent mix, GAE, PPO updates; behaviour cloning and evaluations left out) and prints games
per wall-minute and per CPU-minute (process time, all threads), with the share spent in
rollouts and in updates, and each part's own games per CPU-minute. The learner starts from the shipped policy (``--policy``), so games
last as long as they do in training, not as long as a random network's. Side by side, the
same policy against the scripted panel played one game at a time through arena_bench's own
async game loop, the path evaluations take.
Needs the ``train`` extra (torch).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from arena_bench.agents.policy import PolicyAgent, load_policy
from arena_bench.arrays.registry import SCRIPTED
from arena_bench.core.analysis import analyse
from arena_bench.playing.game import play_game
from reference_trainer.policy import ActorCritic, load_actor
from reference_trainer.train import (
    TRAINING_OPPONENTS,
    TrainConfig,
    advantages,
    mix_opponents,
    ppo_update,
    rollout,
    scenario_pool,
)

ROOT = Path(__file__).resolve().parent.parent


def trainer_rate(cfg: TrainConfig, iterations: int, policy: str, warmup: int = 1) -> dict[str, float]:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    scenarios = scenario_pool(cfg)
    model = load_actor(ActorCritic(cfg.hidden), load_policy(policy).params).to(cfg.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    pool = [{k: v.copy() for k, v in model.actor_params().items()}]
    pool_score = [0.0]
    # untimed warm-up iterations: the per-scenario constants a long run computes once
    for _ in range(warmup):
        batch = rollout(model, scenarios, cfg, rng, mix_opponents(cfg, pool, pool_score, rng))
        ppo_update(model, opt, advantages(batch, cfg), cfg, rng)
    t_roll = t_upd = c_roll = c_upd = 0.0
    turns = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        t, c = time.perf_counter(), time.process_time()
        batch = rollout(model, scenarios, cfg, rng, mix_opponents(cfg, pool, pool_score, rng))
        t_roll += time.perf_counter() - t
        c_roll += time.process_time() - c
        turns.append(batch["env"].turn.mean())
        t, c = time.perf_counter(), time.process_time()
        ppo_update(model, opt, advantages(batch, cfg), cfg, rng)
        if cfg.device == "cuda":
            torch.cuda.synchronize()
        t_upd += time.perf_counter() - t
        c_upd += time.process_time() - c
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    games = iterations * cfg.games_per_iteration
    return {
        "games": games,
        "wall_s": wall,
        "cpu_s": cpu,
        "per_wall_min": games / wall * 60,
        "per_cpu_min": games / cpu * 60,
        "rollout_share": t_roll / wall,
        "update_share": t_upd / wall,
        "rollout_per_cpu_min": games / c_roll * 60,
        "update_per_cpu_min": games / c_upd * 60,
        "turns": float(np.mean(turns)),
    }


def runner_rate(cfg: TrainConfig, games: int, policy_ref: str) -> dict[str, float]:
    """The policy (numpy, as exported, sampled actions) against the scripted panel through the game loop."""
    rng = np.random.default_rng(cfg.seed)
    scenarios = scenario_pool(cfg)
    policy = load_policy(policy_ref)
    names = list(TRAINING_OPPONENTS)
    analyses = {}
    turns = []

    async def go():
        for g in range(games):
            s = scenarios[int(rng.integers(len(scenarios)))]
            if s.id not in analyses:
                analyses[s.id] = analyse(s)
            role = int(rng.integers(2))
            agents = [None, None]
            agents[role] = PolicyAgent(policy, role, int(rng.integers(1 << 30)))
            agents[1 - role] = SCRIPTED[names[g % len(names)]].new_agent(1 - role, int(rng.integers(1 << 30)))
            state, _, _ = await play_game(s, analyses[s.id], tuple(agents), int(rng.integers(2)))
            turns.append(state.turn)

    wall0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(go())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "games": games,
        "wall_s": wall,
        "cpu_s": cpu,
        "per_wall_min": games / wall * 60,
        "per_cpu_min": games / cpu * 60,
        "turns": float(np.mean(turns)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "reference_trainer/configs/default.json")
    p.add_argument("--iterations", type=int, default=30)
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations first")
    p.add_argument("--runner-games", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--engines",
        default="reference,array",
        help="rollout environments, side by side: reference (BatchedEnv) and array (the array engine)",
    )
    p.add_argument("--games-per-iteration", type=int, default=None, help="override the config's batch")
    p.add_argument("--threads", type=int, default=None, help="override the config's torch threads")
    p.add_argument(
        "--policy", default="ppo-nash-v1", help="starting weights: a shipped name or an exported .npz"
    )
    args = p.parse_args()
    cfg = dataclasses.replace(TrainConfig.from_file(args.config), device=args.device)
    if args.threads:
        cfg = dataclasses.replace(cfg, threads=args.threads)
    if args.games_per_iteration:
        cfg = dataclasses.replace(cfg, games_per_iteration=args.games_per_iteration)
    print(
        f"config {args.config.name}: {cfg.games_per_iteration} games/iteration, {cfg.ppo_epochs} PPO epochs, "
        f"opponent mix {cfg.opponent_mix}, device {cfg.device}, {cfg.threads} torch threads"
    )
    for engine in args.engines.split(","):
        t = trainer_rate(dataclasses.replace(cfg, engine=engine), args.iterations, args.policy, args.warmup)
        print(
            f"trainer, {engine} environment, PPO updates included: {t['games']} games in {t['wall_s']:.1f} s wall, "
            f"{t['cpu_s']:.1f} s CPU -> {t['per_wall_min']:,.0f} games/wall-min, {t['per_cpu_min']:,.0f} games/CPU-min "
            f"(rollouts {t['rollout_share']:.0%}, updates {t['update_share']:.0%} of wall; {t['turns']:.1f} turns a game)\n"
            f"  rollouts alone: {t['rollout_per_cpu_min']:,.0f} games/CPU-min; GAE and PPO updates alone: "
            f"{t['update_per_cpu_min']:,.0f} games/CPU-min ({cfg.ppo_epochs} epochs, minibatch {cfg.minibatch})"
        )
    r = runner_rate(cfg, args.runner_games, args.policy)
    print(
        f"arena_bench game loop (policy vs panel, one game at a time): {r['games']} games in {r['wall_s']:.1f} s "
        f"-> {r['per_wall_min']:,.0f} games/wall-min, {r['per_cpu_min']:,.0f} games/CPU-min; {r['turns']:.1f} turns a game"
    )
    print(f"trainer / game loop: {t['per_cpu_min'] / r['per_cpu_min']:.1f}x per CPU-minute, updates included")


if __name__ == "__main__":
    main()
