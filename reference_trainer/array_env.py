"""The training environment on arena_bench's array engine (``engine: "array"`` in a config).

Same interface as :class:`reference_trainer.reference_env.BatchedEnv` where the trainer uses it, but the
state is an :class:`arena_bench.arrays.ArrayGames` and the scripted opponents are its array
strategies, so a rollout has no per-game Python: the opponents of a whole batch move in a few
array operations. The learner's features are the ones the exported policy sees in evaluation
(``PolicyInputs``), to the bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from arena_bench.agents.policy import pad_brief
from arena_bench.arrays.batch import ArrayGames, GameSpec, ScenarioTable
from arena_bench.arrays.registry import strategy_for
from arena_bench.arrays.strategies import PolicyInputs
from arena_bench.core.analysis import analyse
from arena_bench.core.metrics import value_shares, welfare_array
from arena_bench.core.protocol import END_ACCEPTED, MAX_TURNS, NONE, PROPOSE
from arena_bench.core.scenario import MAX_ISSUES, MAX_OPTIONS, Scenario

from .reward import nash_potential


@dataclass
class ScenarioArrays:
    """Padded per-scenario constants for a batch: index 0/1 is the role."""

    points: np.ndarray  # (N, 2, I, O)
    weights: np.ndarray  # (N, 2, I)
    opt_mask: np.ndarray  # (N, I, O)
    issue_mask: np.ndarray  # (N, I)
    batna: np.ndarray  # (N, 2)
    best: np.ndarray  # (N, 2)
    nash_product: np.ndarray  # (N,) max of (u_A - b_A)(u_B - b_B); 0 without a ZOPA
    zopa: np.ndarray  # (N,)

    def take(self, rows: np.ndarray) -> ScenarioArrays:
        """These rows (games), in this order."""
        return ScenarioArrays(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def scenario_arrays(scenarios: list[Scenario]) -> ScenarioArrays:
    n = len(scenarios)
    points = np.zeros((n, 2, MAX_ISSUES, MAX_OPTIONS))
    weights = np.zeros((n, 2, MAX_ISSUES))
    opt_mask = np.zeros((n, MAX_ISSUES, MAX_OPTIONS))
    issue_mask = np.zeros((n, MAX_ISSUES))
    batna, best, nash, zopa = np.zeros((n, 2)), np.zeros((n, 2)), np.zeros(n), np.zeros(n, dtype=bool)
    for k, s in enumerate(scenarios):
        a = analyse(s)
        for r, role in enumerate(s.roles):
            points[k, r], weights[k, r], opt_mask[k], issue_mask[k] = pad_brief(
                role.weights, role.values, s.shape
            )
            batna[k, r] = role.batna
        best[k] = a.best
        nash[k] = a.nash_product if a.zopa else 0.0
        zopa[k] = a.zopa
    return ScenarioArrays(points, weights, opt_mask, issue_mask, batna, best, nash, zopa)


class OutcomeScores:
    """Value shares and Welfare of a batch's outcomes, by ``core.metrics``' array forms, for every
    training environment (each has ``utilities()``, ``deal`` and its scenarios' constants ``s``)."""

    def shares(self, u: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) Value shares S_i of the outcomes (0 without a deal)."""
        return value_shares(self.utilities() if u is None else u, self.s.batna, self.s.best, self.deal)

    def welfare(self) -> np.ndarray:
        """(N,) the Welfare metric N of the outcomes."""
        return welfare_array(self.s.zopa, self.deal, self.utilities(), self.s.batna, self.s.nash_product)


class ArrayEnv(OutcomeScores):
    """N games in lockstep; ``opponents[k]``: the scripted strategy name of game k's other side, or
    None when the trainer moves both sides (self-play, the pool)."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        first_mover: np.ndarray,
        learner: np.ndarray,
        opponents: Sequence[str | None],
        seeds: Sequence[int],
        max_turns: int = MAX_TURNS,
        table: ScenarioTable | None = None,
        arrays: ScenarioArrays | None = None,
    ):
        """``table`` and ``arrays``: the scenarios' constants when built already (``ArrayPool``):
        a table holding every scenario, and the padded arrays of these games in their order."""
        self.scenarios = list(scenarios)
        self.n = len(scenarios)
        self.max_turns = max_turns
        first = np.asarray(first_mover, dtype=int)
        specs = []
        for k, sc in enumerate(self.scenarios):
            players = ["learner", "learner"]
            if opponents[k] is not None:
                players[1 - int(learner[k])] = f"scripted/{opponents[k]}"
            specs.append(
                GameSpec(sc, (players[0], players[1]), int(first[k]), (int(seeds[k]), int(seeds[k])))
            )
        self.games = ArrayGames(specs, max_turns, table)
        self.inputs = PolicyInputs(self.games)
        self.s: ScenarioArrays = _cached_arrays(self.scenarios) if arrays is None else arrays
        self.t = 0
        self.scripted: dict[str, tuple[np.ndarray, object]] = {}
        for name in sorted({o for o in opponents if o is not None}):
            games = np.array([k for k in range(self.n) if opponents[k] == name])
            seats = 2 * games + 1 - np.asarray(learner)[games]
            self.scripted[name] = (
                seats,
                strategy_for(f"scripted/{name}")(self.games, seats, [seeds[k] for k in games]),
            )
        self.seat_strategy = np.full(2 * self.n, -1)
        self.names = list(self.scripted)
        for code, name in enumerate(self.names):
            self.seat_strategy[self.scripted[name][0]] = code

    # --- BatchedEnv's interface -------------------------------------------------------------------
    @property
    def done(self) -> np.ndarray:
        return self.games.done

    @property
    def turn(self) -> np.ndarray:
        return self.games.turns

    @property
    def to_move(self) -> np.ndarray:
        return (self.games.first + self.t) % 2

    @property
    def deal(self) -> np.ndarray:
        return self.games.end == END_ACCEPTED

    def observe(self, idx: np.ndarray):
        seats = 2 * idx + self.to_move[idx]
        tokens, glob, can, _, _ = self.inputs.features(self.t, idx, seats)
        return tokens, glob, can

    def scripted_moves(self, idx: np.ndarray, kind: np.ndarray, offers: np.ndarray) -> np.ndarray:
        """Fill ``kind`` and ``offers`` (trainer codes, per-issue options) for the games of ``idx`` whose
        mover is scripted; returns those games."""
        seats = 2 * idx + self.to_move[idx]
        codes = self.seat_strategy[seats]
        moved = []
        for code in np.unique(codes[codes >= 0]):
            sel = codes == code
            g, s = idx[sel], seats[sel]
            k, flat = self.scripted[self.names[code]][1].decide(self.t, g, s)
            kind[g] = k
            options = self.games.options(self.games.sc[g], np.maximum(flat, 0))
            padded = np.full((len(g), MAX_ISSUES), -1)
            padded[:, : options.shape[1]] = options
            offers[g] = np.where((k == PROPOSE)[:, None], padded, -1)
            moved.append(g)
        return np.concatenate(moved) if moved else np.zeros(0, dtype=int)

    def step(self, idx: np.ndarray, kind: np.ndarray, offers: np.ndarray) -> None:
        """One turn of every running game (the engine moves all games in lockstep)."""
        if len(idx) == 0:
            return
        running = np.flatnonzero(~self.games.done)
        if not np.array_equal(np.sort(idx), running):
            raise ValueError("the array environment steps every running game at once")
        order = np.argsort(idx)
        idx, kind, offers = idx[order], np.asarray(kind)[order], offers[order]
        can = (self.games.table[idx] >= 0) & (self.games.table_by[idx] != self.to_move[idx])
        if ((kind == 1) & ~can).any():
            raise ValueError("accept with no standing offer from the other side")
        flat = np.where(kind == PROPOSE, self.inputs.flat(idx, np.maximum(offers, 0)), NONE)
        self.games.apply(self.t, idx, kind, flat)
        self.t += 1

    def utilities(self) -> np.ndarray:
        G = self.games
        agreed = np.maximum(G.agreement, 0)
        u = np.stack([G.U[G.sc, r, agreed] for r in (0, 1)], axis=1)
        return np.where(self.deal[:, None], u, self.s.batna)

    def table_potential(self) -> np.ndarray:
        G = self.games
        has = G.table_by >= 0
        on = np.maximum(G.table, 0)
        u = np.stack([G.U[G.sc, r, on] for r in (0, 1)], axis=1)
        return np.where(has & ~self.done, nash_potential(u, self.s.batna, self.s.best), 0.0)

    @property
    def counts(self) -> np.ndarray:
        """(N, 2, MAX_ISSUES, MAX_OPTIONS): [k, r] what r saw the other side offer."""
        from arena_bench.arrays.strategies import _pad

        c = _pad(self.games.counts, 0.0)
        return c.reshape(self.n, 2, *c.shape[1:])

    @property
    def unchanged(self) -> np.ndarray:
        from arena_bench.arrays.strategies import _pad

        u = _pad(self.games.unchanged, 0.0)
        return u.reshape(self.n, 2, -1)


