"""Typed game records: one line of ``games.jsonl`` (SPEC section 7), pure data.

``GameRecord.to_dict`` writes the fields in the published order, so a record read and written
again is the same bytes; ``from_dict`` names the field that is missing or of the wrong type.
Everything that reads games (aggregation, reports, the leaderboard, verification, the trainer)
reads these types, never raw dicts. File handling lives in ``arena_bench.scoring.results``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ResultsError

# What a record may hold, whatever a file says: far above anything a game writes (a reply is bounded
# by its max_tokens), so that a hostile line is refused before it costs memory on a page.
MAX_MESSAGE_CHARS = 100_000  # a message (what pages show): far above any max_tokens a reply has
MAX_TEXT_CHARS = 1_000_000  # a raw reply or an error (a game line is capped at 4 MiB anyway)
MAX_TURN_RECORDS = 1_000  # turns of one game (the protocol's max_turns is far below)
MAX_ATTEMPTS = 32


def _need(d: dict[str, Any], key: str, where: str) -> Any:
    try:
        return d[key]
    except (KeyError, TypeError):
        raise ResultsError(f"{where}: field {key!r} is missing") from None


def _typed(
    value: Any,
    types: type | tuple[type, ...],
    where: str,
    key: str,
    optional: bool = False,
    limit: int = MAX_TEXT_CHARS,
) -> Any:
    """VALUE when it is of TYPES (bool is never an int or a number here), else a ResultsError."""
    if value is None and optional:
        return None
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in _tuple(types))
    if not ok:
        names = "/".join(t.__name__ for t in _tuple(types))
        raise ResultsError(f"{where}: field {key!r} must be {names}, got {type(value).__name__}")
    if isinstance(value, str) and len(value) > limit:
        raise ResultsError(f"{where}: field {key!r} is longer than {limit:,} characters")
    return value


def _message(d: dict[str, Any], where: str, optional: bool = False) -> Any:
    value = d.get("message", "") if optional else _need(d, "message", where)
    return _typed(value, str, where, "message", optional=optional, limit=MAX_MESSAGE_CHARS)


def _tuple(types) -> tuple[type, ...]:
    return types if isinstance(types, tuple) else (types,)


def _field(d: dict[str, Any], key: str, types, where: str, optional: bool = False, default: Any = None):
    if optional:
        return _typed(d.get(key, default), types, where, key, optional=True)
    return _typed(_need(d, key, where), types, where, key)


_NUMBER = (int, float)


def _flat(d: Any, where: str, key: str) -> dict[str, Any]:
    """A dict of plain values (usage counters): no nesting, so nothing deep reaches a page."""
    d = _typed(d, dict, where, key)
    for k, v in d.items():
        if not isinstance(v, (str, int, float, bool)) and v is not None:
            raise ResultsError(f"{where}: field {key}.{k} must be a plain value, got {type(v).__name__}")
        if isinstance(v, str) and len(v) > MAX_TEXT_CHARS:
            raise ResultsError(f"{where}: field {key}.{k} is longer than {MAX_TEXT_CHARS:,} characters")
    return d


def _ints(value: Any, where: str, key: str) -> tuple[int, ...]:
    _typed(value, list, where, key)
    return tuple(_typed(x, int, where, key) for x in value)


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
        _typed(d, dict, where, "action")
        offer = d.get("offer")
        return cls(_field(d, "kind", str, where), _ints(offer, where, "offer") if offer is not None else None)


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
        _typed(d, dict, where, "attempt")
        rejected = None
        if "message" in d or "action" in d:
            rejected = (_message(d, where, optional=True), ActionRecord.from_dict(d.get("action"), where))
        return cls(
            _field(d, "raw", str, where, True),
            _field(d, "error", str, where, True),
            dict(_flat(_need(d, "usage", where), where, "usage")),
            rejected,
        )


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
        _typed(d, dict, where, "turn")
        attempts = _field(d, "attempts", list, where)
        if len(attempts) > MAX_ATTEMPTS:
            raise ResultsError(f"{where}: more than {MAX_ATTEMPTS} attempts")
        return cls(
            _field(d, "turn", int, where),
            _field(d, "role", int, where),
            _message(d, where),
            ActionRecord.from_dict(_need(d, "action", where), where),
            _field(d, "forfeited", bool, where),
            tuple(Attempt.from_dict(a, where) for a in attempts),
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
        _typed(d, dict, where, "outcome")
        agreement = _need(d, "agreement", where)
        text = _field(d, "agreement_text", dict, where, True)
        if text is not None:
            _flat(text, where, "agreement_text")
        return cls(
            _field(d, "deal", bool, where),
            _ints(agreement, where, "agreement") if agreement is not None else None,
            text,
            _field(d, "end", str, where),
            _field(d, "turns", int, where),
            _field(d, "turns_to_agreement", int, where, True),
            _field(d, "welfare", _NUMBER, where),
            _field(d, "pareto_optimal", bool, where, True),
            _field(d, "distance_to_frontier", _NUMBER, where, True),
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
        _typed(d, dict, where, "side")
        return cls(
            _field(d, "u", _NUMBER, where),
            _field(d, "value", _NUMBER, where),
            _field(d, "arena_score", _NUMBER, where),
            _field(d, "rational", bool, where),
            _field(d, "anchor_value", _NUMBER, where, True),
            _field(d, "offers", int, where, True, 0),
            _field(d, "invalid_turns", int, where),
            _field(d, "repairs", int, where),
            _field(d, "forfeited_turns", int, where),
            _field(d, "player", str, where),
            _field(d, "role", str, where, True, ""),
            dict(_flat(d.get("usage") or {}, where, "usage")),
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
        _typed(d, dict, where, "probe")
        answer = _field(d, "answer", dict, where, True)
        if answer is not None:
            for k, v in answer.items():  # indices and a share: one level of lists at most
                if isinstance(v, list):
                    _ints(v, where, f"answer.{k}")
                elif v is not None and not isinstance(v, (int, float, str)):
                    raise ResultsError(f"{where}: field answer.{k} must be a list or a plain value")
        usage = d.get("usage")
        return cls(
            _field(d, "side", int, where),
            _field(d, "after", int, where),
            answer,
            _field(d, "error", str, where, True),
            _field(d, "raw", str, where, True),
            _flat(usage, where, "usage") if usage is not None else None,
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
            players = _field(d, "players", list, at)
            sides = _field(d, "sides", list, at)
            if len(players) != 2 or len(sides) != 2:
                raise ResultsError(f"{at}: 'players' and 'sides' must each have two entries")
            players = [_typed(p, str, at, "players") for p in players]
            turns = _field(d, "turns", list, at)
            if len(turns) > MAX_TURN_RECORDS:
                raise ResultsError(f"{at}: more than {MAX_TURN_RECORDS} turns")
            return cls(
                game_id=_field(d, "game_id", str, at),
                protocol=_field(d, "protocol", str, at),
                task_set=_field(d, "task_set", str, at),
                task_hash=_field(d, "task_hash", str, at),
                split=_field(d, "split", str, at),
                scenario_id=_field(d, "scenario_id", str, at),
                family=_field(d, "family", str, at),
                stratum=_field(d, "stratum", str, at),
                first_mover=_field(d, "first_mover", int, at),
                rep=_field(d, "rep", int, at),
                salt=_field(d, "salt", int, at, True, 0),
                seed=_field(d, "seed", int, at),
                players=(players[0], players[1]),
                max_turns=_field(d, "max_turns", int, at),
                max_repairs=_field(d, "max_repairs", int, at),
                turns=tuple(TurnRecord.from_dict(t, f"{at} turn {k}") for k, t in enumerate(turns)),
                outcome=OutcomeRecord.from_dict(_need(d, "outcome", at), f"{at} outcome"),
                sides=(
                    SideRecord.from_dict(sides[0], f"{at} side 0"),
                    SideRecord.from_dict(sides[1], f"{at} side 1"),
                ),
                probes=tuple(
                    ProbeRecord.from_dict(p, f"{at} probe {k}")
                    for k, p in enumerate(_field(d, "probes", list, at, True) or ())
                ),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ResultsError):
                raise
            raise ResultsError(f"{at}: malformed ({exc})") from None
