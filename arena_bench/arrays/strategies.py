"""Array forms of panel-v2's members: each ``decide`` takes every game where its seats are to move
and returns their actions at once. Each mirrors one class of :mod:`arena_bench.agents.scripted`
(or :class:`arena_bench.agents.policy.PolicyAgent`) rule for rule; the conformance tests compare the
records they produce with the reference loop's. A strategy added to the scripted panel gets an
array form here, or its games go through the reference loop (``array_capable``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..agents import policy as P
from ..core.protocol import ACCEPT, NONE, PROPOSE, WALK

if TYPE_CHECKING:  # for annotations only: the engine (batch) plays the strategies defined here
    from .batch import ArrayGames

NEG = -np.inf


class Strategy:
    """Shared views: the movers' own utilities, the offer on the table, the time."""

    def __init__(self, games: ArrayGames, seats: np.ndarray, seeds: Sequence[int]):
        self.games = games
        self.seats = seats

    def context(self, t: int, g: np.ndarray, s: np.ndarray):
        """(batna, best, can accept, my utility of the offer on the table (-inf: none), time, last
        turn) of the movers. Their utility rows are not gathered: a row is the whole outcome space,
        and most rules need a few of its entries (``u_at``)."""
        G = self.games
        batna, best = G.seat_batna[s], G.seat_best[s]
        role = G.seat_role[s]
        can = (G.table[g] >= 0) & (G.table_by[g] != role)
        on_table = np.where(can, self.u_at(s, np.maximum(G.table[g], 0)), NEG)
        time = t / max(1, G.max_turns - 1)
        last = G.max_turns - t - 1 == 0
        return batna, best, can, on_table, time, last

    def u_at(self, s: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """Each mover's own utility of one outcome each."""
        G = self.games
        return G.U[G.seat_sc[s], G.seat_role[s], flat]

    def near_target(self, s: np.ndarray, target: np.ndarray, best: np.ndarray, width: float):
        """``ScriptedAgent.near_target`` for every mover: among outcomes worth target..target+width
        to me, the one the model rates best for the other side; ties to my own utility, then to the
        first outcome.

        The window's ends are searched for in the outcomes sorted by my utility (``ArrayGames.search``:
        the same comparisons as the reference's mask, in log K steps instead of K), so only the
        candidates are read."""
        if not len(s):
            return np.zeros(0, dtype=np.int64)
        G = self.games
        sc, role = G.seat_sc[s], G.seat_role[s]
        target = np.minimum(target, best)
        lo = target - 1e-12
        a = G.search(sc, role, lo, right=False)  # first outcome worth >= lo
        b = G.search(sc, role, target + width, right=True)  # first worth > target + width
        empty = b <= a
        if empty.any():  # none in the window: those worth the least above lo (a exists: lo < best)
            first = G.sorted_outcomes[1][sc[empty], role[empty], a[empty]]
            b[empty] = G.search(sc[empty], role[empty], first, right=True)
        count = b - a
        starts = np.r_[0, np.cumsum(count)[:-1]]
        rows = np.repeat(np.arange(len(s)), count)
        pos = a[rows] + np.arange(int(count.sum())) - starts[rows]
        cols = G.sorted_outcomes[0][sc[rows], role[rows], pos]
        est = G.model_at(s, rows, cols)
        top = np.maximum.reduceat(est, starts)
        mine = np.where(est >= (top - 1e-12)[rows], G.U[sc[rows], role[rows], cols], NEG)
        best_mine = np.maximum.reduceat(mine, starts)
        return np.minimum.reduceat(np.where(mine == best_mine[rows], cols, G.k), starts)

    def decide(self, t: int, g: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError  # pragma: no cover

    # messages: the reference agents' templates, filled when records are written
    def message(self, kind: int, offer_text: str, table_text: str) -> str:
        if kind == ACCEPT:
            return "Agreed: " + table_text + "."
        if kind == WALK:
            return "We are too far apart; I will take my alternative."
        return self.template.format(offer_text)


def _row(u: np.ndarray, flat: np.ndarray) -> np.ndarray:
    return u[np.arange(len(flat)), flat]


def _accept_or_propose(mine, offer, can, on_table, batna, last: bool):
    """The time-based agents' answer: accept an offer worth at least my own next offer (``mine``)
    and my BATNA, or, on the game's last turn, any offer worth my BATNA; else propose ``offer``."""
    accept = can & (on_table >= mine) & (on_table >= batna)
    if last:
        accept |= can & (on_table >= batna)
    return np.where(accept, ACCEPT, PROPOSE), np.where(accept, NONE, offer)


class TimeBased(Strategy):
    template = "I can offer {}."

    def __init__(self, games, seats, seeds, e: float):
        super().__init__(games, seats, seeds)
        self.e = e

    def decide(self, t, g, s):
        batna, best, can, on_table, time, last = self.context(t, g, s)
        factor = time ** (1.0 / self.e)
        offer = self.near_target(s, best - (best - batna) * factor, best, 0.05)
        return _accept_or_propose(self.u_at(s, offer), offer, can, on_table, batna, last)


class Hardliner(Strategy):
    template = "My position is firm: {}."

    def decide(self, t, g, s):
        batna, best, can, on_table, time, last = self.context(t, g, s)
        accept = can & (on_table >= best - 1e-12)
        offer = self.near_target(s, best, best, 0.0)
        return np.where(accept, ACCEPT, PROPOSE), np.where(accept, NONE, offer)


class Pushover(Strategy):
    template = "Happy to be flexible. How about {}?"

    def decide(self, t, g, s):
        batna, best, can, on_table, time, last = self.context(t, g, s)
        accept = can & (on_table >= batna)
        offer = np.full(len(s), NONE)
        fresh = self.games.n_theirs[s] == 0
        if fresh.any():
            f = fresh
            offer[f] = self.near_target(s[f], batna[f] + 0.5 * (best[f] - batna[f]), best[f], 0.05)
        if (~fresh).any():
            f = ~fresh
            uf = self.games.seat_u(s[f])
            ok = uf >= batna[f, None]
            est = self.games.model_grid(s[f])
            top = np.where(ok, est, NEG).max(axis=1)
            pick = ok & (est >= (top - 1e-12)[:, None])
            offer[f] = np.where(pick, uf, np.inf).argmin(axis=1)
        return np.where(accept, ACCEPT, PROPOSE), np.where(accept, NONE, offer)


class TitForTat(Strategy):
    template = "Meeting you where you meet me: {}."

    def __init__(self, games, seats, seeds, min_step_share: float):
        super().__init__(games, seats, seeds)
        self.share = min_step_share
        self.level = np.full(2 * games.n, np.nan)

    def decide(self, t, g, s):
        G = self.games
        batna, best, can, on_table, time, last = self.context(t, g, s)
        level = self.level[s]
        first = np.isnan(level)
        moved = ~first & (G.n_theirs[s] > 0)
        two = G.n_theirs[s] >= 2
        gain = np.where(
            two,
            self.u_at(s, np.maximum(G.their_last_flat[s], 0))
            - self.u_at(s, np.maximum(G.their_prev_flat[s], 0)),
            0.0,
        )
        step = np.maximum(gain, self.share * (best - batna))
        level = np.where(first, best, np.where(moved, np.maximum(batna, level - step), level))
        self.level[s] = level
        offer = self.near_target(s, level, best, 0.05)
        return _accept_or_propose(self.u_at(s, offer), offer, can, on_table, batna, last)


class RandomRational(Strategy):
    template = "What about {}?"

    def __init__(self, games, seats, seeds):
        super().__init__(games, seats, seeds)
        # one Generator per seat, seeded like the reference agent's: the draws are the same draws
        self.rng = {int(seat): np.random.default_rng(seed) for seat, seed in zip(seats, seeds)}
        self.ok: dict[int, np.ndarray] = {}

    def decide(self, t, g, s):
        G = self.games
        batna, best, can, on_table, time, last = self.context(t, g, s)
        offer = np.empty(len(s), dtype=np.int64)
        for j, seat in enumerate(s.tolist()):
            ok = self.ok.get(seat)
            if ok is None:
                ok = self.ok[seat] = np.flatnonzero(G.U[G.seat_sc[seat], G.seat_role[seat]] > batna[j])
            offer[j] = self.rng[seat].choice(ok)
        accept = can & (on_table >= self.u_at(s, offer)) & (on_table > batna)
        return np.where(accept, ACCEPT, PROPOSE), np.where(accept, NONE, offer)


class Logroller(Strategy):
    template = "Let's trade: {} gives us both what we value."

    def __init__(self, games, seats, seeds, e: float):
        super().__init__(games, seats, seeds)
        self.e = e

    def decide(self, t, g, s):
        batna, best, can, on_table, time, last = self.context(t, g, s)
        u = self.games.seat_u(s)
        est = self.games.model_grid(s)
        product = u - batna[:, None]
        np.maximum(product, 0.0, out=product)  # np.clip(.., 0.0, None), without its overhead
        product *= est
        halfway = batna + 0.5 * (best - batna)
        floor = np.where(self.games.n_theirs[s] >= 2, _row(u, product.argmax(axis=1)), halfway)
        floor = np.minimum(np.maximum(batna, floor), batna + 0.6 * (best - batna))
        aspiration = best - (best - floor) * time ** (1.0 / self.e)
        ok = u >= (aspiration - 1e-12)[:, None]
        top = np.where(ok, product, NEG).max(axis=1)
        pick = ok & (product >= (top - 1e-12)[:, None])
        offer = np.where(pick, u, NEG).argmax(axis=1)
        return _accept_or_propose(_row(u, offer), offer, can, on_table, batna, last)


class MiCRO(Strategy):
    """``scripted.MiCRO``: one step down its ladder of outcomes per distinct offer received."""

    template = "I propose {}."

    def __init__(self, games, seats, seeds):
        super().__init__(games, seats, seeds)
        self.rng = {int(seat): np.random.default_rng(seed) for seat, seed in zip(seats, seeds)}
        self.ladder: dict[tuple[int, int], np.ndarray] = {}
        self.n_proposed = np.zeros(2 * games.n, dtype=np.int64)

    def _ladder(self, sc: int, role: int) -> np.ndarray:
        key = (sc, role)
        if key not in self.ladder:
            G = self.games
            u = G.U[sc, role, : G.n_outcomes[sc]]
            ok = np.flatnonzero(u >= G.batna[sc, role] - 1e-12)
            self.ladder[key] = ok[np.lexsort((ok, -u[ok]))]
        return self.ladder[key]

    def decide(self, t, g, s):
        G = self.games
        batna, best, can, on_table, time, last = self.context(t, g, s)
        kind = np.empty(len(s), dtype=np.int64)
        offer = np.full(len(s), NONE)
        for j, seat in enumerate(s.tolist()):  # a ladder per seat: a short loop over the movers
            sc, role = int(G.seat_sc[seat]), int(G.seat_role[seat])
            ladder = self._ladder(sc, role)
            n, m = int(self.n_proposed[seat]), int(G.n_distinct_theirs[seat])
            if not ladder.size:
                kind[j] = WALK
                continue
            may_concede = n <= m and n < ladder.size
            threshold = G.U[sc, role, ladder[n] if may_concede else ladder[n - 1]]
            if can[j] and on_table[j] >= threshold - 1e-12 and on_table[j] >= batna[j]:
                kind[j] = ACCEPT
                continue
            kind[j] = PROPOSE
            if may_concede:
                offer[j] = ladder[n]
                self.n_proposed[seat] = n + 1
            else:
                offer[j] = ladder[int(self.rng[seat].integers(n))]
        return kind, offer


class HardHeaded(Strategy):
    """``scripted.HardHeaded``: a very Boulware target, the other side's best offer back when it
    meets the target."""

    template = "My offer: {}."

    def __init__(self, games, seats, seeds, e: float, min_utility: float, window: float):
        super().__init__(games, seats, seeds)
        self.e, self.min_utility, self.window = e, min_utility, window

    def decide(self, t, g, s):
        G = self.games
        batna, best, can, on_table, time, last = self.context(t, g, s)
        pmin = np.minimum(best, np.maximum(batna, self.min_utility))
        target = best - (best - pmin) * time ** (1.0 / self.e)
        theirs = G.best_theirs_flat[s]
        back = (theirs >= 0) & (G.best_theirs_u[s] >= target)
        offer = np.where(back, theirs, NONE)
        if (~back).any():
            f = ~back
            offer[f] = self.near_target(s[f], target[f], best[f], self.window)
        mine = self.u_at(s, offer)
        accept = can & (on_table >= np.minimum(target, mine)) & (on_table >= batna)
        return np.where(accept, ACCEPT, PROPOSE), np.where(accept, NONE, offer)


class PolicyInputs:
    """What an exported policy sees (``policy.features``), for movers of an :class:`ArrayGames`: the
    padded briefs per scenario and role, and the seats' histories as ``history_counts`` reads them."""

    def __init__(self, games: ArrayGames):
        G = self.games = games
        if G.n_issues_max > P.MAX_ISSUES or G.n_options_max > P.MAX_OPTIONS:
            raise ValueError(
                f"a scenario exceeds the policy's {P.MAX_ISSUES} issues x {P.MAX_OPTIONS} options"
            )
        briefs = G.scenario_table.derived.get("policy_briefs")
        if briefs is None:  # per scenario, so built once per scenario table
            n_s = len(G.scenarios)
            points = np.zeros((n_s, 2, P.MAX_ISSUES, P.MAX_OPTIONS))
            w = np.zeros((n_s, 2, P.MAX_ISSUES))
            opt_mask = np.zeros((n_s, P.MAX_ISSUES, P.MAX_OPTIONS))
            issue_mask = np.zeros((n_s, P.MAX_ISSUES))
            stride = np.zeros((n_s, P.MAX_ISSUES), dtype=np.int64)
            stride[:, : G.n_issues_max] = G.stride
            for k, sc in enumerate(G.scenarios):
                for r, role in enumerate(sc.roles):
                    points[k, r], w[k, r], opt_mask[k], issue_mask[k] = P.pad_brief(
                        role.weights, role.values, sc.shape
                    )
            briefs = G.scenario_table.derived["policy_briefs"] = (points, w, opt_mask, issue_mask, stride)
            for a in briefs:
                a.setflags(write=False)
        self.points, self.w, self.opt_mask, self.issue_mask, self.stride = briefs

    def features(self, t: int, g: np.ndarray, s: np.ndarray):
        """(tokens, globals, can_accept, issue_mask, opt_mask) of the movers ``s`` of games ``g``."""
        G = self.games
        sc, role = G.seat_sc[s], G.seat_role[s]
        can = (G.table[g] >= 0) & (G.table_by[g] != role)
        table = np.where(can[:, None], G.options(sc, G.table[g]), NONE)
        opt_mask, issue_mask = self.opt_mask[sc], self.issue_mask[sc]
        est_v, est_w = P.opponent_estimate(
            _pad(G.counts[s], 0.0), _pad(G.unchanged[s], 0.0), opt_mask, issue_mask
        )
        n = len(s)
        tokens, glob = P.features(
            self.points[sc, role],
            self.w[sc, role],
            opt_mask,
            issue_mask,
            G.seat_batna[s],
            np.full(n, t / max(1, G.max_turns - 1)),
            _pad(table, NONE),
            can,
            _pad(G.my_last[s], NONE),
            _pad(G.their_last[s], NONE),
            est_v,
            est_w,
            np.full(n, G.max_turns - t - 1),
        )
        return tokens, glob, can, issue_mask, opt_mask

    def flat(self, g: np.ndarray, options: np.ndarray) -> np.ndarray:
        """Flat outcome of per-issue options (n, MAX_ISSUES) in games ``g`` (padding ignored)."""
        return (
            np.where(self.issue_mask[self.games.sc[g]] > 0, options, 0) * self.stride[self.games.sc[g]]
        ).sum(axis=1)


class Policy(Strategy):
    """An exported policy (``PolicyAgent``): the same features and layers over all movers at once."""

    def __init__(self, games, seats, seeds, ref: str):
        super().__init__(games, seats, seeds)
        self.file = P.load_policy(ref)
        self.greedy = self.file.meta.get("decoding", "sample") == "greedy"
        self.guard = P.policy_guard(self.file.meta)
        self.rng = {int(seat): np.random.default_rng(seed) for seat, seed in zip(seats, seeds)}
        self.inputs = PolicyInputs(games)

    def decide(self, t, g, s):
        tokens, glob, can, issue_mask, opt_mask = self.inputs.features(t, g, s)
        allowed = P.accept_allowed(can, glob, self.guard)
        tl, ol = P.forward(self.file.params, tokens, glob, issue_mask, opt_mask, allowed, rowwise=True)
        n = len(s)
        if self.greedy:
            kind, options = tl.argmax(axis=-1), ol.argmax(axis=-1)
        else:  # each seat's own generator, drawn as the reference agent draws (a batch of one)
            kind = np.empty(n, dtype=np.int64)
            options = np.empty(ol.shape[:2], dtype=np.int64)
            for j, seat in enumerate(s.tolist()):
                k, o = P.sample(tl[j : j + 1], ol[j : j + 1], self.rng[seat])
                kind[j], options[j] = k[0], o[0]
        sc, role = self.games.seat_sc[s], self.games.seat_role[s]
        options = P.guard_offers(kind, options, glob, self.inputs.points[sc, role], opt_mask, self.guard)
        flat = self.inputs.flat(g, options)
        return np.where(kind == P.ACCEPT, ACCEPT, np.where(kind == P.WALK, WALK, PROPOSE)), np.where(
            kind == P.PROPOSE, flat, NONE
        )

    def message(self, kind: int, offer_text: str, table_text: str) -> str:
        if kind == ACCEPT:
            return "I accept."
        if kind == WALK:
            return "I will take my alternative."
        return f"I propose {offer_text}."


def _pad(a: np.ndarray, fill: float) -> np.ndarray:
    """Seat arrays (n, I[, O]) padded to the policy's MAX_ISSUES [x MAX_OPTIONS]."""
    shape = (a.shape[0], P.MAX_ISSUES) + ((P.MAX_OPTIONS,) if a.ndim == 3 else ())
    out = np.full(shape, fill, dtype=a.dtype)
    out[(slice(None),) + tuple(slice(0, n) for n in a.shape[1:])] = a
    return out
