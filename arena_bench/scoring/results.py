"""The results spine: a run's settings, its typed results file and its game records.

Everything that reads runs (the scorecard, reports, the leaderboard, verification, submission,
power, ``show-game``, the trainer) goes through :func:`load_run` and reads these types. A run
folder holds ``config.json`` (the identity), ``games.jsonl`` (one :class:`GameRecord` a line,
appended durably by the runner) and ``results.json`` (:class:`RunResults`, written atomically
after checking it against the shipped schema).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import RunConfig
from ..core.metrics import METRICS
from ..core.records import GameRecord
from ..errors import ResultsError
from ..storage import json_lines, write_atomic

RESULTS_SCHEMA_VERSION = "arena-bench-results/1"

# --- statistics ------------------------------------------------------------------------------


def _clean(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and x != x) else round(float(x), 6)


@dataclass(frozen=True)
class Estimate:
    """A mean with its 95% interval (None when it cannot be computed), over ``n`` games."""

    mean: float | None
    lo: float | None
    hi: float | None
    se: float | None
    n: int
    scenarios: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "lo": self.lo,
            "hi": self.hi,
            "se": self.se,
            "n": self.n,
            "scenarios": self.scenarios,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        return cls(
            d.get("mean"),
            d.get("lo"),
            d.get("hi"),
            d.get("se"),
            int(d.get("n", 0)),
            int(d.get("scenarios", 0)),
        )

    @classmethod
    def of(cls, e: Any) -> Estimate:
        """From ``core.stats.Estimate`` (NaN becomes None, six decimals)."""
        return cls(_clean(e.mean), _clean(e.lo), _clean(e.hi), _clean(e.se), int(e.n), int(e.clusters))


@dataclass(frozen=True)
class AgentStats:
    metrics: dict[str, Estimate]
    games: int
    rank: int
    rank_interval: tuple[int, int]

    def __getitem__(self, key: str) -> Estimate:
        return self.metrics[key]

    def get(self, key: str) -> Estimate | None:
        return self.metrics.get(key)

    def to_dict(self) -> dict[str, Any]:
        return {
            **{k: e.to_dict() for k, e in self.metrics.items()},
            "games": self.games,
            "rank": self.rank,
            "rank_interval": list(self.rank_interval),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgentStats:
        metrics = {k: Estimate.from_dict(v) for k, v in d.items() if isinstance(v, dict)}
        lo, hi = d["rank_interval"]
        return cls(metrics, int(d["games"]), int(d["rank"]), (int(lo), int(hi)))


@dataclass(frozen=True)
class Pair:
    """A paired comparison A - B on the cells both played, with Holm-adjusted p."""

    a: str
    b: str
    metric: str
    diff: float | None
    lo: float | None
    hi: float | None
    se: float | None
    cells: int
    scenarios: int
    p: float
    p_holm: float

    def oriented(self, first: str) -> tuple[float | None, float | None, float | None]:
        """(difference, lo, hi) as ``first`` minus the other."""
        if first == self.a:
            return self.diff, self.lo, self.hi
        neg = lambda x: None if x is None else -x  # noqa: E731
        return neg(self.diff), neg(self.hi), neg(self.lo)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Pair:
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class PowerSummary:
    basis: str
    scenarios: int
    se: float
    design_effect: float
    mde: float
    alpha: float
    power: float

    def scenarios_needed(self, effect: float) -> int:
        import math

        return int(math.ceil(self.scenarios * (self.mde / effect) ** 2))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PowerSummary:
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})


Breakdown = dict[str, dict[str, Estimate]]


@dataclass(frozen=True)
class Statistics:
    """Every statistic of SPEC section 6 for a set of agents (``aggregate.evaluate``)."""

    settings: dict[str, Any]
    scenarios: int
    agents: dict[str, AgentStats]
    pairs: list[Pair]
    crossplay: Breakdown
    by_stratum: Breakdown
    by_family: Breakdown
    power: PowerSummary

    def ranked(self) -> list[str]:
        return sorted(self.agents, key=lambda a: (self.agents[a].rank, a))

    def to_dict(self) -> dict[str, Any]:
        def table(b: Breakdown) -> dict[str, Any]:
            return {k: {o: e.to_dict() for o, e in v.items()} for k, v in b.items()}

        return {
            "settings": self.settings,
            "scenarios": self.scenarios,
            "agents": {a: s.to_dict() for a, s in self.agents.items()},
            "pairs": [p.to_dict() for p in self.pairs],
            "crossplay": table(self.crossplay),
            "by_stratum": table(self.by_stratum),
            "by_family": table(self.by_family),
            "power": self.power.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Statistics:
        def table(b: dict[str, Any]) -> Breakdown:
            return {k: {o: Estimate.from_dict(e) for o, e in v.items()} for k, v in b.items()}

        return cls(
            d["settings"],
            int(d["scenarios"]),
            {a: AgentStats.from_dict(s) for a, s in d["agents"].items()},
            [Pair.from_dict(p) for p in d["pairs"]],
            table(d["crossplay"]),
            table(d["by_stratum"]),
            table(d["by_family"]),
            PowerSummary.from_dict(d["power"]),
        )


# --- the results file ------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSetRef:
    name: str
    hash: str
    split: str
    scenarios_in_split: int


@dataclass
class Counts:
    planned: int
    completed: int
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    played_this_session: int = 0
    resumed_from_store: int = 0
    seconds_this_session: float = 0.0
    engine: str | None = None  # what played this session's games: "array" or "reference" (same records)
    # over every session that wrote this run's games (a resumed run adds its sessions to the last file's)
    # (None in files written before these were recorded)
    sessions: int | None = None
    seconds_all_sessions: float | None = None


def usage_by_player(records: Iterable[GameRecord]) -> dict[str, dict[str, Any]]:
    """What each model player's calls took, over the games stored: games, calls (``replayed_calls``
    of them answered from a cache or an earlier answer, at no cost), tokens, prompt tokens served
    from the provider's cache, refused requests, and dollars in all and per game (None where a call
    had no known price, never a silent zero). Players that made no calls (the scripted panel) are
    left out; a self-play game counts once."""
    out: dict[str, dict[str, Any]] = {}
    games: dict[str, set[str]] = {}
    for r in records:
        for i, side in enumerate(r.sides):
            u = side.usage
            if "tokens_in" not in u and "refused_calls" not in u:
                continue
            row = out.setdefault(
                r.players[i],
                {"games": 0, "calls": 0, "replayed_calls": 0, "tokens_in": 0, "tokens_out": 0,
                 "cached_tokens": 0, "refused_calls": 0, "cost_usd": 0.0, "unpriced": 0},
            )  # fmt: skip
            games.setdefault(r.players[i], set()).add(r.game_id)
            attempts = [a for t in r.turns if t.role == i for a in t.attempts]
            row["calls"] += len(attempts)
            row["replayed_calls"] += int(u.get("cached_calls", 0))
            for key in ("tokens_in", "tokens_out", "cached_tokens", "refused_calls"):
                row[key] += int(u.get(key, 0))
            row["cost_usd"] += float(u.get("cost_usd", 0.0))
            row["unpriced"] += sum(
                1 for a in attempts if "cost_usd" not in a.usage and not a.usage.get("refused")
            )
    for r in records:  # belief probes (--probe) are not part of the game: priced on their own
        for p in r.probes:
            row = out.get(r.players[p.side])
            if row is None or not p.usage:
                continue
            row["probe_calls"] = row.get("probe_calls", 0) + 1
            row["probe_tokens_in"] = row.get("probe_tokens_in", 0) + int(p.usage.get("tokens_in", 0))
            if "cost_usd" in p.usage:
                row["probe_cost_usd"] = round(row.get("probe_cost_usd", 0.0) + float(p.usage["cost_usd"]), 6)
    for player, row in out.items():
        row["games"] = len(games[player])
        unpriced = row.pop("unpriced") > 0
        row["cost_usd"] = None if unpriced else round(row["cost_usd"], 6)
        row["cost_per_game_usd"] = None if unpriced else round(row["cost_usd"] / row["games"], 6)
    return out


@dataclass
class RunResults:
    created_at: str
    arena_bench_version: str
    git_hash: str | None
    protocol_version: str
    metrics_version: str
    task_set: TaskSetRef
    panel_version: str
    partial: bool
    config: RunConfig
    players: dict[str, Any]
    seeds: dict[str, Any]
    counts: Counts
    environment: dict[str, Any]
    games_file: str = "games.jsonl"
    statistics: Statistics | None = None
    statistics_opponents: Statistics | None = None  # the panel's side of an evaluation's games
    schema_version: str = RESULTS_SCHEMA_VERSION
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)  # per model player: see usage_by_player
    # per agent: arena_bench.scoring.diagnose's estimates (an Estimate, or one per probe time for probe_by_turn)
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def model(self) -> str:
        """The evaluated model, or ``tournament``."""
        return self.config.label

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": self.schema_version,
            "created_at": self.created_at,
            "arena_bench_version": self.arena_bench_version,
            "git_hash": self.git_hash,
            "protocol_version": self.protocol_version,
            "metrics_version": self.metrics_version,
            "task_set": asdict(self.task_set),
            "panel_version": self.panel_version,
            "partial": self.partial,
            "config": self.config.identity(),
            "players": self.players,
            "seeds": self.seeds,
            "counts": asdict(self.counts),
            "games_file": self.games_file,
            "environment": self.environment,
        }
        if self.statistics is not None:
            out["statistics"] = self.statistics.to_dict()
        if self.statistics_opponents is not None:
            out["statistics_opponents"] = self.statistics_opponents.to_dict()
        if self.usage:
            out["usage"] = self.usage
        if self.diagnostics:
            out["diagnostics"] = {
                agent: {
                    k: v.to_dict() if isinstance(v, Estimate) else {t: e.to_dict() for t, e in v.items()}
                    for k, v in found.items()
                }
                for agent, found in self.diagnostics.items()
            }
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "results.json") -> RunResults:
        problems = schema_problems(d)
        if problems:
            raise ResultsError(
                f"{where}: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
                + "; check it with `arena-bench validate-results`"
            )
        st, opp = d.get("statistics"), d.get("statistics_opponents")
        try:
            return cls(
                created_at=d.get("created_at", ""),
                arena_bench_version=d["arena_bench_version"],
                git_hash=d.get("git_hash"),
                protocol_version=d["protocol_version"],
                metrics_version=d["metrics_version"],
                task_set=TaskSetRef(**d["task_set"]),
                panel_version=d["panel_version"],
                partial=bool(d["partial"]),
                config=RunConfig.from_dict(d["config"], f"{where}: config"),
                players=d["players"],
                seeds=d["seeds"],
                counts=Counts(**d["counts"]),
                environment=d["environment"],
                games_file=d["games_file"],
                statistics=Statistics.from_dict(st) if st else None,
                statistics_opponents=Statistics.from_dict(opp) if opp else None,
                schema_version=d["schema_version"],
                usage=d.get("usage") or {},
                diagnostics={
                    agent: {
                        k: Estimate.from_dict(v)
                        if "mean" in v
                        else {t: Estimate.from_dict(e) for t, e in v.items()}
                        for k, v in found.items()
                    }
                    for agent, found in (d.get("diagnostics") or {}).items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, ResultsError):
                raise
            raise ResultsError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None

    def save(self, run_dir: Path) -> Path:
        text = self.to_json()
        problems = schema_problems(json.loads(text))  # the file as written: tuples are arrays there
        if problems:  # a bug, not bad input: refuse to write a file the leaderboard would refuse
            raise ResultsError(f"refusing to write results that break the schema: {problems[0]}")
        path = Path(run_dir) / "results.json"
        write_atomic(path, text)
        return path


# --- schemas -----------------------------------------------------------------------------------


def load_schema(name: str) -> dict[str, Any]:
    """A shipped JSON Schema; the results schema's statistics part is generated from ``METRICS``."""
    from importlib import resources

    schema = json.loads(resources.files("arena_bench").joinpath(f"schemas/{name}.schema.json").read_text())
    if name == "results":
        schema["properties"]["statistics"] = statistics_schema()
        schema["properties"]["statistics_opponents"] = statistics_schema()
    return schema


