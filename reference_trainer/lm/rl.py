"""RL through text: a language model plays whole games of arena-bench against a population and is
trained on its own turns, with a compact loop written here rather than TRL's GRPO trainer.

Why a compact loop: TRL's ``GRPOTrainer`` scores one completion per prompt, and its multi-turn
"environment" hooks generate with vLLM or its own ``generate`` loop outside the game. Here a sample
is a whole game: the model's turns are asked by ``arena_bench.playing.game.play_game`` itself, through an
``LLMAgent`` exactly as in an evaluation (same prompts, same parser, same repairs and forfeits), and
the opponent answers in between. So this loop owns the games and hands TRL nothing to do but the
gradient step, which is a dozen lines of torch below.

Per iteration:

- **Groups.** ``groups`` cells (a training scenario, the learner's seat, who moves first, one
  opponent), each played ``group_size`` times with different sampling seeds. Opponents come from the
  population: scripted panel members, the array policy, and frozen snapshots of the LM itself
  (``self``: the warm-start model first, then a snapshot every ``snapshot_every`` iterations, the
  latest ``max_snapshots`` kept), as in the array trainer's population.
- **Reward.** The array trainer's terminal reward (``nash`` by default: the geometric mean of both
  sides' normalised surpluses, 0 without a deal, a below-BATNA deal costs its shortfall plus
  ``below_batna_penalty``), and potential-based shaping on each of the learner's turns:
  ``gamma * phi(next) - phi(now)``, phi the Nash product of the offer on the table when the learner
  is to move (0 at the end). The return of each turn is its reward-to-go.
- **Group-relative advantages (GRPO-style).** A turn's return minus the mean return, at the same
  turn index, of the games of its group, divided by the spread of the group's total returns. There is
  no value network.
- **Loss.** Token-mean policy gradient on the completion tokens of every call the learner made
  (repairs included: a repair belongs to the turn it tried to save), plus ``kl_coef`` times the k3
  estimate of KL to the frozen warm-start model. One gradient step per iteration, on-policy.
- **Invalid replies** are counted (calls whose reply did not parse or was illegal, and forfeited
  turns) and keep the protocol's consequence: the game loop asks for a repair and forfeits the turn
  after ``MAX_REPAIRS``; nothing is repaired here.

Generation is batched across all games in flight (one ``generate`` call for every pending turn).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arena_bench.agents.base import Observation, Reply
from arena_bench.core.analysis import analyse, grids
from arena_bench.core.scenario import Scenario
from arena_bench.models.base import Batcher, Completion, GenerationSettings, LLMAgent
from arena_bench.playing.game import play_game
from arena_bench.playing.players import make_player

from ..reward import REWARDS, nash_potential
from ..reward import terminal_reward as reward_of


@dataclass
class RLConfig:
    iterations: int = 0  # 0: no RL stage
    groups: int = 4  # cells per iteration
    group_size: int = 4  # games per cell, differing only in sampling seeds
    opponents: tuple[str, ...] = (
        "scripted/boulware",
        "scripted/linear",
        "scripted/conceder",
        "scripted/hardliner",
        "scripted/tit-for-tat",
        "policy/ppo-nash-v1",
        "self",
    )
    n_scenarios: int = 64  # the training scenario pool (generated, never the task set)
    scenario_seed: int = 727272
    reward: str = "nash"
    below_batna_penalty: float = 0.5
    shaping: bool = True
    gamma: float = 1.0
    kl_coef: float = 0.05
    lr: float = 1e-5
    temperature: float = 1.0
    max_new_tokens: int = 160
    max_turns: int = 20
    max_batch: int = 32
    snapshot_every: int = 2
    max_snapshots: int = 2
    micro_batch: int = 4
    # score a micro-batch's calls in one padded forward pass (a GPU's gain; one at a time on a CPU)
    update_batch: bool = False
    checkpoint_every: int = 1  # iterations between checkpoints (0: none); ``--resume`` continues from one
    # rollouts: "transformers" (generate in the learner's process) or "vllm" (servers play a LoRA
    # adapter of the learner, loaded after every update: reference_trainer/lm/rollout_server.py)
    rollout: str = "transformers"
    api_base: Any = ""  # vllm: the servers (one URL or a list); empty: start one local server
    lora_r: int = 16  # vllm: the learner's LoRA rank (the servers need --max-lora-rank at least this)
    max_model_len: int = 8192  # vllm, local server: its context (long games with repairs need 8k)
    served_model: str = "warm-start"  # vllm: the warm start's name on the servers (--served-model-name)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RLConfig:
        from .sft import known_settings

        cfg = cls(**known_settings(cls, d, "LM config, rl"))
        if cfg.reward not in REWARDS:
            raise ValueError(f"LM config, rl.reward: {cfg.reward!r}; use one of {', '.join(REWARDS)}")
        if cfg.rollout not in ("transformers", "vllm"):
            raise ValueError(f"LM config, rl.rollout: {cfg.rollout!r}; use transformers or vllm")
        return cfg


# --- generation ----------------------------------------------------------------------------------


class Sampler:
    """Batched sampling from a causal LM; each reply comes back with its prompt and completion ids."""

    def __init__(self, model, tokenizer, cfg: RLConfig, device: str, bf16: bool):
        self.model, self.tokenizer, self.cfg, self.device, self.bf16 = model, tokenizer, cfg, device, bf16
        self.batcher = Batcher(self._generate, max_batch=cfg.max_batch)
        self.tokens = 0
        self.seconds = 0.0

    async def submit(self, messages: list[dict[str, str]], seed: int):
        return await self.batcher.submit((messages, seed))

    def _generate(self, items):
        import torch

        started = time.perf_counter()
        tok = self.tokenizer
        tok.padding_side = "left"
        prompts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m, _ in items]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        # each reply drawn with its own call's seed (Gumbel-max: the argmax of logits/T plus Gumbel
        # noise is a draw from softmax(logits/T)), so a reply does not depend on which other calls
        # share its batch: the same games come out of one process or several, and after a resume
        rows = RowSampling([seed for _, seed in items], self.cfg.temperature)
        with torch.inference_mode(), torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model.generate(
                **enc,
                max_new_tokens=self.cfg.max_new_tokens,
                do_sample=False,
                logits_processor=[rows],
                pad_token_id=tok.pad_token_id,
            )
        new = out[:, enc["input_ids"].shape[1] :]
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        results = []
        for row, ids, mask in zip(new.tolist(), enc["input_ids"], enc["attention_mask"]):
            n = next((k for k, t in enumerate(row) if t == tok.eos_token_id), None)
            done = row[: n + 1] if n is not None else row  # the end-of-turn token is part of the action
            self.tokens += len(done)
            text = tok.decode(done, skip_special_tokens=True)
            prompt_ids = ids[mask.bool()].tolist()
            results.append((Completion(text=text, tokens_in=len(prompt_ids), tokens_out=len(done),
                                       latency_s=elapsed, batch_size=len(items)), prompt_ids, done))  # fmt: skip
        return results


class RowSampling:
    """A logits processor that turns greedy decoding into sampling at TEMPERATURE with one seeded
    generator per row (Gumbel-max), so that each row's draw depends on its own seed and logits only."""

    def __init__(self, seeds: list[int], temperature: float):
        import torch

        self.generators = [torch.Generator().manual_seed(int(seed)) for seed in seeds]
        self.temperature = temperature

    def __call__(self, input_ids, scores):
        import torch

        vocab = scores.shape[1]
        u = torch.stack([torch.rand(vocab, generator=g, dtype=torch.float64) for g in self.generators])
        gumbel = -torch.log(-torch.log(u.clamp(1e-300, 1.0 - 1e-16)))
        return (scores.double() / self.temperature + gumbel.to(scores.device)).to(scores.dtype)