BUCKET_RATIO = 8  # a bucket's largest outcome space is at most this many times its smallest


def buckets(sizes: np.ndarray, ratio: int = BUCKET_RATIO) -> list[np.ndarray]:
    """Games grouped by outcome-space size (indices into ``sizes``, each group in index order):
    one array batch pads every game to its largest scenario, and the training pool runs from 4 to
    12,500 outcomes, so one batch of all of them is mostly padding."""
    order = np.argsort(sizes, kind="stable")
    groups, start = [], 0
    for j in range(1, len(order) + 1):
        if j == len(order) or sizes[order[j]] > ratio * sizes[order[start]]:
            groups.append(np.sort(order[start:j]))
            start = j
    return groups


class BucketedArrayEnv(OutcomeScores):
    """N games in lockstep as several :class:`ArrayEnv` of similar outcome-space size, behind
    ArrayEnv's interface with the games in their drawn order. Every rule of the engine is per game
    (each seat has its own generator), so the games play exactly as in one ArrayEnv: only the
    padding, and with it the memory and time, shrinks."""

    def __init__(
        self,
        scenarios: Sequence[Scenario],
        first_mover: np.ndarray,
        learner: np.ndarray,
        opponents: Sequence[str | None],
        seeds: Sequence[int],
        max_turns: int = MAX_TURNS,
        ratio: int | None = None,
        pool: ArrayPool | None = None,
    ):
        """``pool``: the scenario pool the games are drawn from, built once (``array_pool``); its
        buckets and constants are used instead of the batch's own."""
        self.scenarios = list(scenarios)
        self.n = len(self.scenarios)
        self.first = np.asarray(first_mover, dtype=int)
        learner = np.asarray(learner, dtype=int)
        if pool is None:
            sizes = np.array([sc.n_outcomes for sc in self.scenarios])
            self.members = buckets(sizes, ratio or BUCKET_RATIO)
            tables = [None] * len(self.members)
            self.s: ScenarioArrays = _cached_arrays(self.scenarios)
        else:
            rows = pool.rows(self.scenarios)
            of = pool.bucket[rows]
            used = np.unique(of)
            self.members = [np.flatnonzero(of == b) for b in used]
            tables = [pool.tables[b] for b in used]
            self.s = pool.arrays.take(rows)
        self.envs = [
            ArrayEnv(
                [self.scenarios[k] for k in m],
                self.first[m],
                learner[m],
                [opponents[k] for k in m],
                [seeds[k] for k in m],
                max_turns,
                table,
                None if pool is None else self.s.take(m),
            )
            for m, table in zip(self.members, tables)
        ]
        self.bucket = np.zeros(self.n, dtype=int)
        self.local = np.zeros(self.n, dtype=int)
        for b, m in enumerate(self.members):
            self.bucket[m], self.local[m] = b, np.arange(len(m))
        self.t = 0

    def _gather(self, per_env) -> np.ndarray:
        parts = [per_env(e) for e in self.envs]
        out = np.empty((self.n,) + parts[0].shape[1:], dtype=parts[0].dtype)
        for m, part in zip(self.members, parts):
            out[m] = part
        return out

    def _split(self, idx: np.ndarray):
        """(bucket, positions in idx, local indices) for every bucket with games in ``idx``."""
        b_of = self.bucket[idx]
        for b in np.unique(b_of):
            pos = np.flatnonzero(b_of == b)
            yield b, pos, self.local[idx[pos]]

    done = property(lambda self: self._gather(lambda e: e.done))
    turn = property(lambda self: self._gather(lambda e: e.turn))
    deal = property(lambda self: self._gather(lambda e: e.deal))
    counts = property(lambda self: self._gather(lambda e: e.counts))
    unchanged = property(lambda self: self._gather(lambda e: e.unchanged))

    @property
    def to_move(self) -> np.ndarray:
        return (self.first + self.t) % 2

    def utilities(self) -> np.ndarray:
        return self._gather(lambda e: e.utilities())

    def table_potential(self) -> np.ndarray:
        return self._gather(lambda e: e.table_potential())

    def observe(self, idx: np.ndarray):
        out = None
        for b, pos, local in self._split(idx):
            parts = self.envs[b].observe(local)
            if out is None:
                out = [np.empty((len(idx),) + p.shape[1:], dtype=p.dtype) for p in parts]
            for o, p in zip(out, parts):
                o[pos] = p
        return tuple(out)

    def scripted_moves(self, idx: np.ndarray, kind: np.ndarray, offers: np.ndarray) -> np.ndarray:
        moved = []
        for b, _, local in self._split(idx):
            env, m = self.envs[b], self.members[b]
            k_b, o_b = np.zeros(env.n, dtype=kind.dtype), np.full((env.n,) + offers.shape[1:], -1)
            done = env.scripted_moves(local, k_b, o_b)
            kind[m[done]], offers[m[done]] = k_b[done], o_b[done]
            moved.append(m[done])
        return np.concatenate(moved) if moved else np.zeros(0, dtype=int)

    def step(self, idx: np.ndarray, kind: np.ndarray, offers: np.ndarray) -> None:
        if len(idx) == 0:
            return
        kind = np.asarray(kind)
        for b, pos, local in self._split(idx):
            self.envs[b].step(local, kind[pos], offers[pos])
        self.t += 1


