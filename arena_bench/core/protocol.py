"""The alternating-offers protocol of SPEC section 3, as pure functions over explicit state.

No I/O and no agents here: :func:`step` applies one turn, :func:`forfeit` records a turn lost
after failed repairs. The async game loop that asks agents for turns lives in
:mod:`arena_bench.playing.game`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from .scenario import Outcome

PROTOCOL_VERSION = "alternating-offers-v1"
MAX_TURNS = 20
MAX_REPAIRS = 2

# The integer codes of the array forms (the array engine, the policies' features, the trainer's
# environments): one definition, here beside the kinds they stand for.
PROPOSE, ACCEPT, WALK = 0, 1, 2  # Kind.PROPOSE, Kind.ACCEPT, Kind.WALK_AWAY
NONE = -1  # no action yet, no offer on the table, a game still running
END_ACCEPTED, END_WALKED, END_LIMIT = 0, 1, 2
END_NAMES = ("accepted", "walked_away", "turn_limit")


class Kind(str, Enum):
    PROPOSE = "propose"
    ACCEPT = "accept"
    WALK_AWAY = "walk_away"


@dataclass(frozen=True)
class Action:
    kind: Kind
    offer: Outcome | None = None  # option index per issue, for PROPOSE only

    @staticmethod
    def propose(offer: Sequence[int]) -> Action:
        return Action(Kind.PROPOSE, tuple(int(o) for o in offer))

    @staticmethod
    def accept() -> Action:
        return Action(Kind.ACCEPT)

    @staticmethod
    def walk_away() -> Action:
        return Action(Kind.WALK_AWAY)


@dataclass(frozen=True)
class Turn:
    """One agent turn: a message the other side reads and an action."""

    message: str
    action: Action


@dataclass(frozen=True)
class PublicTurn:
    """What both sides see of a past turn. ``action`` is None for a forfeited turn."""

    index: int
    role: int
    message: str
    action: Action | None


class EndReason(str, Enum):
    ACCEPTED = "accepted"
    WALKED_AWAY = "walked_away"
    TURN_LIMIT = "turn_limit"


@dataclass(frozen=True)
class GameState:
    shape: tuple[int, ...]
    first_mover: int
    max_turns: int = MAX_TURNS
    history: tuple[PublicTurn, ...] = ()
    standing_offer: Outcome | None = None  # the latest proposal in the game
    standing_by: int | None = None  # the role that made it
    end: EndReason | None = None
    agreement: Outcome | None = None

    @property
    def turn(self) -> int:
        return len(self.history)

    @property
    def to_move(self) -> int:
        return (self.first_mover + self.turn) % 2

    @property
    def over(self) -> bool:
        return self.end is not None

    @property
    def can_accept(self) -> bool:
        return self.standing_offer is not None and self.standing_by != self.to_move


class IllegalAction(ValueError):
    pass


def initial_state(shape: Sequence[int], first_mover: int, max_turns: int = MAX_TURNS) -> GameState:
    if first_mover not in (0, 1):
        raise ValueError(f"first_mover must be 0 or 1, got {first_mover}")
    if max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    return GameState(shape=tuple(int(n) for n in shape), first_mover=first_mover, max_turns=max_turns)


def illegality(state: GameState, action: Action) -> str | None:
    """Why ``action`` is illegal for the side to move, or None when it is legal."""
    if state.over:
        return "the game is over"
    if action.kind is Kind.ACCEPT:
        if state.standing_offer is None:
            return "there is no offer on the table to accept; make a proposal instead"
        if state.standing_by == state.to_move:
            return "the offer on the table is your own; you can only accept the other side's offer"
        return None
    if action.kind is Kind.PROPOSE:
        offer = action.offer
        if offer is None or len(offer) != len(state.shape):
            n = 0 if offer is None else len(offer)
            return f"a proposal must set all {len(state.shape)} issues; it set {n}"
        for i, (o, n) in enumerate(zip(offer, state.shape)):
            if not 0 <= o < n:
                return f"issue {i}: option {o} does not exist (options 0..{n - 1})"
        return None
    if action.kind is Kind.WALK_AWAY:
        return None
    return f"unknown action {action.kind!r}"  # pragma: no cover


def _close_if_limit(state: GameState) -> GameState:
    if state.end is None and state.turn >= state.max_turns:
        return replace(state, end=EndReason.TURN_LIMIT)
    return state


def step(state: GameState, turn: Turn) -> GameState:
    """Apply a legal turn of the side to move; raises :class:`IllegalAction` otherwise."""
    problem = illegality(state, turn.action)
    if problem:
        raise IllegalAction(problem)
    record = PublicTurn(state.turn, state.to_move, turn.message, turn.action)
    history = state.history + (record,)
    kind = turn.action.kind
    if kind is Kind.ACCEPT:
        return replace(state, history=history, end=EndReason.ACCEPTED, agreement=state.standing_offer)
    if kind is Kind.WALK_AWAY:
        return replace(state, history=history, end=EndReason.WALKED_AWAY)
    new = replace(state, history=history, standing_offer=turn.action.offer, standing_by=record.role)
    return _close_if_limit(new)


def forfeit(state: GameState, message: str = "") -> GameState:
    """The side to move loses its turn: no new offer, the standing offer stays."""
    if state.over:
        raise IllegalAction("the game is over")
    record = PublicTurn(state.turn, state.to_move, message, None)
    return _close_if_limit(replace(state, history=state.history + (record,)))


def offers_by(state: GameState, role: int) -> list[Outcome]:
    return [
        t.action.offer
        for t in state.history
        if t.role == role and t.action is not None and t.action.kind is Kind.PROPOSE
    ]