@dataclass
class Call:
    turn: int
    prompt_ids: list[int]
    completion_ids: list[int]
    valid: bool = True


class TapePlayer:
    """What an ``LLMAgent`` needs of its player, for one game side: it samples through the shared
    batcher and keeps every call on a tape."""

    def __init__(self, sampler: Sampler, seed: int):
        self.sampler = sampler
        self.settings = GenerationSettings(temperature=sampler.cfg.temperature,
                                           max_tokens=sampler.cfg.max_new_tokens, seed=seed, structured="off")  # fmt: skip
        self.tape: list[Call] = []
        self.turn = -1

    async def complete(self, messages, schema, seed) -> Completion:
        completion, prompt_ids, completion_ids = await self.sampler.submit(messages, seed)
        self.tape.append(Call(self.turn, prompt_ids, completion_ids))
        return completion


class LearnerAgent(LLMAgent):
    """An LLM game side that also notes, at each of its turns, the potential of the table."""

    def __init__(self, player: TapePlayer, role_index: int, seed: int, scenario: Scenario, best: np.ndarray):
        super().__init__(player, role_index, seed)  # type: ignore[arg-type]
        self.scenario, self.best = scenario, best
        self.potentials: dict[int, float] = {}

    async def act(self, obs: Observation) -> Reply:
        self.player.turn = obs.turn
        if obs.turn not in self.potentials:
            self.potentials[obs.turn] = table_potential(self.scenario, self.best, obs.standing_offer)
        reply = await super().act(obs)
        if reply.error is not None and self.player.tape and self.player.tape[-1].turn == obs.turn:
            self.player.tape[-1].valid = False
        return reply


