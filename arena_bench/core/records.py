"""Typed game records: one line of ``games.jsonl`` (SPEC section 7), pure data.

``GameRecord.to_dict`` writes the fields in the published order, so a record read and written
again is the same bytes; ``from_dict`` names the field that is missing or of the wrong type.
Everything that reads games (aggregation, reports, the leaderboard, verification, the trainer)
reads these types, never raw dicts. File handling lives in ``arena_bench.results``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ResultsError


def _need(d: dict[str, Any], key: str, where: str) -> Any:
    try:
        return d[key]
    except (KeyError, TypeError):
        raise ResultsError(f"{where}: field {key!r} is missing") from None


@dataclass(frozen=True)
class ActionRecord:
    kind: str  # propose, accept, walk_away
    offer: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.offer is not None:
            out["offer"] = list(self.offer)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None, where: str = "action") -> ActionRecord | None:
        if d is None:
            return None
        offer = d.get("offer")
        return cls(_need(d, "kind", where), tuple(int(x) for x in offer) if offer is not None else None)


@dataclass(frozen=True)
class Attempt:
    """One reply to one observation: the raw text, why it was rejected (None: accepted), usage.

    A rejected reply also keeps what it said and tried (``rejected``: message and action).
    """

    raw: str | None
    error: str | None
    usage: dict[str, Any]
    rejected: tuple[str, ActionRecord | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"raw": self.raw, "error": self.error, "usage": self.usage}
        if self.rejected is not None:
            out["message"] = self.rejected[0]
            out["action"] = self.rejected[1].to_dict() if self.rejected[1] is not None else None
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "attempt") -> Attempt:
        rejected = None
        if "message" in d or "action" in d:
            rejected = (d.get("message", ""), ActionRecord.from_dict(d.get("action"), where))
        return cls(d.get("raw"), d.get("error"), dict(_need(d, "usage", where)), rejected)


@dataclass(frozen=True)
class TurnRecord:
    turn: int
    role: int
    message: str
    action: ActionRecord | None  # None: the turn was forfeited
    forfeited: bool
    attempts: tuple[Attempt, ...]

    @property
    def errors(self) -> list[str]:
        return [a.error for a in self.attempts if a.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "turn": self.turn,
            "role": self.role,
            "message": self.message,
            "action": self.action.to_dict() if self.action is not None else None,
            "forfeited": self.forfeited,
            "attempts": [a.to_dict() for a in self.attempts],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "turn") -> TurnRecord:
        return cls(
            int(_need(d, "turn", where)),
            int(_need(d, "role", where)),
            _need(d, "message", where),
            ActionRecord.from_dict(_need(d, "action", where), where),
            bool(_need(d, "forfeited", where)),
            tuple(Attempt.from_dict(a, where) for a in _need(d, "attempts", where)),
        )


@dataclass(frozen=True)
class OutcomeRecord:
    deal: bool
    agreement: tuple[int, ...] | None
    agreement_text: dict[str, str] | None
    end: str  # accepted, walked_away, turn_limit
    turns: int
    turns_to_agreement: int | None
    welfare: float
    pareto_optimal: bool | None
    distance_to_frontier: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "deal": self.deal,
            "agreement": list(self.agreement) if self.agreement is not None else None,
            "agreement_text": self.agreement_text,
            "end": self.end,
            "turns": self.turns,
            "turns_to_agreement": self.turns_to_agreement,
            "welfare": self.welfare,
            "pareto_optimal": self.pareto_optimal,
            "distance_to_frontier": self.distance_to_frontier,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "outcome") -> OutcomeRecord:
        agreement = _need(d, "agreement", where)
        return cls(
            bool(_need(d, "deal", where)),
            tuple(int(x) for x in agreement) if agreement is not None else None,
            d.get("agreement_text"),
            _need(d, "end", where),
            int(_need(d, "turns", where)),
            d.get("turns_to_agreement"),
            _need(d, "welfare", where),
            d.get("pareto_optimal"),
            d.get("distance_to_frontier"),
        )


@dataclass(frozen=True)
class SideRecord:
    """One side's result: the metrics of ``core.metrics.SideMetrics`` plus who played it."""

    u: float
    value: float
    arena_score: float
    rational: bool
    anchor_value: float | None
    offers: int
    invalid_turns: int
    repairs: int
    forfeited_turns: int
    player: str
    role: str
    usage: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "u": self.u,
            "value": self.value,
            "arena_score": self.arena_score,
            "rational": self.rational,
            "anchor_value": self.anchor_value,
            "offers": self.offers,
            "invalid_turns": self.invalid_turns,
            "repairs": self.repairs,
            "forfeited_turns": self.forfeited_turns,
            "player": self.player,
            "role": self.role,
            "usage": self.usage,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "side") -> SideRecord:
        return cls(
            _need(d, "u", where),
            _need(d, "value", where),
            _need(d, "arena_score", where),
            bool(_need(d, "rational", where)),
            d.get("anchor_value"),
            int(d.get("offers", 0)),
            int(_need(d, "invalid_turns", where)),
            int(_need(d, "repairs", where)),
            int(_need(d, "forfeited_turns", where)),
            _need(d, "player", where),
            d.get("role", ""),
            dict(d.get("usage") or {}),
        )