def statistics_schema() -> dict[str, Any]:
    number = {"type": ["number", "null"]}
    estimate = {
        "type": "object",
        "required": ["mean", "lo", "hi", "n"],
        "properties": {
            "mean": number,
            "lo": number,
            "hi": number,
            "se": number,
            "n": {"type": "integer", "minimum": 0},
            "scenarios": {"type": "integer", "minimum": 0},
        },
    }
    agent = {
        "type": "object",
        "required": ["games", "rank", "rank_interval", "arena_score"],
        "properties": {
            **{m.key: {**estimate, "description": m.definition} for m in METRICS},
            "games": {"type": "integer", "minimum": 0},
            "rank": {"type": "integer", "minimum": 1},
            "rank_interval": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        },
    }
    return {
        "type": "object",
        "required": ["settings", "scenarios", "agents", "pairs", "power"],
        "properties": {"agents": {"type": "object", "additionalProperties": agent}},
    }


_VALIDATORS: dict[str, Any] = {}


def validator(name: str):
    if name not in _VALIDATORS:
        import jsonschema

        _VALIDATORS[name] = jsonschema.Draft202012Validator(load_schema(name))
    return _VALIDATORS[name]


def _where(error) -> str:
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def schema_problems(data: Any, name: str = "results") -> list[str]:
    return [f"{_where(e)}: {e.message}" for e in validator(name).iter_errors(data)]