def table_potential(scenario: Scenario, best: np.ndarray, offer) -> float:
    """phi of the offer on the table (``reward.nash_potential``, the array trainer's); 0 when there
    is none."""
    if offer is None:
        return 0.0
    u = np.array(scenario.utilities(offer))
    b = np.array([r.batna for r in scenario.roles])
    return float(nash_potential(u, b, best))


def game_reward(metrics, role: int, cfg: RLConfig) -> float:
    """The array trainer's reward (``reward.terminal_reward``) for one game, from arena_bench's metrics."""
    own, other = metrics.sides[role].value, metrics.sides[1 - role].value
    r = reward_of(cfg.reward, [own], [other], [metrics.deal], [metrics.welfare], cfg.below_batna_penalty)
    return float(r[0])


# --- advantages ----------------------------------------------------------------------------------


def turn_returns(turns: list[int], potentials: dict[int, float], reward: float, cfg: RLConfig) -> np.ndarray:
    """Reward-to-go of each of the learner's turns: shaping gamma*phi(next) - phi(now) on each turn
    (phi = 0 after the last), the terminal reward on the last."""
    phi = np.array([potentials.get(t, 0.0) for t in turns]) if cfg.shaping else np.zeros(len(turns))
    r = cfg.gamma * np.append(phi[1:], 0.0) - phi
    if len(r):
        r[-1] += reward
    out = np.zeros(len(r))
    acc = 0.0
    for k in reversed(range(len(r))):
        acc = r[k] + cfg.gamma * acc
        out[k] = acc
    return out


def group_advantages(returns: list[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """GRPO-style: each turn's return minus the group's mean return at that turn index (a game that
    ended earlier contributes its last turn), over the spread of the group's first-turn returns."""
    if not returns:
        return []
    depth = max(len(r) for r in returns)
    padded = np.array([[r[min(k, len(r) - 1)] if len(r) else 0.0 for k in range(depth)] for r in returns])
    base = padded.mean(axis=0)
    spread = float(np.std([r[0] if len(r) else 0.0 for r in returns])) + eps
    return [(r - base[: len(r)]) / spread for r in returns]


# --- the loop ------------------------------------------------------------------------------------


@dataclass
class Population:
    snapshots: list[tuple[str, Any]] = field(default_factory=list)  # (name, model), oldest first


def seed_of(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(parts).encode()).digest()[:4], "big") & 0x7FFFFFFF


def completion_logps(model, calls: list[Call], device: str, bf16: bool, batched: bool = False):
    """(per-call sums of completion log-probabilities, per-call token log-probabilities), with grad
    when the model has it; logits only over the completion positions.

    ``batched``: the calls in one forward pass, left-padded so every completion ends at the last
    position (padding masked out, positions counted from each call's first real token). The same
    values up to rounding (tested); a GPU gains from it, this CPU does not (benchmarks/lm_update.py).
    """
    import torch

    if batched and len(calls) > 1:
        return _batched_logps(model, calls, device, bf16)
    sums, per_token = [], []
    for c in calls:
        ids = torch.tensor([c.prompt_ids + c.completion_ids], device=device)
        n = len(c.completion_ids)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=ids, logits_to_keep=n + 1).logits[0, :-1].float()
        lp = torch.log_softmax(logits, dim=-1).gather(1, ids[0, -n:, None])[:, 0]
        per_token.append(lp)
        sums.append(lp.sum())
    return sums, per_token


