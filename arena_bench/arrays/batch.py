"""A batch of games as arrays, played in lockstep: turn t of every unfinished game at once.

Layout. Games of one batch may come from different scenarios: every scenario's outcomes are
flattened in ``np.ravel_multi_index`` order and padded to the largest outcome space of the batch's
:class:`ScenarioTable` (its own scenarios, or a pool the trainer draws batch after batch from), with
utility -inf on the padding so that no comparison ever selects it. Each game has two seats (its
two roles); a seat's per-game state (the frequency model of the other side, its last offers) is a
row of the seat arrays, seat = 2 * game + role.

Exactness. Records must equal the reference loop's to the bit, so every rule repeats the
reference's float operations in the same order: sums over issues are written as sequential
adds (numpy's pairwise sum of 8 or more items groups differently), the time factor ``t ** (1/e)``
is one Python float per turn, shared by all games (they advance together), and every random draw
comes from the seat's own ``numpy.random.Generator`` seeded as in the reference loop.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.analysis import DECIMALS
from ..core.protocol import (
    ACCEPT,
    END_ACCEPTED,
    END_LIMIT,
    END_WALKED,
    MAX_TURNS,
    NONE,
    PROPOSE,
    WALK,
)
from ..core.scenario import Scenario, additive_grid
from .registry import strategy_for


@dataclass(frozen=True)
class GameSpec:
    """One game: the scenario, the player specs by role, who moves first, the agents' seeds."""

    scenario: Scenario
    players: tuple[str, str]
    first_mover: int
    seeds: tuple[int, int]


def array_capable(spec: str) -> bool:
    """Whether the player ``spec`` has an array form (see :mod:`.strategies`)."""
    try:
        strategy_for(spec)
    except KeyError:
        return False
    return True