@dataclass(frozen=True)
class ProbeRecord:
    """One belief probe (``--probe``): asked of ``side`` in a side channel the other side never
    sees, after its ``after``-th own turn (0: at the end of the game). ``answer`` holds issue and
    option indices (``ranking``, most important first; ``preferred`` per issue) and ``batna_share``
    (None where the agent has no estimate); it is None when the reply did not parse (``error``)."""

    side: int
    after: int
    answer: dict[str, Any] | None
    error: str | None = None
    raw: str | None = None
    usage: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "side": self.side,
            "after": self.after,
            "answer": self.answer,
            "error": self.error,
        }
        if self.raw is not None:
            out["raw"] = self.raw
        if self.usage:
            out["usage"] = self.usage
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "probe") -> ProbeRecord:
        return cls(
            int(_need(d, "side", where)),
            int(_need(d, "after", where)),
            d.get("answer"),
            d.get("error"),
            d.get("raw"),
            d.get("usage"),
        )


@dataclass(frozen=True)
class GameRecord:
    game_id: str
    protocol: str
    task_set: str
    task_hash: str
    split: str
    scenario_id: str
    family: str
    stratum: str
    first_mover: int
    rep: int
    salt: int
    seed: int
    players: tuple[str, str]
    max_turns: int
    max_repairs: int
    turns: tuple[TurnRecord, ...]
    outcome: OutcomeRecord
    sides: tuple[SideRecord, SideRecord]
    probes: tuple[ProbeRecord, ...] = ()  # --probe only; absent from the JSON when empty

    def own_turns(self, role: int) -> int:
        return sum(1 for t in self.turns if t.role == role)

    def opponent_key(self, role: int) -> str:
        """The other side's player, or ``<self>`` in self-play."""
        mine, theirs = self.players[role], self.players[1 - role]
        return "<self>" if mine == theirs else theirs

    def to_dict(self) -> dict[str, Any]:
        out = {
            "game_id": self.game_id,
            "protocol": self.protocol,
            "task_set": self.task_set,
            "task_hash": self.task_hash,
            "split": self.split,
            "scenario_id": self.scenario_id,
            "family": self.family,
            "stratum": self.stratum,
            "first_mover": self.first_mover,
            "rep": self.rep,
            "salt": self.salt,
            "seed": self.seed,
            "players": list(self.players),
            "max_turns": self.max_turns,
            "max_repairs": self.max_repairs,
            "turns": [t.to_dict() for t in self.turns],
            "outcome": self.outcome.to_dict(),
            "sides": [s.to_dict() for s in self.sides],
        }
        if self.probes:
            out["probes"] = [p.to_dict() for p in self.probes]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "game record") -> GameRecord:
        if not isinstance(d, dict):
            raise ResultsError(f"{where}: a game record must be a JSON object, got {type(d).__name__}")
        gid = d.get("game_id", "?")
        at = f"{where} (game {gid})"
        try:
            players = _need(d, "players", at)
            sides = _need(d, "sides", at)
            if len(players) != 2 or len(sides) != 2:
                raise ResultsError(f"{at}: 'players' and 'sides' must each have two entries")
            return cls(
                game_id=_need(d, "game_id", at),
                protocol=_need(d, "protocol", at),
                task_set=_need(d, "task_set", at),
                task_hash=_need(d, "task_hash", at),
                split=_need(d, "split", at),
                scenario_id=_need(d, "scenario_id", at),
                family=_need(d, "family", at),
                stratum=_need(d, "stratum", at),
                first_mover=int(_need(d, "first_mover", at)),
                rep=int(_need(d, "rep", at)),
                salt=int(d.get("salt", 0)),
                seed=int(_need(d, "seed", at)),
                players=(players[0], players[1]),
                max_turns=int(_need(d, "max_turns", at)),
                max_repairs=int(_need(d, "max_repairs", at)),
                turns=tuple(
                    TurnRecord.from_dict(t, f"{at} turn {k}") for k, t in enumerate(_need(d, "turns", at))
                ),
                outcome=OutcomeRecord.from_dict(_need(d, "outcome", at), f"{at} outcome"),
                sides=(
                    SideRecord.from_dict(sides[0], f"{at} side 0"),
                    SideRecord.from_dict(sides[1], f"{at} side 1"),
                ),
                probes=tuple(
                    ProbeRecord.from_dict(p, f"{at} probe {k}") for k, p in enumerate(d.get("probes") or ())
                ),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ResultsError):
                raise
            raise ResultsError(f"{at}: malformed ({exc})") from None