def _batched_logps(model, calls: list[Call], device: str, bf16: bool):
    import torch

    seqs = [c.prompt_ids + c.completion_ids for c in calls]
    width, n_max = max(map(len, seqs)), max(len(c.completion_ids) for c in calls)
    ids = torch.zeros((len(calls), width), dtype=torch.long, device=device)  # 0: any id, masked
    mask = torch.zeros_like(ids)
    for b, seq in enumerate(seqs):
        ids[b, width - len(seq) :] = torch.tensor(seq, device=device)
        mask[b, width - len(seq) :] = 1
    # positions from each call's first real token, as in its own pass (a rotary model would not
    # mind a shift; a model with absolute positions would)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        logits = model(
            input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=n_max + 1
        ).logits
    logits = logits[:, :-1].float()  # row b's last n_b positions predict its completion
    sums, per_token = [], []
    for b, c in enumerate(calls):
        n = len(c.completion_ids)
        lp = torch.log_softmax(logits[b, n_max - n :], dim=-1).gather(1, ids[b, width - n :, None])[:, 0]
        per_token.append(lp)
        sums.append(lp.sum())
    return sums, per_token


def play_iteration(it: int, cfg: RLConfig, sampler: Sampler, scenarios, analyses, bests, rng,
                   scripted: dict[str, Any], population: Population, snap_samplers: dict[str, Sampler],
                   mine: list[int] | None = None):  # fmt: skip
    """Play one iteration's games; return, per group, the list of (learner tape, turns, returns, info).
    Every process draws every group's cell (one shared generator); it plays the groups of ``mine``
    (default: all) and leaves the others' lists empty."""
    cells = []
    for _ in range(cfg.groups):
        k = int(rng.integers(len(scenarios)))
        opponent = cfg.opponents[int(rng.integers(len(cfg.opponents)))]
        if opponent == "self":  # one of the kept snapshots, uniformly
            opponent = population.snapshots[int(rng.integers(len(population.snapshots)))][0]
        cells.append((k, int(rng.integers(2)), int(rng.integers(2)), opponent))

    async def one(g: int, rep: int):
        k, role, first, opponent = cells[g]
        s = scenarios[k]
        seed = seed_of(it, g, rep, cfg.scenario_seed)
        tape = TapePlayer(sampler, seed)
        agents: list[Any] = [None, None]
        agents[role] = LearnerAgent(tape, role, seed, s, bests[k])
        if opponent in snap_samplers:
            agents[1 - role] = LLMAgent(TapePlayer(snap_samplers[opponent], seed + 1), 1 - role, seed + 1)  # type: ignore[arg-type]
        else:
            agents[1 - role] = scripted[opponent].new_agent(1 - role, seed + 1)
        state, logs, metrics = await play_game(s, analyses[k], tuple(agents), first, max_turns=cfg.max_turns)
        reward = game_reward(metrics, role, cfg)
        turns = sorted({c.turn for c in tape.tape})
        rets = turn_returns(turns, agents[role].potentials, reward, cfg)
        side = metrics.sides[role]
        info = {"opponent": opponent, "reward": reward, "deal": metrics.deal, "value": side.value,
                "below_batna": bool(metrics.deal and not side.rational), "calls": len(tape.tape),
                "invalid_calls": sum(not c.valid for c in tape.tape), "forfeited_turns": side.forfeited_turns,
                "learner_turns": len(turns), "welfare": metrics.welfare}  # fmt: skip
        return g, tape.tape, turns, rets, info

    mine = list(range(cfg.groups)) if mine is None else mine

    async def play_all():
        return await asyncio.gather(*(one(g, r) for g in mine for r in range(cfg.group_size)))

    played = asyncio.run(play_all())
    groups: list[list[tuple]] = [[] for _ in range(cfg.groups)]
    for g, tape, turns, rets, info in played:
        groups[g].append((tape, turns, rets, info))
    return cells, groups


class Dist:
    """The processes of a data-parallel run (``accelerate launch``), or this one process alone."""

    def __init__(self, accelerator=None):
        self.accelerator = accelerator
        self.rank = accelerator.process_index if accelerator else 0
        self.world = accelerator.num_processes if accelerator else 1
        self.main = self.rank == 0

    def check(self, cfg: RLConfig) -> None:
        """Every process needs a group of its own each iteration: one with none would take the step
        without a forward pass through the data-parallel wrapper, which it cannot join."""
        if cfg.groups < self.world:
            raise ValueError(
                f"LM config, rl.groups: {cfg.groups} groups cannot be shared among {self.world} processes; "
                f"set rl.groups to at least {self.world} (a multiple of it keeps the processes equally busy)"
            )

    def groups(self, n: int) -> list[int]:
        """This process's share of N groups: a group's games stay together (its advantages are
        relative to each other), and groups are dealt round-robin."""
        return [g for g in range(n) if g % self.world == self.rank]

    def gather(self, items: list) -> list:
        if self.world == 1:
            return items
        from accelerate.utils import gather_object

        return list(gather_object(items))

    def total(self, x: float) -> float:
        if self.world == 1:
            return x
        import torch

        t = torch.tensor([float(x)], dtype=torch.float64, device=self.accelerator.device)
        return float(self.accelerator.reduce(t, reduction="sum")[0])

    def barrier(self) -> None:
        if self.world > 1:
            self.accelerator.wait_for_everyone()