# --- reading runs ------------------------------------------------------------------------------


def open_games_text(path: Path):
    """Game records are JSONL, optionally gzipped (``games.jsonl.gz``, as the baselines ship)."""
    return (
        gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path, encoding="utf-8")
    )


# Bounds on what a results folder may make the reader hold: one game line, a whole games file once
# decompressed (a small .gz can expand to gigabytes), and the results file itself.
MAX_GAME_LINE_BYTES = 4 << 20
MAX_GAMES_BYTES = 4 << 30
MAX_RESULTS_BYTES = 64 << 20


def read_games(path: Path, max_games: int | None = None) -> list[GameRecord]:
    """The game records of one file; at most ``max_games`` of them (a run's planned cells)."""
    hint = "; was the run interrupted? resume it with --resume, which sets the damaged line aside"
    lines = json_lines(
        path,
        ResultsError,
        hint,
        max_line_bytes=MAX_GAME_LINE_BYTES,
        max_total_bytes=MAX_GAMES_BYTES,
        max_lines=max_games,
    )
    return [GameRecord.from_dict(data, f"{path}:{lineno}") for lineno, data in lines]


@dataclass(repr=False)
class Run:
    """A run as stored: where, its results and its games."""

    path: Path
    results: RunResults
    games: list[GameRecord]

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self.games)} games)"

    @property
    def config(self) -> RunConfig:
        return self.results.config

    def find_game(self, prefix: str) -> GameRecord:
        """The one game whose id starts with ``prefix`` ("did you mean" otherwise)."""
        matches = [g for g in self.games if g.game_id.startswith(prefix)]
        if len(matches) == 1:
            return matches[0]
        import difflib

        hint = difflib.get_close_matches(prefix, [g.game_id for g in self.games], n=1)
        raise ResultsError(
            f"{len(matches)} games of {self.path} match {prefix!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + " (game ids are in games.jsonl)"
        )

    def evaluated_agents(self) -> list[str]:
        """An evaluation's model; every player of a tournament."""
        return self.config.evaluated_agents(p for g in self.games for p in g.players)


def results_path(path: Path) -> Path:
    path = Path(path)
    results = path / "results.json" if path.is_dir() else path
    if not results.is_file():
        raise ResultsError(f"{results}: no results file here; pass a run folder or its results.json")
    return results


def read_results(path: Path) -> RunResults:
    path = results_path(path)
    try:
        if path.stat().st_size > MAX_RESULTS_BYTES:
            raise ResultsError(
                f"{path}: larger than {MAX_RESULTS_BYTES >> 20} MiB; a results file is far smaller"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return RunResults.from_dict(data, str(path))
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read ({exc})") from None
    except RecursionError:
        raise ResultsError(f"{path}: nested too deep to be a results file") from None


def games_path(path: Path, results: RunResults) -> Path:
    return results_path(path).parent / results.games_file


def load_run(path: Path, max_games: int | None = None) -> Run:
    """A results file (or the run folder holding one) and its game records, read once."""
    results = read_results(path)
    games = games_path(path, results)
    if not games.is_file():
        raise ResultsError(f"{games}: the per-game records of {results_path(path)} are missing")
    return Run(results_path(path).parent, results, read_games(games, max_games))
