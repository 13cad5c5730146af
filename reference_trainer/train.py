"""Behaviour cloning on the scripted panel, then population self-play PPO with GAE.

Read top to bottom: config, scenarios, demonstrations and BC, rollouts, rewards and shaping,
the PPO update, the population, continuous evaluation through arena_bench, the loop.
"""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from arena_bench.agents.policy import (
    ACCEPT,
    MAX_ISSUES,
    PROPOSE,
    WALK,
    accept_allowed,
    forward,
    guard_offers,
    observation_features,
    pad_brief,
    policy_guard,
    sample,
)
from arena_bench.arrays.registry import SCRIPTED
from arena_bench.core.analysis import analyse
from arena_bench.playing.game import play_game
from arena_bench.playing.players import PANELS
from arena_bench.storage import write_atomic

from . import reward
from .policy import ActorCritic, export
from .reference_env import BatchedEnv
from .scenarios import generated_scenarios


@dataclass
class TrainConfig:
    seed: int = 1
    device: str = "cpu"
    threads: int = 2
    # scenarios: generated with their own seed space, never the task set's
    scenario_seed: int = 777
    n_scenarios: int = 1200
    # behaviour cloning
    bc_games: int = 4000
    # one coherent demonstrator: cloning a mixture of styles gave an incoherent policy (0.28 on dev)
    bc_demonstrators: tuple[str, ...] = ("boulware",)
    bc_epochs: int = 40
    bc_minibatch: int | None = None  # None: PPO's minibatch (as ppo-nash-v1 and v2 were cloned)
    warmup: bool = True
    # PPO
    iterations: int = 120
    games_per_iteration: int = 192
    ppo_epochs: int = 4
    minibatch: int = 512
    lr: float = 3e-4
    lr_anneal: bool = False  # linearly to 0 over the iterations
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy: float = 0.003
    value_coef: float = 0.5
    hidden: int = 64
    # reward and credit
    reward: str = "nash"  # nash | selfish | close | arena
    below_batna_penalty: float = 0.5
    shaping: bool = True
    # population
    population: bool = True  # False: latest-vs-latest only
    snapshot_every: int = 10
    pool_size: int = 8
    opponent_mix: tuple[float, float, float] = (0.25, 0.25, 0.5)  # latest, pool, scripted panel
    # continuous evaluation through arena_bench
    eval_every: int = 20
    eval_split: str = "dev"
    eval_limit: int | None = 30
    eval_panel: str = "panel-v1"  # the scripted panel, so a curve never depends on a shipped trained policy
    # pick the exported policy's decoding (sampled or greedy actions) by its Arena Score on the
    # evaluation split at the end (model selection on dev, never on test)
    select_decoding: bool = True
    # export the evaluated checkpoint with the best Arena Score on the evaluation split, not the last
    keep_best: bool = False
    out: str = "runs/ppo"
    # rollouts: "reference" (BatchedEnv, scripted opponents one game at a time: how ppo-nash-v1 was
    # trained, kept so that its config reproduces it) or "array" (arena_bench's array engine)
    engine: str = "reference"
    # a best response (``arena-bench exploit``): every game against this one fixed agent, a
    # scripted spec (scripted/NAME) or an exported policy (policy/NAME-OR-PATH, played as exported)
    target: str | None = None
    # the policy never accepts or proposes a deal below its BATNA (exported as ``guard: batna``;
    # off for ppo-nash-v1, which was trained and published without it)
    batna_guard: bool = False
    # the scripted opponents of training and of the cloning games, by name (None: panel-v1's eight)
    scripted_opponents: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: Path) -> TrainConfig:
        data = json.loads(Path(path).read_text())
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"{path}: unknown settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}"
            )
        for key in ("bc_demonstrators", "opponent_mix", "scripted_opponents"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


# --- scenarios ------------------------------------------------------------------------------


# The scripted opponents of training: panel-v1's members, by name. Not every registered strategy:
# the registry grew (MiCRO, HardHeaded, the diagnostics injector), and a published config must keep
# training against the population it was trained against.
TRAINING_OPPONENTS = tuple(spec.split("/", 1)[1] for spec in PANELS["panel-v1"])


def training_opponents(cfg: TrainConfig) -> list[str]:
    names = list(cfg.scripted_opponents or TRAINING_OPPONENTS)
    unknown = [n for n in names if n not in SCRIPTED]
    if unknown:
        raise ValueError(f"scripted_opponents: no strategy {unknown}; known: {', '.join(SCRIPTED)}")
    return names


def scenario_pool(cfg: TrainConfig) -> list:
    return generated_scenarios(cfg.scenario_seed, cfg.n_scenarios, lambda k: f"train-{k}")


# --- behaviour cloning ------------------------------------------------------------------------


class Recorder:
    """Wraps a scripted agent; records (features, action) of each of its turns."""

    def __init__(self, agent, store: list):
        self.agent, self.store, self.ready = agent, store, False

    async def act(self, obs):
        if not self.ready:
            shape = tuple(len(i.options) for i in obs.public.issues)
            self.pad = pad_brief(obs.brief.weights, obs.brief.values, shape)
            self.ready = True
        reply = await self.agent.act(obs)
        points, w, opt_mask, issue_mask = self.pad
        tokens, glob, can = observation_features(obs, points, w, opt_mask, issue_mask)
        kind = {"propose": PROPOSE, "accept": ACCEPT, "walk_away": WALK}[reply.action.kind.value]
        options = np.full(MAX_ISSUES, -1)
        if kind == PROPOSE:
            options[: len(reply.action.offer)] = reply.action.offer
        self.store.append((tokens[0], glob[0], issue_mask, opt_mask, can[0], kind, options))
        return reply


def demonstrations(cfg: TrainConfig, scenarios: list, rng: np.random.Generator) -> list:
    store: list = []
    names = training_opponents(cfg)

    async def go():
        for g in range(cfg.bc_games):
            s = scenarios[int(rng.integers(len(scenarios)))]
            role = int(rng.integers(2))
            demo = SCRIPTED[cfg.bc_demonstrators[g % len(cfg.bc_demonstrators)]].new_agent(
                role, int(rng.integers(1 << 30))
            )
            other = SCRIPTED[names[int(rng.integers(len(names)))]].new_agent(
                1 - role, int(rng.integers(1 << 30))
            )
            agents = [None, None]
            agents[role], agents[1 - role] = Recorder(demo, store), other
            await play_game(s, analyse(s), tuple(agents), int(rng.integers(2)))

    asyncio.run(go())
    return store


def to_tensors(batch: list, device: str) -> dict[str, torch.Tensor]:
    cols = list(zip(*batch))
    return {
        "tokens": torch.tensor(np.stack(cols[0]), dtype=torch.float32, device=device),
        "glob": torch.tensor(np.stack(cols[1]), dtype=torch.float32, device=device),
        "issue_mask": torch.tensor(np.stack(cols[2]), dtype=torch.float32, device=device),
        "opt_mask": torch.tensor(np.stack(cols[3]), dtype=torch.float32, device=device),
        "can": torch.tensor(np.array(cols[4]), dtype=torch.bool, device=device),
        "kind": torch.tensor(np.array(cols[5]), dtype=torch.long, device=device),
        "options": torch.tensor(np.stack(cols[6]), dtype=torch.long, device=device),
    }


def behaviour_cloning(
    model: ActorCritic, data: dict[str, torch.Tensor], cfg: TrainConfig, rng: np.random.Generator
) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(data["kind"])
    loss_value = float("nan")
    for _ in range(cfg.bc_epochs):
        perm = torch.as_tensor(rng.permutation(n), device=data["kind"].device)
        size = cfg.bc_minibatch or cfg.minibatch
        for start in range(0, n, size):
            b = {k: v[perm[start : start + size]] for k, v in data.items()}
            tl, ol = model.actor(b["tokens"], b["glob"], b["issue_mask"], b["opt_mask"], b["can"])
            lp, _ = model.log_prob_entropy(tl, ol, b["kind"], b["options"], b["issue_mask"])
            loss = -lp.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_value = float(loss.detach())
    return loss_value


# --- rollouts -----------------------------------------------------------------------------------


def learner_reward(env: BatchedEnv, learner_role: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    s = env.shares()
    k = np.arange(env.n)
    return reward.terminal_reward(
        cfg.reward,
        s[k, learner_role],
        s[k, 1 - learner_role],
        env.deal,
        env.welfare(),
        cfg.below_batna_penalty,
    )


def rollout(
    model: ActorCritic,
    scenarios: list,
    cfg: TrainConfig,
    rng: np.random.Generator,
    opponents: list[tuple[str, Any]],
) -> dict[str, Any]:
    """Play ``games_per_iteration`` games; the learner is one side, an opponent from the mix the other."""
    n = cfg.games_per_iteration
    picked = [scenarios[int(i)] for i in rng.integers(len(scenarios), size=n)]
    first = rng.integers(2, size=n)
    learner = rng.integers(2, size=n)
    opp_choice = [opponents[int(i)] for i in rng.integers(len(opponents), size=n)]
    seeds = {k: int(rng.integers(1 << 30)) for k, o in enumerate(opp_choice) if o[0] == "scripted"}
    if cfg.engine == "array":
        from .array_env import BucketedArrayEnv, array_pool

        env = BucketedArrayEnv(
            picked,
            first,
            learner,
            [o[1] if o[0] == "scripted" else None for o in opp_choice],
            [seeds.get(k, 0) for k in range(n)],
            pool=array_pool(scenarios),
        )
        scripted = {}
    elif cfg.engine == "reference":
        env = BatchedEnv(picked, first)
        scripted = {
            k: SCRIPTED[opp_choice[k][1]].new_agent(1 - int(learner[k]), seed) for k, seed in seeds.items()
        }
    else:
        raise ValueError(f"engine {cfg.engine!r}: use reference or array")
    steps: list[dict[str, Any]] = []
    dev = cfg.device
    guard = "batna" if cfg.batna_guard else "none"

    def mover_points(idx: np.ndarray) -> np.ndarray:
        return env.s.points[idx, env.to_move[idx]]

    while not env.done.all():
        live = np.flatnonzero(~env.done)
        mover = env.to_move[live]
        mine = live[mover == learner[live]]
        theirs = live[mover != learner[live]]
        kind = np.zeros(env.n, dtype=int)
        offers = np.full((env.n, MAX_ISSUES), -1)
        if len(mine):
            tokens, glob, can = env.observe(mine)
            can = accept_allowed(can, glob, guard)  # the mask PPO's update uses too
            potential = env.table_potential()[mine]
            with torch.no_grad():
                t = lambda x, dt=torch.float32: torch.as_tensor(x, dtype=dt, device=dev)  # noqa: E731
                im, om = t(env.s.issue_mask[mine]), t(env.s.opt_mask[mine])
                tl, ol = model.actor(t(tokens), t(glob), im, om, t(can, torch.bool))
                k_d = torch.distributions.Categorical(logits=tl).sample()
                o_d = torch.distributions.Categorical(logits=ol).sample()
                o_d = torch.where(im > 0, o_d, torch.full_like(o_d, -1))
                lp, _ = model.log_prob_entropy(tl, ol, k_d, o_d, im)
                other = 1 - learner[mine]
                v = model.value(
                    t(tokens), t(glob), im, t(env.s.points[mine, other]), t(env.s.batna[mine, other])
                )
            kind[mine], offers[mine] = k_d.cpu().numpy(), o_d.cpu().numpy()
            executed = guard_offers(
                kind[mine], offers[mine], glob, mover_points(mine), env.s.opt_mask[mine], guard
            )
            steps.append(
                {
                    "idx": mine,
                    "tokens": tokens,
                    "glob": glob,
                    "can": can,
                    "kind": kind[mine].copy(),
                    "options": offers[mine].copy(),
                    "logp": lp.cpu().numpy(),
                    "value": v.cpu().numpy(),
                    "potential": potential,
                }
            )
            offers[mine] = executed  # the guard is part of the environment: PPO learns the sampled action
        sel = np.array([k for k in theirs if opp_choice[k][0] == "latest"], dtype=int)
        if len(sel):  # the learner's current weights, without gradients
            tokens, glob, can = env.observe(sel)
            can = accept_allowed(can, glob, guard)
            with torch.no_grad():
                t = lambda x, dt=torch.float32: torch.as_tensor(x, dtype=dt, device=dev)  # noqa: E731
                tl, ol = model.actor(
                    t(tokens), t(glob), t(env.s.issue_mask[sel]), t(env.s.opt_mask[sel]), t(can, torch.bool)
                )
                kind[sel] = torch.distributions.Categorical(logits=tl).sample().cpu().numpy()
                sampled = torch.distributions.Categorical(logits=ol).sample().cpu().numpy()
            offers[sel] = guard_offers(
                kind[sel], sampled, glob, mover_points(sel), env.s.opt_mask[sel], guard
            )
        pool_games = [k for k in theirs if opp_choice[k][0] == "pool"]
        for snap in {id(opp_choice[k][1]): opp_choice[k][1] for k in pool_games}.values():
            sel = np.array([k for k in pool_games if opp_choice[k][1] is snap], dtype=int)
            tokens, glob, can = env.observe(sel)  # past snapshots run in numpy, as exported
            can = accept_allowed(can, glob, guard)
            tl, ol = forward(snap, tokens, glob, env.s.issue_mask[sel], env.s.opt_mask[sel], can)
            kind[sel], sampled = sample(tl, ol, rng)
            offers[sel] = guard_offers(
                kind[sel], sampled, glob, mover_points(sel), env.s.opt_mask[sel], guard
            )
        fixed = [k for k in theirs if opp_choice[k][0] == "policy"]
        for file in {id(opp_choice[k][1]): opp_choice[k][1] for k in fixed}.values():
            sel = np.array([k for k in fixed if opp_choice[k][1] is file], dtype=int)
            tokens, glob, can = env.observe(sel)  # an exported policy, played with its own decoding and guard
            own_guard = policy_guard(file.meta)
            can = accept_allowed(can, glob, own_guard)
            tl, ol = forward(file.params, tokens, glob, env.s.issue_mask[sel], env.s.opt_mask[sel], can)
            greedy = file.meta.get("decoding", "sample") == "greedy"
            kind[sel], sampled = sample(tl, ol, rng, greedy=greedy)
            offers[sel] = guard_offers(
                kind[sel], sampled, glob, mover_points(sel), env.s.opt_mask[sel], own_guard
            )
        if cfg.engine == "array":
            env.scripted_moves(theirs, kind, offers)
        for k in theirs:
            if k in scripted:
                reply = scripted[k].respond(env.observation(int(k)))
                kind[k] = {"propose": PROPOSE, "accept": ACCEPT, "walk_away": WALK}[reply.action.kind.value]
                if kind[k] == PROPOSE:
                    offers[k, : len(reply.action.offer)] = reply.action.offer
        env.step(live, kind[live], offers[live])
    final = learner_reward(env, learner, cfg)
    return {"env": env, "learner": learner, "steps": steps, "reward": final, "opponents": opp_choice}


def advantages(batch: dict[str, Any], cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Flatten learner steps game by game; GAE with the terminal reward on each game's last step
    and, when enabled, potential-based shaping gamma * phi(s') - phi(s) (phi = 0 at the end).

    Rows are ordered game by game (games in order of their first step), step by step, and the
    recursion runs over all games at once, one step position at a time, with each game's float
    operations in the same order as a per-game loop."""
    env, steps = batch["env"], batch["steps"]
    if not steps:
        raise ValueError("no learner steps in the batch")
    game = np.concatenate([st["idx"] for st in steps]).astype(int)
    step_no = np.concatenate([np.full(len(st["idx"]), si) for si, st in enumerate(steps)])
    pos = np.arange(len(game))
    first_row = np.full(env.n, len(game))
    np.minimum.at(first_row, game, pos)
    order = np.lexsort((step_no, first_row[game]))  # by the game's first row, then by step
    # values stay float32, as the network gives them: a per-game loop computes gamma * V in float32
    game, values = game[order], np.concatenate([st["value"] for st in steps])[order]
    start = np.flatnonzero(np.r_[True, game[1:] != game[:-1]])
    length = np.diff(np.r_[start, len(game)])
    j = pos - np.repeat(start, length)  # step position within its game
    n_games, width = len(start), int(length.max())
    grid = np.full((n_games, width), -1)
    grid[np.repeat(np.arange(n_games), length), j] = pos
    live = grid >= 0
    v = np.where(live, values[np.maximum(grid, 0)], np.float32(0.0))
    if cfg.shaping:
        potential = np.concatenate([st["potential"] for st in steps])[order].astype(float)
        phi = np.where(live, potential[np.maximum(grid, 0)], 0.0)
    else:
        phi = np.zeros_like(v)
    # past a game's last step v, phi and the running advantage are 0, which ends each game's recursion
    last_step = (np.arange(width)[None, :] == (length - 1)[:, None]) & live
    rewards = np.where(last_step, np.asarray(batch["reward"], dtype=float)[game[start]][:, None], 0.0)
    phi_next = np.concatenate([phi[:, 1:], np.zeros((n_games, 1))], axis=1)
    rewards = rewards + cfg.gamma * phi_next - phi
    v_next = np.concatenate([v[:, 1:], np.zeros((n_games, 1), dtype=v.dtype)], axis=1)
    adv = np.zeros(v.shape)
    acc = np.zeros(n_games)
    for t in reversed(range(width)):
        delta = rewards[:, t] + cfg.gamma * v_next[:, t] - v[:, t]
        acc = np.where(live[:, t], delta + cfg.gamma * cfg.gae_lambda * acc, 0.0)
        adv[:, t] = acc
    adv_rows = adv[live]  # row-major over (game, step): the rows' order
    out = {
        key: np.concatenate([st[key] for st in steps])[order]
        for key in ("tokens", "glob", "can", "kind", "options", "logp", "value")
    }
    out["adv"] = adv_rows
    out["ret"] = adv_rows + values
    out["game"] = game
    learner = batch["learner"][game]
    out["issue_mask"] = env.s.issue_mask[game]
    out["opt_mask"] = env.s.opt_mask[game]
    out["other_points"] = env.s.points[game, 1 - learner]
    out["other_batna"] = env.s.batna[game, 1 - learner]
    return out


def ppo_update(
    model: ActorCritic,
    opt: torch.optim.Optimizer,
    data: dict[str, np.ndarray],
    cfg: TrainConfig,
    rng: np.random.Generator,
) -> dict[str, float]:
    dev = cfg.device
    t = {k: torch.as_tensor(v, device=dev) for k, v in data.items()}
    for key in (
        "tokens",
        "glob",
        "issue_mask",
        "opt_mask",
        "other_points",
        "other_batna",
        "logp",
        "adv",
        "ret",
    ):
        t[key] = t[key].float()
    t["can"] = t["can"].bool()
    t["kind"], t["options"] = t["kind"].long(), t["options"].long()
    adv = (t["adv"] - t["adv"].mean()) / (t["adv"].std() + 1e-8)
    t["adv"] = adv
    n = len(adv)
    skipped = 0
    # what a minibatch reads: the actor's and the critic's inputs, the action, its old log-probability,
    # the normalised advantage and the return
    used = [
        "tokens",
        "glob",
        "issue_mask",
        "opt_mask",
        "can",
        "kind",
        "options",
        "other_points",
        "other_batna",
        "logp",
        "adv",
        "ret",
    ]
    stats = {}
    for _ in range(cfg.ppo_epochs):
        perm = torch.as_tensor(rng.permutation(n), device=dev)
        # each row gathered once per epoch; a minibatch is then a contiguous slice (a view), with the
        # same rows, values and layout as gathering it on its own
        epoch = {key: t[key][perm] for key in used}
        for start in range(0, n, cfg.minibatch):
            b = {key: value[start : start + cfg.minibatch] for key, value in epoch.items()}
            tl, ol = model.actor(b["tokens"], b["glob"], b["issue_mask"], b["opt_mask"], b["can"])
            lp, ent = model.log_prob_entropy(tl, ol, b["kind"], b["options"], b["issue_mask"])
            ratio = torch.exp(lp - b["logp"])
            pg = -torch.min(
                ratio * b["adv"], torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * b["adv"]
            ).mean()
            v = model.value(b["tokens"], b["glob"], b["issue_mask"], b["other_points"], b["other_batna"])
            vloss = ((v - b["ret"]) ** 2).mean()
            loss = pg + cfg.value_coef * vloss - cfg.entropy * ent.mean()
            opt.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            if not torch.isfinite(norm):
                # a non-finite loss or gradient (an overflowing ratio, say) would make every weight NaN
                # and end the run at the next sample: this minibatch is left out and counted instead
                opt.zero_grad()
                skipped += 1
                continue
            opt.step()
            stats = {"policy_loss": pg.item(), "value_loss": vloss.item(), "entropy": ent.mean().item()}
    stats["skipped_minibatches"] = skipped
    return stats


# --- evaluation through arena_bench ------------------------------------------------------------


def evaluate_policy(
    path: Path, cfg: TrainConfig, split: str | None = None, limit: int | None = -1, out: Path | None = None
) -> dict[str, Any]:
    from arena_bench.evaluation import RunConfig, run

    config = RunConfig(
        kind="evaluation",
        agents=(f"policy/{path}",),
        split=split or cfg.eval_split,
        limit=cfg.eval_limit if limit == -1 else limit,
        panel=cfg.eval_panel,
        bootstrap_replicates=1000,
    )
    played = run(config, out or Path(cfg.out) / "eval", resume=True, progress=False)
    statistics = played.results.statistics.to_dict()  # plain JSON: it goes into summary.json
    return {
        "run_dir": str(played.path),
        "stats": statistics["agents"][f"policy/{path}"],
        "statistics": statistics,
    }


def opponent_model_quality(batch: dict[str, Any]) -> float:
    """Correlation of the frequency model's weight estimates with the other side's true weights."""
    from arena_bench.agents.policy import opponent_estimate

    env = batch["env"]
    r = batch["learner"]
    k = np.arange(env.n)
    _, est_w = opponent_estimate(env.counts[k, r], env.unchanged[k, r], env.s.opt_mask, env.s.issue_mask)
    true_w = env.s.weights[k, 1 - r]
    cors = []
    for j in range(env.n):
        m = env.s.issue_mask[j] > 0
        if m.sum() >= 3 and est_w[j, m].std() > 0 and true_w[j, m].std() > 0:
            cors.append(np.corrcoef(est_w[j, m], true_w[j, m])[0, 1])
    return float(np.mean(cors)) if cors else float("nan")


# --- the loop -----------------------------------------------------------------------------------


def train(cfg: TrainConfig, log=print) -> dict[str, Any]:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    # a run replaces what an earlier run left in its folder; its evaluations too, which were of other
    # weights under the same file names (arena_bench would refuse to resume them)
    shutil.rmtree(out / "eval", ignore_errors=True)
    write_atomic(out / "config.json", json.dumps(asdict(cfg), indent=2, default=str))
    started = time.perf_counter()
    scenarios = scenario_pool(cfg)
    model = ActorCritic(cfg.hidden).to(cfg.device)
    from arena_bench.provenance import environment, git_hash

    env_info = environment()
    env_info["packages"]["torch"] = torch.__version__
    meta = {
        "config": asdict(cfg),
        "arena_bench_policy_format": 1,
        "environment": env_info,
        "git_commit": git_hash(),
    }
    if cfg.batna_guard:
        meta["guard"] = "batna"
    if cfg.warmup:
        demo = demonstrations(cfg, scenarios, rng)
        bc_loss = behaviour_cloning(model, to_tensors(demo, cfg.device), cfg, rng)
        log(
            f"behaviour cloning: {len(demo)} turns from {cfg.bc_games} games, loss {bc_loss:.3f} "
            f"({time.perf_counter() - started:.0f} s)"
        )
    warm = {k: v.copy() for k, v in model.actor_params().items()}
    pool: list[dict[str, np.ndarray]] = [warm]  # the warmup policy stays in the pool for good
    pool_score = [0.0]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    curve_path = out / "learning_curve.csv"
    evals: list[dict[str, Any]] = []
    games = skipped = 0
    with open(curve_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "iteration",
                "games",
                "seconds",
                "reward",
                "deal_rate",
                "own_value",
                "welfare_proxy",
                "opponent_model_corr",
                "eval_score",
                "eval_lo",
                "eval_hi",
                "eval_value",
                "eval_welfare",
                "eval_deal",
                "paired_diff",
                "paired_lo",
                "paired_hi",
            ]
        )
        for it in range(1, cfg.iterations + 1):
            if cfg.lr_anneal:
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * (1.0 - (it - 1) / cfg.iterations)
            opponents = mix_opponents(cfg, pool, pool_score, rng)
            batch = rollout(model, scenarios, cfg, rng, opponents)
            games += cfg.games_per_iteration
            data = advantages(batch, cfg)
            skipped += ppo_update(model, opt, data, cfg, rng)["skipped_minibatches"]
            env = batch["env"]
            shares = env.shares()
            own = shares[np.arange(env.n), batch["learner"]]
            for k, o in enumerate(
                batch["opponents"]
            ):  # the learner's results per pool member, to weight the draw
                if o[0] == "pool":
                    idx = next(i for i, p in enumerate(pool) if p is o[1])
                    pool_score[idx] = 0.9 * pool_score[idx] + 0.1 * own[k]
            if cfg.population and it % cfg.snapshot_every == 0:
                pool.append({k: v.copy() for k, v in model.actor_params().items()})
                pool_score.append(float(np.mean(own)))
                if len(pool) > cfg.pool_size:  # never drop the warmup policy (index 0)
                    del pool[1], pool_score[1]
            row = [
                it,
                games,
                round(time.perf_counter() - started, 1),
                float(batch["reward"].mean()),
                float(env.deal.mean()),
                float(own.mean()),
                float(np.sqrt(np.clip(shares, 0, None).prod(1)).mean()),
                opponent_model_quality(batch),
            ]
            if cfg.eval_every and (it % cfg.eval_every == 0 or it == cfg.iterations):
                path = export(model, out / f"policy-it{it:04d}.npz", {**meta, "iteration": it})
                ev = evaluate_policy(path, cfg)
                s = ev["stats"]
                paired = paired_with_previous(evals[-1] if evals else None, ev)
                ev["iteration"] = it
                if cfg.keep_best:  # a copy of the weights only when a later choice may need them
                    ev["params"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
                evals.append(ev)
                row += [
                    s["arena_score"]["mean"],
                    s["arena_score"]["lo"],
                    s["arena_score"]["hi"],
                    s["value"]["mean"],
                    s["welfare"]["mean"],
                    s["deal"]["mean"],
                    *paired,
                ]
                log(
                    f"iter {it}: games {games}, reward {row[3]:.3f}, deal {row[4]:.2f}; eval Arena Score "
                    f"{_interval(s['arena_score'])}"
                    + (
                        f", vs previous {paired[0]:+.3f} [{paired[1]:+.3f}, {paired[2]:+.3f}]"
                        if paired[0] is not None and paired[1] is not None
                        else ""
                    )
                )
            else:
                row += [None] * 9
            writer.writerow(row)
            f.flush()
    elapsed = time.perf_counter() - started
    if skipped:
        log(f"PPO left out {skipped} minibatches with a non-finite gradient (see skipped_minibatches)")
    chosen = cfg.iterations
    if cfg.keep_best and evals:
        best = max(evals, key=lambda e: e["stats"]["arena_score"]["mean"])
        model.load_state_dict(best["params"])
        evals.append(evals.pop(evals.index(best)))  # the decoding choice below compares against it
        chosen = best["iteration"]
        log(
            f"kept the checkpoint of iteration {chosen} (best Arena Score on {cfg.eval_split}: "
            f"{best['stats']['arena_score']['mean']:.3f})"
        )
    decoding, selection = "sample", {}
    if cfg.select_decoding and evals:
        greedy = export(model, out / "policy-greedy.npz", {**meta, "iteration": chosen, "decoding": "greedy"})
        ev = evaluate_policy(greedy, cfg)
        selection = {
            "sample": evals[-1]["stats"]["arena_score"]["mean"],
            "greedy": ev["stats"]["arena_score"]["mean"],
        }
        decoding = max(selection, key=selection.get)
        log(
            f"decoding on {cfg.eval_split}: sample {selection['sample']:.3f}, greedy {selection['greedy']:.3f} -> {decoding}"
        )
    final = export(
        model,
        out / "policy.npz",
        {
            **meta,
            "iteration": chosen,
            "train_seconds": elapsed,
            "games": games,
            "decoding": decoding,
            "decoding_selection": selection,
        },
    )
    torch.save(
        {"model": model.state_dict(), "config": asdict(cfg), "iteration": chosen}, out / "checkpoint.pt"
    )
    summary = {
        "policy": str(final),
        "seconds": time.perf_counter() - started,
        "train_seconds": elapsed,
        "games": games,
        "games_per_minute": games / (elapsed / 60),
        "skipped_minibatches": skipped,  # non-finite gradients left out by the PPO update (normally 0)
        "evaluations": len(evals),
        "iteration": chosen,
        "decoding": decoding,
        "decoding_selection": selection,
        "environment": env_info,
        "git_commit": meta["git_commit"],
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    plot_curve(curve_path, out / "learning_curve.png")
    return summary


def _interval(e: dict) -> str:
    if e.get("lo") is None:
        return f"{e['mean']:.3f} (no interval: too few scenarios)"
    return f"{e['mean']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]"


def target_opponent(target: str) -> tuple[str, Any]:
    """The fixed opponent of a best response: ("scripted", name) or ("policy", the exported file)."""
    provider, _, name = target.partition("/")
    if provider == "scripted":
        if name not in SCRIPTED:
            raise ValueError(f"target {target!r}: no such scripted strategy; known: {', '.join(SCRIPTED)}")
        return ("scripted", name)
    if provider == "policy":
        from arena_bench.agents.policy import load_policy

        return ("policy", load_policy(name))
    raise ValueError(f"target {target!r}: a best response is trained against scripted/NAME or policy/NAME")


def mix_opponents(cfg: TrainConfig, pool, pool_score, rng) -> list[tuple[str, Any]]:
    """Opponent draw: latest-vs-latest, the pool (weighted toward members the learner does worst
    against), and the scripted panel. Without a population: latest only. With a target: the target."""
    if cfg.target:
        return [target_opponent(cfg.target)]
    if not cfg.population:
        return [("latest", None)]
    latest, from_pool, scripted = cfg.opponent_mix
    out: list[tuple[str, Any]] = []
    slots = 20
    out += [("latest", None)] * int(round(latest * slots))
    weights = np.exp(-4.0 * np.array(pool_score))
    weights /= weights.sum()
    for i in rng.choice(len(pool), size=int(round(from_pool * slots)), p=weights):
        out.append(("pool", pool[int(i)]))
    names = training_opponents(cfg)
    for i in rng.integers(len(names), size=int(round(scripted * slots))):
        out.append(("scripted", names[int(i)]))
    return out


def paired_with_previous(prev: dict | None, cur: dict) -> list:
    """Paired difference of Arena Score on the shared cells of two evaluations (cluster bootstrap)."""
    if prev is None:
        return [None, None, None]
    from arena_bench.scoring.aggregate import evaluate, rows_from_records
    from arena_bench.scoring.results import load_run

    rows = []
    for label, ev in (("prev", prev), ("cur", cur)):
        r = rows_from_records(load_run(Path(ev["run_dir"])).games)
        agent = next(a for a in r["agent"].unique() if a.startswith("policy/"))
        r = r[r["agent"] == agent].copy()
        r["agent"] = label
        r["opponent_key"] = r["opponent_key"].where(r["opponent_key"] != agent, "<self>")
        rows.append(r)
    import pandas as pd

    res = evaluate(pd.concat(rows), ["cur", "prev"], b=1000)
    (pair,) = res.pairs
    return list(pair.oriented("cur"))  # the interval ends are None with too few scenarios


def plot_curve(csv_path: Path, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.read_csv(csv_path)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    ax[0].plot(df["games"], df["reward"].rolling(5, min_periods=1).mean(), label="training reward")
    ax[0].plot(df["games"], df["deal_rate"].rolling(5, min_periods=1).mean(), label="deal rate")
    ax[0].set_xlabel("games")
    ax[0].legend()
    ev = df.dropna(subset=["eval_score"])
    if len(ev):
        ax[1].plot(ev["games"], ev["eval_score"], "o-", label="Arena Score vs panel (dev)")
        ax[1].fill_between(ev["games"], ev["eval_lo"], ev["eval_hi"], alpha=0.25)
        ax[1].plot(ev["games"], ev["eval_value"], "s--", label="Value")
        ax[1].plot(ev["games"], ev["eval_welfare"], "^--", label="Welfare")
        ax[1].legend()
    ax[1].set_xlabel("games")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