def policy_step(model, ref_model, samples: list[tuple[Call, float]], cfg: RLConfig, opt, trainable, dist: Dist,
                device: str, bf16: bool) -> dict[str, float]:  # fmt: skip
    """One on-policy step on every process's SAMPLES together: token-mean policy gradient plus
    ``kl_coef`` times KL(policy || warm start), k3 estimate. The mean is over the tokens of all
    processes, so N processes with a share of the samples each take the same step as one process with
    all of them (the data-parallel wrapper averages gradients: each share is scaled by N)."""
    import torch

    n_tokens = dist.total(sum(len(c.completion_ids) for c, _ in samples)) or 1.0
    if not samples and dist.world == 1:
        return {"kl_per_token": 0.0, "grad_norm": 0.0, "tokens": 0}
    opt.zero_grad()
    kl_sum = 0.0
    chunks = [samples[i : i + cfg.micro_batch] for i in range(0, len(samples), cfg.micro_batch)]
    wrapped = model  # the data-parallel wrapper where there is one: its backward exchanges gradients
    for k, chunk in enumerate(chunks or [[]]):
        last = k == max(len(chunks), 1) - 1
        # gradients are exchanged once, on the last chunk: the others accumulate locally
        sync = (
            dist.accelerator.no_sync(wrapped) if dist.accelerator and not last else contextlib.nullcontext()
        )
        with sync:
            if chunk:
                calls = [c for c, _ in chunk]
                _, lps = completion_logps(wrapped, calls, device, bf16, cfg.update_batch)
                with torch.no_grad():
                    _, ref_lps = completion_logps(ref_model, calls, device, bf16, cfg.update_batch)
                loss = 0.0
                for (_, a), lp, ref in zip(chunk, lps, ref_lps):
                    d = ref - lp
                    kl = torch.exp(d) - d - 1.0
                    pg = -(a * lp).sum()
                    loss = loss + (pg + cfg.kl_coef * kl.sum()) * dist.world / n_tokens
                    kl_sum += float(kl.detach().sum())
            else:  # a process without samples still joins the gradient exchange, with zero
                loss = sum(p.sum() for p in trainable) * 0.0
            if dist.accelerator:
                dist.accelerator.backward(loss)
            else:
                loss.backward()
    if dist.accelerator:
        grad_norm = float(dist.accelerator.clip_grad_norm_(trainable, 1.0))
    else:
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, 1.0))
    opt.step()
    return {"kl_per_token": dist.total(kl_sum) / n_tokens, "grad_norm": grad_norm, "tokens": int(n_tokens)}


# --- checkpoints ---------------------------------------------------------------------------------

CHECKPOINT = "rl-checkpoint"