class ArrayPool:
    """A scenario pool as the array environment plays it, built once for a training run: the
    pool's size buckets (``buckets``), one :class:`ScenarioTable` per bucket, and the padded
    per-scenario arrays, so that a rollout only gathers rows instead of rebuilding the constants
    of the scenarios it drew (a fifth of a rollout's time)."""

    def __init__(self, scenarios: Sequence[Scenario], ratio: int = BUCKET_RATIO):
        self.scenarios = list(scenarios)
        self.row: dict[str, int] = {}
        for k, sc in enumerate(self.scenarios):
            self.row.setdefault(sc.id, k)
        sizes = np.array([sc.n_outcomes for sc in self.scenarios])
        self.bucket = np.zeros(len(self.scenarios), dtype=int)
        members = buckets(sizes, ratio)
        for b, m in enumerate(members):
            self.bucket[m] = b
        self.tables = [ScenarioTable([self.scenarios[k] for k in m]) for m in members]
        self.arrays = _cached_arrays(self.scenarios)

    def rows(self, scenarios: Sequence[Scenario]) -> np.ndarray:
        """Each scenario's row in the pool (the tables check that it is the pool's scenario)."""
        try:
            return np.array([self.row[sc.id] for sc in scenarios], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"scenario {e.args[0]!r} is not in the training pool") from None


