"""A run's settings (:class:`RunConfig`): every choice that decides which games are played and how,
hashed into the run's id and recorded in its results. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .core.protocol import MAX_REPAIRS, MAX_TURNS
from .core.stats import DEFAULT_B, DEFAULT_SEED
from .errors import ResultsError
from .versions import DEFAULT_TASK_SET, PANEL_VERSION

DEFAULT_CONCURRENCY = 32  # games in flight unless --max-concurrency (or a larger --max-connections) says


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run; hashed into the run id, recorded in the results."""

    kind: str  # "evaluation" (a model against the panel and itself) or "tournament"
    agents: tuple[str, ...]  # evaluated agents
    tasks: str = DEFAULT_TASK_SET
    split: str = "lite"
    panel: str = PANEL_VERSION
    reps: int = 1
    limit: int | None = None  # first N scenarios only: the results are marked partial
    salt: int = 0  # mixed into every cell seed; 0 for official runs
    max_turns: int = MAX_TURNS
    max_repairs: int = MAX_REPAIRS
    self_play: bool = True
    max_concurrency: int = DEFAULT_CONCURRENCY
    bootstrap_replicates: int = DEFAULT_B
    bootstrap_seed: int = DEFAULT_SEED
    opponents: tuple[str, ...] | None = None  # a subset of the panel: the results are marked partial
    messages: str = "on"  # "off": each side sees actions and offers only (the offers-only ablation)
    probe: bool = False  # belief probes in a side channel (diagnostics)
    player_options: dict[str, Any] = field(default_factory=dict)  # per spec: generation settings, api_base
    runtime_options: dict[str, Any] = field(
        default_factory=dict
    )  # per spec: connections, cache (not identity)
    engine: str = "auto"  # array or reference loop: the same records, so not identity

    @property
    def partial(self) -> bool:
        return self.limit is not None or self.opponents is not None

    @property
    def label(self) -> str:
        """The evaluated model, or ``tournament``: what names the run's folder and submission."""
        return self.agents[0] if self.kind == "evaluation" else "tournament"

    def evaluated_agents(self, players: Iterable[str]) -> list[str]:
        """An evaluation's model; every player of a tournament (from the players of its games)."""
        return list(self.agents) if self.kind == "evaluation" else sorted(set(players))

    def identity(self) -> dict[str, Any]:
        """The settings that decide which games are played and how (not how fast)."""
        d = asdict(self)
        for speed_only in (
            "runtime_options",
            "max_concurrency",
            "bootstrap_replicates",
            "bootstrap_seed",
            "engine",
        ):
            d.pop(speed_only)
        # settings added after runs were published: absent at their default, so those runs keep their ids
        for key, default in (("messages", "on"), ("probe", False)):
            if d[key] == default:
                d.pop(key)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> RunConfig:
        """From a recorded identity (``results.json``'s ``config`` or ``config.json``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ResultsError(f"{where}: unknown setting(s) {unknown}")
        for key in ("kind", "agents"):
            if key not in d:
                raise ResultsError(f"{where}: field {key!r} is missing")
        values = dict(d)
        values["agents"] = tuple(values["agents"])
        if values.get("opponents") is not None:
            values["opponents"] = tuple(values["opponents"])
        return cls(**values)