def trainable_state(model) -> dict[str, Any]:
    """The parameters RL changes (the rest is the warm start's, reloaded on resume)."""
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    out: Path, it: int, model, opt, population: Population, rng, totals: dict, names: list[str]
) -> None:
    """Everything a later sitting needs to continue as if never stopped: the trainable weights, the
    optimizer, the population's snapshots, the numpy generator and the running totals. Written to a
    new folder and renamed into place, so an interruption leaves the previous checkpoint whole."""
    import shutil

    import torch

    final, tmp = out / CHECKPOINT, out / f"{CHECKPOINT}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(
        {
            "iteration": it,
            "model": trainable_state(model),
            "optimizer": opt.state_dict(),
            # a snapshot served as an adapter is its name alone (its files stay under out/adapters)
            "snapshots": [
                (name, None if m is None else trainable_state(m)) for name, m in population.snapshots[1:]
            ],
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "totals": totals,
            "trainable": names,
        },
        tmp / "state.pt",
    )
    (tmp / "iteration.json").write_text(json.dumps({"iteration": it}) + "\n")
    old = out / f"{CHECKPOINT}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(
    out: Path, model, ref_model, opt, population: Population, rng, names: list[str]
) -> tuple[int, dict]:
    """Restore a checkpoint written by ``save_checkpoint`` into MODEL, OPT, POPULATION and RNG; return
    (its iteration, its totals). Refuses one whose trainable parameters differ from this run's."""
    import torch

    state = torch.load(out / CHECKPOINT / "state.pt", weights_only=False)
    if state["trainable"] != names:
        raise ValueError(
            f"{out / CHECKPOINT}: trained other parameters ({len(state['trainable'])} tensors, this run "
            f"{len(names)}); resume with the settings that wrote it, or delete the folder to start over"
        )
    model.load_state_dict(state["model"], strict=False)
    opt.load_state_dict(state["optimizer"])
    for name, weights in state["snapshots"]:
        if weights is None:
            population.snapshots.append((name, None))
            continue
        frozen = copy.deepcopy(ref_model).eval()
        frozen.load_state_dict(weights, strict=False)
        population.snapshots.append((name, frozen))
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return int(state["iteration"]), dict(state["totals"])


# --- the loop ------------------------------------------------------------------------------------