_POOL: list = []  # the last pool built, with its key: a run draws from one pool for all its rollouts


def array_pool(scenarios: Sequence[Scenario]) -> ArrayPool:
    """The :class:`ArrayPool` of ``scenarios`` (the same list of the same scenario objects as the
    last call: reused), bucketed by the current ``BUCKET_RATIO``."""
    key = (tuple(map(id, scenarios)), BUCKET_RATIO)
    if not _POOL or _POOL[0] != key:
        _POOL[:] = [key, ArrayPool(scenarios, BUCKET_RATIO)]  # the pool holds the scenarios: ids stay theirs
    return _POOL[1]


_ROWS: dict[str, ScenarioArrays] = {}  # one scenario's padded constants, by id (scenarios are immutable)


def _cached_arrays(scenarios: list[Scenario]) -> ScenarioArrays:
    """``scenario_arrays`` (which analyses each scenario) once per distinct scenario, gathered per game."""
    missing = list({sc.id: sc for sc in scenarios if sc.id not in _ROWS}.values())
    if missing:
        built = scenario_arrays(missing)
        for j, sc in enumerate(missing):
            _ROWS[sc.id] = ScenarioArrays(*(getattr(built, f)[j] for f in FIELDS))
    rows = [_ROWS[sc.id] for sc in scenarios]
    return ScenarioArrays(*(np.stack([getattr(r, f) for r in rows]) for f in FIELDS))


FIELDS = tuple(ScenarioArrays.__dataclass_fields__)