class ScenarioTable:
    """The per-scenario constants of a set of scenarios, padded to the largest outcome space:
    utilities, options, strides, BATNAs, and (when first needed) each role's outcomes sorted by
    utility. Built once for a set of scenarios and shared, read-only, by every batch over them:
    the trainer plays batch after batch on the same pool."""

    def __init__(self, scenarios: Sequence[Scenario]):
        unique: dict[str, Scenario] = {}
        for s in scenarios:
            unique.setdefault(s.id, s)
        self.scenarios = list(unique.values())
        self.index = {s.id: k for k, s in enumerate(self.scenarios)}
        n_s = len(self.scenarios)
        shapes = [tuple(s.shape) for s in self.scenarios]
        self.n_outcomes = np.array([int(np.prod(sh)) for sh in shapes])
        self.k = int(self.n_outcomes.max())
        self.n_issues_max = max(len(sh) for sh in shapes)
        self.n_options_max = max(max(sh) for sh in shapes)
        i_max = self.n_issues_max
        self.n_issues = np.array([len(sh) for sh in shapes])
        # U[s, r, k]: role r's utility of outcome k, rounded like the reference agents' grids
        self.U = np.full((n_s, 2, self.k), -np.inf)
        self.OPT = np.zeros((n_s, i_max, self.k), dtype=np.int64)  # option of each issue at outcome k
        self.stride = np.zeros((n_s, i_max), dtype=np.int64)  # flat index = sum(option * stride)
        self.batna = np.zeros((n_s, 2))
        self.best = np.zeros((n_s, 2))
        for k, (s, sh) in enumerate(zip(self.scenarios, shapes)):
            size = self.n_outcomes[k]
            u, options, stride, _ = _constants(s)
            self.U[k, :, :size] = u
            self.OPT[k, : len(sh), :size] = options
            self.stride[k, : len(sh)] = stride
            for r, role in enumerate(s.roles):
                self.batna[k, r] = role.batna
                self.best[k, r] = float(u[r].max())
        for a in (self.n_outcomes, self.n_issues, self.U, self.OPT, self.stride, self.batna, self.best):
            a.setflags(write=False)  # shared by every batch over the table
        self.derived: dict[str, object] = {}  # other per-scenario arrays, built once by their users

    def rows(self, scenarios: Sequence[Scenario]) -> np.ndarray:
        """The table row of each scenario; a clear error for one the table does not hold."""
        try:
            rows = [self.index[s.id] for s in scenarios]
        except KeyError as e:
            raise ValueError(f"scenario {e.args[0]!r} is not in this scenario table") from None
        for s, k in zip(scenarios, rows):
            if s is not self.scenarios[k] and s != self.scenarios[k]:
                raise ValueError(f"scenario {s.id!r} differs from the table's scenario of that id")
        return np.array(rows, dtype=np.int64)

    @functools.cached_property
    def sorted_outcomes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(order, U_sorted, keys): each role's outcomes by its utility, ascending (ties in outcome
        order), and those utilities (+inf past a scenario's outcomes), each (scenarios, 2, K); and
        the same utilities flat as the imaginary part of complex numbers whose real part is the row
        (scenario, role), so that one ``np.searchsorted`` finds a position in every row at once
        (numpy orders complex numbers lexicographically: exactly the utility comparisons within a
        row). Built when first needed, from per-scenario sorts computed once (``_constants``)."""
        n_s = len(self.scenarios)
        order = np.zeros((n_s, 2, self.k), dtype=np.int64)
        keys = np.empty((n_s, 2, self.k), dtype=np.complex128)
        keys.real = np.arange(2 * n_s, dtype=float).reshape(n_s, 2, 1)
        u_sorted = keys.imag  # a view: the utilities are stored once
        u_sorted[:] = np.inf
        for k, s in enumerate(self.scenarios):
            size = self.n_outcomes[k]
            _, _, _, (by_utility, ascending) = _constants(s)
            order[k, :, :size] = by_utility
            u_sorted[k, :, :size] = ascending
        for a in (order, keys):
            a.setflags(write=False)
        return order, u_sorted, keys.ravel()


class ArrayGames:
    """Game state and seat state of one batch, over a :class:`ScenarioTable` (the batch's own
    scenarios unless one is given)."""

    def __init__(
        self, specs: Sequence[GameSpec], max_turns: int = MAX_TURNS, table: ScenarioTable | None = None
    ):
        self.specs = list(specs)
        self.max_turns = max_turns
        table = table or ScenarioTable([g.scenario for g in self.specs])
        self.sc = table.rows([g.scenario for g in self.specs])
        self.scenario_table = table  # its arrays are shared: the names below are views, never written
        self.scenarios, self.n_outcomes, self.k = table.scenarios, table.n_outcomes, table.k
        self.n_issues, self.n_issues_max, self.n_options_max = (
            table.n_issues,
            table.n_issues_max,
            table.n_options_max,
        )
        self.U, self.OPT, self.stride = table.U, table.OPT, table.stride
        self.batna, self.best = table.batna, table.best
        i_max = self.n_issues_max
        n = len(self.specs)
        self.n = n
        self.first = np.array([g.first_mover for g in self.specs])
        # --- game state
        self.done = np.zeros(n, dtype=bool)
        self.end = np.full(n, NONE)
        self.turns = np.zeros(n, dtype=np.int64)
        self.table = np.full(n, NONE)  # the standing offer (flat index)
        self.table_by = np.full(n, NONE)
        self.agreement = np.full(n, NONE)
        self.hist_kind = np.full((n, max_turns), NONE)
        self.hist_flat = np.full((n, max_turns), NONE)
        # --- seat state: the other side's offers as the frequency model counts them, and my own
        seats = 2 * n
        self.seat_sc = np.repeat(self.sc, 2)
        self.seat_role = np.tile([0, 1], n)
        self.seat_batna = self.batna[self.seat_sc, self.seat_role]
        self.seat_best = self.best[self.seat_sc, self.seat_role]
        self.counts = np.zeros((seats, i_max, self.n_options_max))
        self.unchanged = np.zeros((seats, i_max))
        self.their_last = np.full((seats, i_max), NONE)
        self.their_last_flat = np.full(seats, NONE)
        self.their_prev_flat = np.full(seats, NONE)
        self.n_theirs = np.zeros(seats, dtype=np.int64)
        self.my_last = np.full((seats, i_max), NONE)
        self.n_mine = np.zeros(seats, dtype=np.int64)
        # the other side's best offer for me (the first of equals), and how many distinct offers it made
        self.best_theirs_flat = np.full(seats, NONE)
        self.best_theirs_u = np.full(seats, -np.inf)
        self.seen = np.zeros((seats, self.k), dtype=bool)
        self.n_distinct_theirs = np.zeros(seats, dtype=np.int64)
        self.strategies: dict = {}  # spec -> its array strategy, set by play_batch (records read the templates)

    # --- views for the strategies -----------------------------------------------------------------
    def seat_u(self, seats: np.ndarray) -> np.ndarray:
        """(n, K) own utility of every outcome for these seats (-inf past a scenario's outcomes)."""
        return self.U[self.seat_sc[seats], self.seat_role[seats]]

    @property
    def sorted_outcomes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The table's outcomes sorted by each role's utility (``ScenarioTable.sorted_outcomes``)."""
        return self.scenario_table.sorted_outcomes

    def search(self, sc: np.ndarray, role: np.ndarray, x: np.ndarray, right: bool) -> np.ndarray:
        """Per row, ``np.searchsorted(U_sorted[sc, role, :n_outcomes], x, side)``: the first
        position whose utility is >= x (``right``: > x), for all rows in one search."""
        row = 2 * sc + role
        query = np.empty(len(row), dtype=np.complex128)
        query.real, query.imag = row, x
        found = np.searchsorted(self.sorted_outcomes[2], query, side="right" if right else "left")
        return np.minimum(found - row * self.k, self.n_outcomes[sc])

    def options(self, sc: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """(n, I) options of flat outcomes (-1 past a scenario's issues)."""
        out = self.OPT[sc, :, np.maximum(flat, 0)]
        return np.where(np.arange(self.n_issues_max)[None, :] < self.n_issues[sc][:, None], out, NONE)

    def model(self, seats: np.ndarray, weight_step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
        """The frequency model of these seats (``FrequencyModel.weights`` and ``values``): weights
        (n, I), zero past a scenario's issues, and values (n, I, O), with the reference's operations
        in the reference's order."""
        sc = self.seat_sc[seats]
        n_issues = self.n_issues[sc]
        live = np.arange(self.n_issues_max)[None, :] < n_issues[:, None]
        w = 1.0 + weight_step * self.unchanged[seats] * n_issues[:, None].astype(float)
        w = np.where(live, w, 0.0)
        total = w[:, 0].copy()
        for i in range(1, self.n_issues_max):  # sequential, as numpy sums fewer than 8 items
            total = total + w[:, i]
        w = w / total[:, None]
        c = self.counts[seats]
        return w, (1.0 + c) / (1.0 + c.max(axis=2, keepdims=True))

    def model_grid(self, seats: np.ndarray) -> np.ndarray:
        """(n, K) the model's estimate of the other side's utility of every outcome, built per
        scenario by repeated broadcasting exactly as ``additive_grid`` builds it (issue 0 first)."""
        w, values = self.model(seats)
        sc = self.seat_sc[seats]
        grid = np.zeros((len(seats), self.k))
        for k in np.unique(sc):
            rows = np.flatnonzero(sc == k)
            w_k, values_k = w[rows], values[rows]  # gathered once per scenario, sliced per issue
            g = np.zeros((len(rows), 1))
            for i, n_opt in enumerate(self.scenarios[k].shape):
                g = (g[:, :, None] + w_k[:, i, None, None] * values_k[:, i, None, :n_opt]).reshape(
                    len(rows), -1
                )
            grid[rows, : g.shape[1]] = g
        return grid

    def model_at(self, seats: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The same estimate at some outcomes only: outcome ``cols[j]`` for seat ``seats[rows[j]]``."""
        w, values = self.model(seats)
        sc = self.seat_sc[seats][rows]
        issues = np.arange(self.n_issues_max)
        # each candidate's options, then each issue's term, in two gathers; summed issue by issue
        terms = w[rows] * values[rows[:, None], issues[None, :], self.OPT[sc, :, cols]]
        est = np.zeros(len(rows))
        for i in issues:
            est = est + terms[:, i]
        return est

    # --- the protocol, for every unfinished game at once ------------------------------------------
    def apply(self, t: int, games: np.ndarray, kind: np.ndarray, flat: np.ndarray) -> None:
        """Apply turn ``t`` of ``games``: ``kind`` PROPOSE/ACCEPT/WALK, ``flat`` the proposal."""
        role = (self.first[games] + t) % 2
        self.hist_kind[games, t] = kind
        self.hist_flat[games, t] = np.where(kind == PROPOSE, flat, NONE)
        self.turns[games] = t + 1
        acc = kind == ACCEPT
        if acc.any():
            g = games[acc]
            self.end[g] = END_ACCEPTED
            self.agreement[g] = self.table[g]
            self.done[g] = True
        walk = kind == WALK
        if walk.any():
            g = games[walk]
            self.end[g] = END_WALKED
            self.done[g] = True
        prop = kind == PROPOSE
        if prop.any():
            g, r, f = games[prop], role[prop], flat[prop]
            self.table[g] = f
            self.table_by[g] = r
            offer = self.options(self.sc[g], f)
            mine = 2 * g + r
            self.my_last[mine] = offer
            self.n_mine[mine] += 1
            other = 2 * g + 1 - r
            had = self.n_theirs[other] > 0
            live = offer >= 0
            self.unchanged[other] += np.where(had[:, None] & live, offer == self.their_last[other], False)
            rows = np.repeat(other, self.n_issues_max)
            cols = np.tile(np.arange(self.n_issues_max), len(other))
            opts = offer.ravel()
            keep = opts >= 0
            np.add.at(self.counts, (rows[keep], cols[keep], opts[keep]), 1.0)
            self.their_last[other] = offer
            self.their_prev_flat[other] = self.their_last_flat[other]
            self.their_last_flat[other] = f
            self.n_theirs[other] += 1
            u_other = self.U[self.sc[g], 1 - r, f]
            better = u_other > self.best_theirs_u[other]
            self.best_theirs_u[other] = np.where(better, u_other, self.best_theirs_u[other])
            self.best_theirs_flat[other] = np.where(better, f, self.best_theirs_flat[other])
            new = ~self.seen[other, f]
            self.seen[other, f] = True
            self.n_distinct_theirs[other] += new
        if t + 1 >= self.max_turns:
            open_ = games[~self.done[games]]
            self.end[open_] = END_LIMIT
            self.done[open_] = True


_CONSTANTS: dict[tuple, tuple] = {}


def _constants(scenario: Scenario) -> tuple:
    """(utility grids (2, K) rounded as the reference agents round them, options (I, K), strides (I,),
    (each role's outcomes by utility (2, K), ascending and stable, and those utilities)) of a
    scenario, computed once: the trainer draws the same scenarios in batch after batch."""
    key = (scenario.id, tuple(scenario.shape), scenario.roles)  # the id alone may repeat across task sets
    hit = _CONSTANTS.get(key)
    if hit is None:
        sh = tuple(scenario.shape)
        u = np.stack([np.round(additive_grid(r.weights, r.values, sh), DECIMALS) for r in scenario.roles])
        options = np.stack(np.unravel_index(np.arange(int(np.prod(sh))), sh))
        stride = np.ravel_multi_index(np.eye(len(sh), dtype=int), sh)
        if len(_CONSTANTS) > 20_000:  # bounded: a long-lived process meets new scenarios forever
            _CONSTANTS.clear()
        by_utility = np.argsort(u, axis=1, kind="stable")
        hit = _CONSTANTS[key] = (u, options, stride, (by_utility, np.take_along_axis(u, by_utility, axis=1)))
    return hit


def play_batch(specs: Sequence[GameSpec], max_turns: int = MAX_TURNS) -> ArrayGames:
    """Play every game of ``specs`` to the end; the finished :class:`ArrayGames`."""
    games = ArrayGames(specs, max_turns)
    seat_spec = [p for g in games.specs for p in g.players]
    groups: dict[str, list[int]] = {}
    for seat, spec in enumerate(seat_spec):
        groups.setdefault(spec, []).append(seat)
    strategies = {}
    for spec, seats in groups.items():
        seats_a = np.array(seats)
        seeds = [games.specs[s // 2].seeds[s % 2] for s in seats]
        strategies[spec] = (seats_a, strategy_for(spec)(games, seats_a, seeds))
    seat_code = np.zeros(2 * games.n, dtype=np.int64)
    names = list(strategies)
    for code, spec in enumerate(names):
        seat_code[strategies[spec][0]] = code
    for t in range(max_turns):
        open_games = np.flatnonzero(~games.done)
        if not open_games.size:
            break
        role = (games.first[open_games] + t) % 2
        movers = 2 * open_games + role
        kind = np.full(open_games.size, NONE)
        flat = np.full(open_games.size, NONE)
        codes = seat_code[movers]
        for code in np.unique(codes):
            sel = np.flatnonzero(codes == code)
            strategy = strategies[names[code]][1]
            k, f = strategy.decide(t, open_games[sel], movers[sel])
            kind[sel], flat[sel] = k, f
        _check_legal(games, open_games, role, kind, flat, names, seat_code[movers])
        games.apply(t, open_games, kind, flat)
    games.strategies = {spec: s for spec, (_, s) in strategies.items()}
    return games


def _check_legal(games, open_games, role, kind, flat, names, codes) -> None:
    """Every array strategy plays legal moves by construction; a bug must not pass as a game."""
    can = (games.table[open_games] >= 0) & (games.table_by[open_games] != role)
    bad = ((kind == ACCEPT) & ~can) | (kind == NONE)
    bad |= (kind == PROPOSE) & ((flat < 0) | (flat >= games.n_outcomes[games.sc[open_games]]))
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise AssertionError(
            f"array strategy {names[codes[j]]} made an illegal move (kind {kind[j]}, outcome {flat[j]}) "
            f"in game {int(open_games[j])}"
        )