def rl(cfg: RLConfig, model, ref_model, tokenizer, out: Path, device: str = "cpu", bf16: bool = False,
       seed: int = 1, log=print, accelerator=None, resume: bool = False, rollouts=None) -> dict[str, Any]:  # fmt: skip
    """Train MODEL in place; REF_MODEL (frozen) is the KL anchor and the first ``self`` snapshot.
    Writes ``rl_curve.jsonl`` under OUT and returns the run's summary.

    ``accelerator``: an ``accelerate.Accelerator`` of a data-parallel launch; each process plays its
    share of the groups and the gradient step is taken on all of them together. ``resume``: continue
    from OUT's checkpoint, where there is one. ``rollouts``: a ``rollout_server.VLLMRollouts`` when the
    games are played on vLLM servers (MODEL is then a peft LoRA model whose adapter they load)."""
    import torch

    from .data import DataConfig, check_no_overlap, training_scenarios

    dist = Dist(accelerator)
    dist.check(cfg)
    scenarios = training_scenarios(
        DataConfig(n_scenarios=cfg.n_scenarios, seed=cfg.scenario_seed, id_prefix="lmrl")
    )
    check_no_overlap(scenarios, "negotiation-v1")
    analyses = [analyse(s) for s in scenarios]
    bests = [np.array([g.max() for g in grids(s)]) for s in scenarios]
    scripted = {o: make_player(o) for o in cfg.opponents if o != "self"}
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    ref_model.eval()
    for p in ref_model.parameters():
        p.requires_grad = False
    population = Population([("self@0", None if rollouts else ref_model)])
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=0.0)  # the KL term is the only pull
    curve_path = out / "rl_curve.jsonl"
    totals = {"games": 0, "calls": 0, "invalid_calls": 0, "forfeited_turns": 0, "seconds_play": 0.0,
              "seconds_update": 0.0}  # fmt: skip
    start = 0
    if resume and (out / CHECKPOINT / "state.pt").is_file():
        start, totals = load_checkpoint(out, model, ref_model, opt, population, rng, names)
        log(f"rl: resumed after iteration {start} from {out / CHECKPOINT}")
        if rollouts is not None and dist.main:  # the servers play what the checkpoint held
            for name, _ in population.snapshots[1:]:
                rollouts.load(rollouts.name_of(name))
            if start:
                rollouts.load(f"learner-{start}")
                rollouts.learner = f"learner-{start}"
    if dist.main:  # the curve keeps the rows of the iterations the checkpoint holds, and no others
        kept = []
        if start and curve_path.is_file():
            kept = [
                line for line in curve_path.read_text().splitlines() if json.loads(line)["iteration"] <= start
            ]
        curve_path.write_text("".join(line + "\n" for line in kept))
    learner = accelerator.prepare(model) if accelerator else model
    if accelerator:
        opt = accelerator.prepare(opt)
    if rollouts is not None and dist.world > 1:
        dist.barrier()  # the first process loaded the adapters the others will ask for
    generated = 0
    sampler = Sampler(model, tokenizer, cfg, device, bf16)
    for it in range(start + 1, cfg.iterations + 1):
        started = time.perf_counter()
        if rollouts is not None:
            rollouts.reset_clients()  # each iteration's games run in a new event loop
            sampler = rollouts.sampler(rollouts.learner)
            snap_samplers = {
                name: rollouts.sampler(rollouts.name_of(name)) for name, _ in population.snapshots
            }
        else:
            snap_samplers = {
                name: Sampler(m, tokenizer, cfg, device, bf16) for name, m in population.snapshots
            }
        model.eval()
        cells, groups = play_iteration(it, cfg, sampler, scenarios, analyses, bests, rng, scripted,
                                       population, snap_samplers, dist.groups(cfg.groups))  # fmt: skip
        played_s = time.perf_counter() - started
        samples: list[tuple[Call, float]] = []
        infos = []
        for group in groups:
            if not group:
                continue
            advs = group_advantages([rets for _, _, rets, _ in group])
            for (tape, turns, _, info), adv in zip(group, advs):
                infos.append(info)
                by_turn = dict(zip(turns, adv))
                samples += [(c, float(by_turn[c.turn])) for c in tape]
        started = time.perf_counter()
        model.train()
        step = policy_step(learner, ref_model, samples, cfg, opt, trainable, dist, device, bf16)
        update_s = time.perf_counter() - started
        infos = dist.gather(infos)
        generated += sampler.tokens if rollouts is not None else 0
        if rollouts is not None:  # the servers play the new weights from the next iteration
            if dist.main:
                rollouts.publish(model, it)
            rollouts.learner = f"learner-{it}"
        if cfg.snapshot_every and it % cfg.snapshot_every == 0:
            if rollouts is not None:  # a snapshot is the adapter just published, still on the servers
                population.snapshots.append((f"self@{it}", None))
            else:
                frozen = copy.deepcopy(model).eval()
                for p in frozen.parameters():
                    p.requires_grad = False
                population.snapshots.append((f"self@{it}", frozen))
            # the warm start stays (it is the KL anchor); the oldest later snapshot goes
            while len(population.snapshots) > cfg.max_snapshots + 1:
                population.snapshots.pop(1)
        if rollouts is not None and dist.main:
            rollouts.keep_only({rollouts.learner} | {rollouts.name_of(n) for n, _ in population.snapshots})
        row = {
            "iteration": it,
            "games": len(infos),
            "reward": float(np.mean([i["reward"] for i in infos])),
            "value": float(np.mean([i["value"] for i in infos])),
            "deal_rate": float(np.mean([i["deal"] for i in infos])),
            "below_batna_rate": float(np.mean([i["below_batna"] for i in infos])),
            "invalid_call_rate": sum(i["invalid_calls"] for i in infos)
            / max(1, sum(i["calls"] for i in infos)),
            "forfeited_turns": int(sum(i["forfeited_turns"] for i in infos)),
            **step,
            "opponents": sorted({i["opponent"] for i in infos}),
            "processes": dist.world,
            "seconds_play": round(played_s, 1),
            "seconds_update": round(update_s, 1),
        }
        totals["games"] += len(infos)
        totals["calls"] += sum(i["calls"] for i in infos)
        totals["invalid_calls"] += sum(i["invalid_calls"] for i in infos)
        totals["forfeited_turns"] += row["forfeited_turns"]
        totals["seconds_play"] += played_s
        totals["seconds_update"] += update_s
        if dist.main:
            with curve_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            if cfg.checkpoint_every and (it % cfg.checkpoint_every == 0 or it == cfg.iterations):
                save_checkpoint(out, it, model, opt, population, rng, totals, names)
            log(f"rl iteration {it}/{cfg.iterations}: reward {row['reward']:+.3f} deals {row['deal_rate']:.2f} "
                f"below-BATNA {row['below_batna_rate']:.2f} invalid calls {row['invalid_call_rate']:.3f} "
                f"KL/token {row['kl_per_token']:.4f} ({played_s:.0f}s play, {update_s:.0f}s update)")  # fmt: skip
        dist.barrier()
    totals["seconds_play"] = round(totals["seconds_play"], 1)
    totals["seconds_update"] = round(totals["seconds_update"], 1)
    return {"iterations": cfg.iterations, **totals,
            "generated_tokens": generated if rollouts is not None else sampler.tokens, "rollout": cfg.rollout,
            "resumed_from": start, "processes": dist.world,
            "curve": str(curve_path), "config": dataclasses.asdict(cfg)}  # fmt: skip
