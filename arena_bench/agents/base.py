"""What an agent sees and the one-method protocol it implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..core.protocol import Action, PublicTurn
from ..core.scenario import Issue, Outcome, Role


@dataclass(frozen=True)
class PublicScenario:
    """The part of a scenario both sides know."""

    id: str
    title: str
    context: str
    issues: tuple[Issue, ...]
    role_names: tuple[str, str]


@dataclass(frozen=True)
class Observation:
    """One agent's view at its turn: its own brief, the public context, the public history.

    Never the other side's weights, values or BATNA.
    """

    role_index: int
    brief: Role
    public: PublicScenario
    history: tuple[PublicTurn, ...]
    turn: int
    max_turns: int
    standing_offer: Outcome | None
    standing_by: int | None
    feedback: str | None = None  # why the previous reply this turn was rejected (repairs)
    attempt: int = 0

    @property
    def can_accept(self) -> bool:
        return self.standing_offer is not None and self.standing_by != self.role_index

    @property
    def time(self) -> float:
        """Progress through the game in [0, 1]."""
        return self.turn / max(1, self.max_turns - 1)

    @property
    def turns_left_after_this(self) -> int:
        return self.max_turns - self.turn - 1


@dataclass
class Reply:
    """An agent's answer to one observation.

    ``action`` is None when the raw output could not be parsed; ``error`` says why. Model
    backends fill ``raw`` and the usage fields; scripted agents leave them empty.
    """

    message: str = ""
    action: Action | None = None
    raw: str | None = None
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)  # tokens_in, tokens_out, latency_s, cost_usd


@runtime_checkable
class Agent(Protocol):
    """Plays one side of one game; holds per-game state."""

    async def act(self, observation: Observation) -> Reply: ...


@runtime_checkable
class Player(Protocol):
    """A named contestant (e.g. ``scripted/boulware``, ``openai/gpt-4o``) that makes per-game agents."""

    spec: str

    def new_agent(self, role_index: int, seed: int) -> Agent: ...

    def describe(self) -> dict[str, Any]: ...
