"""Trained policies that run on numpy alone (``policy/<name>``).

The feature encoding lives here, not in the trainer, so training and evaluation see
exactly the same inputs. Shapes are padded to ``MAX_ISSUES`` x ``MAX_OPTIONS``; every
function works on a batch of N games at once.

Per issue, a token: own points per option, one-hots of the offer on the table, of my last
offer and of the other side's last offer, the opponent model's value estimate per option and
its estimate of the other side's points (value x weight), my weight, and the opponent model's
weight estimate. Global features: time, BATNA, my utility of the offer on the table, whether
I can accept it, my utility of my last offer and of the other side's last offer, and whether
this is the game's last turn or the last turn on which I can still propose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..core.protocol import ACCEPT, PROPOSE, WALK, Action, Kind
from ..core.scenario import MAX_ISSUES, MAX_OPTIONS
from ..errors import PolicyError
from .base import Observation, Reply

TOKEN_DIM = 6 * MAX_OPTIONS + 2
GLOBAL_DIM = 8
FEATURES_VERSION = 2  # features and layers; recorded in exported policies, another version is refused
GUARDS = ("none", "batna")  # an exported policy's ``guard`` (meta); files without one have none


def accept_allowed(can_accept: np.ndarray, glob: np.ndarray, guard: str) -> np.ndarray:
    """Where accepting is legal for a policy: an offer stands and, under the ``batna`` guard, it is
    worth at least the BATNA (``glob``'s utility of the table against its BATNA, the features' own
    numbers, so every engine decides alike)."""
    can = np.asarray(can_accept, dtype=bool)
    return can & (glob[:, 2] >= glob[:, 1]) if guard == "batna" else can


def guard_offers(
    kind: np.ndarray,
    options: np.ndarray,
    glob: np.ndarray,
    points: np.ndarray,
    opt_mask: np.ndarray,
    guard: str,
) -> np.ndarray:
    """Under the ``batna`` guard a proposal worth less than the BATNA becomes the proposer's best
    offer (the first best option of every issue), so the policy can never propose a deal it should
    refuse; ``options`` (N, I) otherwise unchanged, padded issues always."""
    if guard != "batna":
        return options
    low = (np.asarray(kind) == PROPOSE) & (utility_of(options, points) < glob[:, 1])
    best = np.where(opt_mask > 0, points, -np.inf).argmax(axis=2)
    return np.where(low[:, None] & (opt_mask > 0).any(axis=2), best, options)  # padding left as it was


def policy_guard(meta: dict[str, Any]) -> str:
    guard = meta.get("guard", "none")
    if guard not in GUARDS:
        raise PolicyError(f"policy guard {guard!r}: this arena_bench knows {', '.join(GUARDS)}")
    return guard


def _onehot(offer: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, I) option indices (-1: none) -> (N, I, O) one-hot."""
    out = np.zeros(offer.shape + (MAX_OPTIONS,))
    n, i = np.nonzero(offer >= 0)
    out[n, i, offer[n, i]] = 1.0
    return out * mask


