"""The reference rollout engine, kept only to reproduce ppo-nash-v1: a config without ``"engine"``
(``reference_trainer/configs/`` of v1 and the v1 ablations) rolls out here, scripted opponents one
game at a time, as v1 was trained. Frozen: every later config uses ``engine: "array"``
(:mod:`reference_trainer.array_env`, a view over :class:`arena_bench.arrays.ArrayGames`, the one
batched form of the rules), and nothing new is built on this module.

It writes the protocol's rules a second time (over a subset of games at a time, which the lockstep
array engine does not do); tests/test_trainer.py plays the same action sequences through it and
``arena_bench.core.protocol`` and compares outcomes and utilities, so it cannot drift. Its Value
and Welfare are ``arena_bench.core.metrics``'s array forms."""

from __future__ import annotations

import numpy as np

from arena_bench.agents.base import Observation
from arena_bench.agents.policy import (
    ACCEPT,
    MAX_ISSUES,
    MAX_OPTIONS,
    PROPOSE,
    WALK,
    features,
    opponent_estimate,
    utility_of,
)
from arena_bench.core.protocol import END_ACCEPTED, END_LIMIT, END_WALKED, MAX_TURNS, NONE, Action, PublicTurn
from arena_bench.core.scenario import Scenario
from arena_bench.playing.game import public_view

from .array_env import OutcomeScores, scenario_arrays
from .reward import nash_potential


class BatchedEnv(OutcomeScores):
    def __init__(
        self,
        scenarios: list[Scenario],
        first_mover: np.ndarray,
        max_turns: int = MAX_TURNS,
        keep_history: bool = True,
    ):
        self.scenarios = scenarios
        self.s = scenario_arrays(scenarios)
        self.n = len(scenarios)
        self.max_turns = max_turns
        self.first = np.asarray(first_mover, dtype=int)
        self.turn = np.zeros(self.n, dtype=int)
        self.table = np.full((self.n, MAX_ISSUES), -1)
        self.table_by = np.full(self.n, -1)
        self.done = np.zeros(self.n, dtype=bool)
        self.deal = np.zeros(self.n, dtype=bool)
        self.end = np.full(self.n, NONE)  # how each game ended: core.protocol's END_* codes
        self.last = np.full((self.n, 2, MAX_ISSUES), -1)
        self.counts = np.zeros(
            (self.n, 2, MAX_ISSUES, MAX_OPTIONS)
        )  # [k, r]: what r saw the other side offer
        self.unchanged = np.zeros((self.n, 2, MAX_ISSUES))
        self.keep_history = keep_history
        self.history: list[list[PublicTurn]] = [[] for _ in range(self.n)]

    @property
    def to_move(self) -> np.ndarray:
        return (self.first + self.turn) % 2

    def can_accept(self, idx: np.ndarray) -> np.ndarray:
        """Whether the side to move in games ``idx`` may accept: an offer from the other side stands."""
        return (self.table_by[idx] >= 0) & (self.table_by[idx] != self.to_move[idx])

    def observe(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features of the side to move in games ``idx``: (tokens, globals, can_accept)."""
        role = self.to_move[idx]
        s = self.s
        pts = s.points[idx, role]
        can = self.can_accept(idx)
        table = np.where(can[:, None], self.table[idx], -1)
        est_v, est_w = opponent_estimate(
            self.counts[idx, role], self.unchanged[idx, role], s.opt_mask[idx], s.issue_mask[idx]
        )
        time = self.turn[idx] / max(1, self.max_turns - 1)
        tokens, glob = features(
            pts,
            s.weights[idx, role],
            s.opt_mask[idx],
            s.issue_mask[idx],
            s.batna[idx, role],
            time,
            table,
            can,
            self.last[idx, role],
            self.last[idx, 1 - role],
            est_v,
            est_w,
            self.max_turns - 1 - self.turn[idx],
        )
        return tokens, glob, can

    def observation(self, k: int) -> Observation:
        """The arena_bench observation of game k's side to move (for scripted opponents)."""
        role = int(self.to_move[k])
        sc = self.scenarios[k]
        standing = tuple(int(x) for x in self.table[k, : len(sc.issues)]) if self.table_by[k] >= 0 else None
        return Observation(
            role,
            sc.roles[role],
            public_view(sc),
            tuple(self.history[k]),
            int(self.turn[k]),
            self.max_turns,
            standing,
            int(self.table_by[k]) if self.table_by[k] >= 0 else None,
        )

    def step(self, idx: np.ndarray, kind: np.ndarray, offers: np.ndarray) -> None:
        """Apply one action in each of games ``idx`` (all must be running; actions must be legal)."""
        if len(idx) == 0:
            return
        assert not self.done[idx].any(), "stepping a finished game"
        role = self.to_move[idx]
        can = self.can_accept(idx)
        if ((kind == ACCEPT) & ~can).any():
            raise ValueError("accept with no standing offer from the other side")
        prop = kind == PROPOSE
        p_idx, p_role = idx[prop], role[prop]
        offer = np.where(self.s.issue_mask[p_idx] > 0, offers[prop], -1)
        observer = 1 - p_role
        prev = self.last[p_idx, p_role]
        had_prev = (prev >= 0).any(axis=1)
        self.unchanged[p_idx, observer] += ((offer == prev) & (offer >= 0)) * had_prev[:, None]
        kk, ii = np.nonzero(offer >= 0)
        np.add.at(self.counts, (p_idx[kk], observer[kk], ii, offer[kk, ii]), 1.0)
        self.table[p_idx] = offer
        self.table_by[p_idx] = p_role
        self.last[p_idx, p_role] = offer
        acc = idx[kind == ACCEPT]
        self.done[acc], self.deal[acc], self.end[acc] = True, True, END_ACCEPTED
        walk = idx[kind == WALK]
        self.done[walk], self.end[walk] = True, END_WALKED
        if self.keep_history:
            for j, k in enumerate(idx):
                if kind[j] == PROPOSE:
                    n_i = len(self.scenarios[k].issues)
                    action = Action.propose(offers[j, :n_i])
                else:
                    action = Action.accept() if kind[j] == ACCEPT else Action.walk_away()
                self.history[k].append(PublicTurn(int(self.turn[k]), int(role[j]), "", action))
        self.turn[idx] += 1
        limit = idx[(self.turn[idx] >= self.max_turns) & ~self.done[idx]]
        self.done[limit], self.end[limit] = True, END_LIMIT

    def utilities(self) -> np.ndarray:
        """(N, 2): deal utilities, or BATNAs without a deal."""
        u = np.stack(
            [utility_of(np.where(self.deal[:, None], self.table, -1), self.s.points[:, r]) for r in (0, 1)],
            axis=1,
        )
        return np.where(self.deal[:, None], u, self.s.batna)

    def table_potential(self) -> np.ndarray:
        """Nash product (geometric mean of both normalised surpluses) of the offer on the table."""
        has = self.table_by >= 0
        u = np.stack(
            [utility_of(np.where(has[:, None], self.table, -1), self.s.points[:, r]) for r in (0, 1)], axis=1
        )
        return np.where(has & ~self.done, nash_potential(u, self.s.batna, self.s.best), 0.0)