def opponent_estimate(
    counts: np.ndarray,
    unchanged: np.ndarray,
    opt_mask: np.ndarray,
    issue_mask: np.ndarray,
    weight_step: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """HardHeaded-style frequency model, batched: (values (N,I,O), weights (N,I)).

    Options the other side offers often score higher (normalised per issue); issues it keeps
    unchanged between consecutive offers weigh more.
    """
    values = (1.0 + counts) * opt_mask
    values = values / np.maximum(values.max(axis=2, keepdims=True), 1e-9)
    n_issues = np.maximum(issue_mask.sum(axis=1, keepdims=True), 1)
    w = (1.0 + weight_step * unchanged * n_issues) * issue_mask
    return values, w / np.maximum(w.sum(axis=1, keepdims=True), 1e-9)


def utility_of(offer: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, I) offers (-1: none) under (N, I, O) points -> (N,) utility in [0, 1]; 0 when no offer."""
    # -1 marks both "no offer" (every issue) and the padding past a scenario's last issue
    present = offer >= 0
    picked = np.take_along_axis(points, np.clip(offer, 0, None)[:, :, None], axis=2)[:, :, 0]
    return np.where(present.any(axis=1), (picked * present).sum(axis=1), 0.0)


def features(
    points: np.ndarray,
    weights: np.ndarray,
    opt_mask: np.ndarray,
    issue_mask: np.ndarray,
    batna: np.ndarray,
    time: np.ndarray,
    table: np.ndarray,
    can_accept: np.ndarray,
    my_last: np.ndarray,
    their_last: np.ndarray,
    est_values: np.ndarray,
    est_weights: np.ndarray,
    turns_left: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(tokens (N, I, TOKEN_DIM), globals (N, GLOBAL_DIM)). ``points`` = weight x value, (N, I, O);
    ``turns_left`` = turns after this one."""
    tokens = (
        np.concatenate(
            [
                points * 4.0,  # an issue's points are a share of 1; scaled so a typical issue is O(1)
                _onehot(table, opt_mask),
                _onehot(my_last, opt_mask),
                _onehot(their_last, opt_mask),
                est_values * opt_mask,
                est_values * est_weights[:, :, None] * opt_mask * 4.0,
                weights[:, :, None] * 4.0,
                est_weights[:, :, None] * 4.0,
            ],
            axis=2,
        )
        * issue_mask[:, :, None]
    )
    # the last turn: accepting is the only way to a deal; the one before it: my last offer
    glob = np.stack(
        [
            time,
            batna,
            utility_of(table, points) * can_accept,
            can_accept.astype(float),
            utility_of(my_last, points),
            utility_of(their_last, points),
            (turns_left == 0).astype(float),
            (turns_left == 1).astype(float),
        ],
        axis=1,
    )
    return tokens, glob


# --- the network, in numpy ---------------------------------------------------------------------


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def forward(
    params: dict[str, np.ndarray],
    tokens: np.ndarray,
    glob: np.ndarray,
    issue_mask: np.ndarray,
    opt_mask: np.ndarray,
    can_accept: np.ndarray,
    rowwise: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(action-type logits (N, 3), option logits (N, I, O)), illegal choices at -1e9.

    Must match ``reference_trainer.policy.ActorCritic.actor`` layer for layer. ``rowwise``: shape
    every product of a batch as in a batch of one, so that BLAS takes the same kernel as for one game
    (gemv for a row, gemm for a game's issues) and each row's logits are a one-game call's to the bit
    (the array engine plays the reference agent's games exactly so).
    """
    h = relu(tokens @ params["tok1.w"] + params["tok1.b"])
    h = relu(h @ params["tok2.w"] + params["tok2.b"])  # (N, I, H)
    m = issue_mask[:, :, None]
    pooled = (h * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1.0)
    x = np.concatenate([pooled, glob], axis=1)
    if rowwise:
        ctx_rows = relu(x[:, None, :] @ params["ctx.w"] + params["ctx.b"])  # (N, 1, H)
        type_logits = (ctx_rows @ params["kind.w"] + params["kind.b"])[:, 0, :]
        ctx = ctx_rows[:, 0, :]
    else:
        ctx = relu(x @ params["ctx.w"] + params["ctx.b"])  # (N, H)
        type_logits = ctx @ params["kind.w"] + params["kind.b"]
    type_logits = np.where(
        np.stack(
            [
                np.ones_like(can_accept, dtype=bool),
                can_accept.astype(bool),
                np.ones_like(can_accept, dtype=bool),
            ],
            axis=1,
        ),
        type_logits,
        -1e9,
    )
    joint = np.concatenate([h, np.broadcast_to(ctx[:, None, :], h.shape)], axis=2)
    opt_logits = relu(joint @ params["opt1.w"] + params["opt1.b"]) @ params["opt2.w"] + params["opt2.b"]
    opt_logits = np.where(opt_mask > 0, opt_logits, -1e9)
    return type_logits, opt_logits


def sample(
    type_logits: np.ndarray, opt_logits: np.ndarray, rng: np.random.Generator, greedy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    def draw(logits: np.ndarray) -> np.ndarray:
        if greedy:
            return logits.argmax(axis=-1)
        z = logits - logits.max(axis=-1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=-1, keepdims=True)
        u = rng.random(p.shape[:-1] + (1,))
        return np.minimum((p.cumsum(axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)

    return draw(type_logits), draw(opt_logits)


# --- padding a scenario view and playing as an agent -----------------------------------------


def pad_brief(weights, values, shape) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(points (I,O), weights (I,), opt_mask (I,O), issue_mask (I,)) padded to the maxima."""
    points = np.zeros((MAX_ISSUES, MAX_OPTIONS))
    opt_mask = np.zeros((MAX_ISSUES, MAX_OPTIONS))
    w = np.zeros(MAX_ISSUES)
    issue_mask = np.zeros(MAX_ISSUES)
    for i, (wi, row, n) in enumerate(zip(weights, values, shape)):
        points[i, :n] = wi * np.asarray(row[:n], dtype=float)
        opt_mask[i, :n] = 1.0
        w[i] = wi
        issue_mask[i] = 1.0
    return points, w, opt_mask, issue_mask


def history_counts(obs: Observation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From the public history: how often the other side offered each option, how often it kept each
    issue unchanged between its offers, and both sides' last offers (-1: none)."""
    counts = np.zeros((MAX_ISSUES, MAX_OPTIONS))
    unchanged = np.zeros(MAX_ISSUES)
    my_last = np.full(MAX_ISSUES, -1)
    their_last = np.full(MAX_ISSUES, -1)
    for t in obs.history:
        if t.action is None or t.action.kind is not Kind.PROPOSE:
            continue
        offer = np.full(MAX_ISSUES, -1)
        offer[: len(t.action.offer)] = t.action.offer
        if t.role == obs.role_index:
            my_last = offer
        else:
            if (their_last >= 0).any():
                unchanged += (offer == their_last) & (offer >= 0)
            counts[np.arange(len(t.action.offer)), t.action.offer] += 1
            their_last = offer
    return counts, unchanged, my_last, their_last


def observation_features(obs: Observation, points, w, opt_mask, issue_mask):
    """Features of one observation (batch of one), from its own brief and the public history."""
    counts, unchanged, my_last, their_last = history_counts(obs)
    table = np.full(MAX_ISSUES, -1)
    if obs.can_accept:
        table[: len(obs.standing_offer)] = obs.standing_offer
    can_accept = np.array([obs.can_accept])
    est_v, est_w = opponent_estimate(counts[None], unchanged[None], opt_mask[None], issue_mask[None])
    tokens, glob = features(
        points[None],
        w[None],
        opt_mask[None],
        issue_mask[None],
        np.array([obs.brief.batna]),
        np.array([obs.time]),
        table[None],
        can_accept,
        my_last[None],
        their_last[None],
        est_v,
        est_w,
        np.array([obs.turns_left_after_this]),
    )
    return tokens, glob, can_accept


@dataclass
class PolicyFile:
    name: str
    params: dict[str, np.ndarray]
    meta: dict[str, Any]
    sha256: str = ""  # of the file: a published policy is pinned by it


def shipped_policies() -> list[str]:
    """The names of the policies that ship in the package (``policies/NAME.npz``)."""
    folder = resources.files("arena_bench").joinpath("policies")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".npz")) if folder.is_dir() else []


def load_policy(ref: str) -> PolicyFile:
    """``ref``: a shipped name (``ppo-nash-v1``) or a path to an exported ``.npz``."""
    path = Path(ref)
    if not path.suffix:
        shipped = resources.files("arena_bench").joinpath(f"policies/{ref}.npz")
        if not shipped.is_file():
            known = shipped_policies()
            raise PolicyError(
                f"no shipped policy {ref!r}; shipped: {', '.join(known) or 'none'}; "
                "or give a path to an exported .npz"
            )
        path = Path(str(shipped))
    if not path.is_file():
        raise PolicyError(f"{path}: no such policy file")
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with np.load(path, allow_pickle=False) as z:
        params = {k: z[k] for k in z.files if k != "__meta__"}
        meta = json.loads(str(z["__meta__"])) if "__meta__" in z.files else {}
    version = meta.get("features_version", 1)
    shape = params.get("tok1.w", np.zeros((0, 0))).shape
    if (
        version != FEATURES_VERSION
        or shape[0] != TOKEN_DIM
        or params.get("ctx.w", np.zeros((0, 0))).shape[0] != shape[1] + GLOBAL_DIM
    ):
        raise PolicyError(
            f"{path}: a policy for features version {version} (token size {shape[0] if shape else '?'}); "
            f"this arena_bench reads version {FEATURES_VERSION} (token size {TOKEN_DIM}): "
            "re-export it with a matching reference_trainer"
        )
    policy_guard(meta)  # an unknown guard is refused when loaded, not mid-run
    return PolicyFile(ref, params, meta, digest)


class PolicyAgent:
    """One side of one game, driven by an exported policy (numpy only)."""

    def __init__(self, policy: PolicyFile, role_index: int, seed: int, greedy: bool = False):
        self.policy = policy
        self.role_index = role_index
        self.rng = np.random.default_rng(seed)
        self.greedy = greedy
        self.guard = policy_guard(policy.meta)
        self.ready = False

    def _setup(self, obs: Observation) -> None:
        shape = tuple(len(i.options) for i in obs.public.issues)
        if len(shape) > MAX_ISSUES or max(shape) > MAX_OPTIONS:
            raise ValueError(
                f"scenario {obs.public.id} exceeds the policy's {MAX_ISSUES} issues x {MAX_OPTIONS} options"
            )
        self.points, self.w, self.opt_mask, self.issue_mask = pad_brief(
            obs.brief.weights, obs.brief.values, shape
        )
        self.shape = shape
        self.ready = True

    async def act(self, obs: Observation) -> Reply:
        if not self.ready:
            self._setup(obs)
        tokens, glob, can_accept = observation_features(
            obs, self.points, self.w, self.opt_mask, self.issue_mask
        )
        tl, ol = forward(
            self.policy.params,
            tokens,
            glob,
            self.issue_mask[None],
            self.opt_mask[None],
            accept_allowed(can_accept, glob, self.guard),
        )
        kind, options = sample(tl, ol, self.rng, self.greedy)
        options = guard_offers(kind, options, glob, self.points[None], self.opt_mask[None], self.guard)
        if kind[0] == ACCEPT:
            return Reply(message="I accept.", action=Action.accept())
        if kind[0] == WALK:
            return Reply(message="I will take my alternative.", action=Action.walk_away())
        offer = tuple(int(o) for o in options[0, : len(self.shape)])
        text = "; ".join(f"{i.name}: {i.options[o]}" for i, o in zip(obs.public.issues, offer))
        return Reply(message=f"I propose {text}.", action=Action.propose(offer))

    async def probe(self, obs: Observation) -> dict[str, Any]:
        """Belief probe answered from the opponent estimate the policy sees in its features (the
        frequency model of ``opponent_estimate``); it has no estimate of the other side's BATNA."""
        if not self.ready:
            self._setup(obs)
        counts, unchanged, _, _ = history_counts(obs)
        values, weights = opponent_estimate(
            counts[None], unchanged[None], self.opt_mask[None], self.issue_mask[None]
        )
        n = len(self.shape)
        ranking = [int(k) for k in np.argsort(-weights[0, :n], kind="stable")]
        preferred = [int(np.argmax(values[0, i, : self.shape[i]])) for i in range(n)]
        return {"answer": {"ranking": ranking, "preferred": preferred, "batna_share": None}, "error": None}


class PolicyPlayer:
    """``policy/<name-or-path>``; decoding is the exported policy's ``decoding`` (sample or greedy)."""

    def __init__(self, ref: str):
        self.file = load_policy(ref)
        self.spec = f"policy/{ref}"
        self.greedy = self.file.meta.get("decoding", "sample") == "greedy"

    def new_agent(self, role_index: int, seed: int) -> PolicyAgent:
        return PolicyAgent(self.file, role_index, seed, greedy=self.greedy)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": "policy", "sha256": self.file.sha256, "meta": self.file.meta}


def make_player(provider: str, name: str, options: dict[str, Any]) -> PolicyPlayer:
    return PolicyPlayer(name)
