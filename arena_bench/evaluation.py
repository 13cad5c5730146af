"""Runs an evaluation or a tournament end to end: plan cells, play them into the durable store,
recompute every statistic from the stored games, write the results file atomically."""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import __version__
from .aggregate import evaluate, rows_from_records
from .core.metrics import METRICS_VERSION
from .core.protocol import MAX_REPAIRS, MAX_TURNS, PROTOCOL_VERSION
from .core.stats import DEFAULT_B, DEFAULT_SEED
from .players import PANEL_VERSION, make_player, panel
from .runner import GameStore, RunStats, plan_cells, read_games, run_cells
from .storage import write_atomic
from .tasks import open_task_set

RESULTS_SCHEMA_VERSION = "arena-bench-results/1"


class RunError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run; hashed into the run id, recorded in the results."""

    kind: str  # "evaluation" (a model against the panel and itself) or "tournament"
    agents: tuple[str, ...]  # evaluated agents
    tasks: str = "negotiation-v1"
    split: str = "lite"
    panel: str = PANEL_VERSION
    reps: int = 1
    limit: int | None = None  # first N scenarios only: the results are marked partial
    salt: int = 0  # mixed into every cell seed; 0 for official runs
    max_turns: int = MAX_TURNS
    max_repairs: int = MAX_REPAIRS
    self_play: bool = True
    max_concurrency: int = 32
    bootstrap_replicates: int = DEFAULT_B
    bootstrap_seed: int = DEFAULT_SEED
    opponents: tuple[str, ...] | None = None  # a subset of the panel: the results are marked partial
    player_options: dict[str, Any] = field(default_factory=dict)  # per spec: generation settings, api_base
    runtime_options: dict[str, Any] = field(default_factory=dict)  # per spec: connections, cache (not identity)

    @property
    def partial(self) -> bool:
        return self.limit is not None or self.opponents is not None

    def identity(self) -> dict[str, Any]:
        """The settings that decide which games are played and how (not how fast)."""
        d = asdict(self)
        d.pop("runtime_options")
        d.pop("max_concurrency")
        d.pop("bootstrap_replicates")
        d.pop("bootstrap_seed")
        return d


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "run"


def git_hash() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if out.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    import numpy
    import pandas
    import scipy

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {"arena-bench": __version__, "numpy": numpy.__version__, "scipy": scipy.__version__,
                     "pandas": pandas.__version__},
    }


def plan(config: RunConfig):
    ts = open_task_set(config.tasks)
    scenarios = ts.load(config.split)
    if config.limit is not None:
        if config.limit < 1:
            raise RunError(f"--limit must be at least 1, got {config.limit}")
        scenarios = scenarios[: config.limit]
    if config.kind == "evaluation":
        (model,) = config.agents
        members = list(panel(config.panel))
        if config.opponents is not None:
            unknown = [o for o in config.opponents if o not in members]
            if unknown:
                raise RunError(f"--opponents {unknown} are not in {config.panel}: {', '.join(members)}")
            members = list(config.opponents)
        opponents = members + ([model] if config.self_play else [])
        pairs = [(model, y) for y in opponents]
    else:
        agents = list(config.agents)
        pairs = [(x, y) for i, x in enumerate(agents) for y in agents[i + 1:]]
        if config.self_play:
            pairs += [(x, x) for x in agents]
    cells = plan_cells(scenarios, pairs, config.reps)
    specs = sorted({s for c in cells for s in c.players})
    return ts, scenarios, cells, specs


def run_dir_for(config: RunConfig, output_path: Path, task_hash: str) -> Path:
    digest = hashlib.sha256(json.dumps([config.identity(), task_hash], sort_keys=True, default=str).encode()).hexdigest()
    name = config.agents[0] if config.kind == "evaluation" else "tournament"
    return Path(output_path) / slug(name) / f"{config.split}-{digest[:12]}"


def run(config: RunConfig, output_path: Path, resume: bool = False, progress: bool = True) -> Path:
    ts, scenarios, cells, specs = plan(config)
    run_dir = run_dir_for(config, output_path, ts.hash)
    games_path = run_dir / "games.jsonl"
    if games_path.exists() and not resume:
        raise RunError(f"{run_dir} already holds a run with these settings; pass --resume to continue it "
                       "(finished games are kept) or delete the folder to start over")
    # made before anything is written, so a bad name or a missing package leaves no trace
    players = {s: make_player(s, {**config.player_options.get(s, {}), **config.runtime_options.get(s, {})})
               for s in specs}
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "config.json", json.dumps(config.identity(), indent=2, default=str) + "\n")
    store = GameStore(games_path)
    if store.torn_bytes:
        print(f"note: cut {store.torn_bytes} bytes of a game record torn by the interruption; that game is replayed",
              file=sys.stderr)
    try:
        stats = asyncio.run(run_cells(
            cells, {s.id: s for s in scenarios}, players, store,
            task_set=ts.full_name, task_hash=ts.hash, split=config.split, salt=config.salt,
            max_turns=config.max_turns, max_repairs=config.max_repairs,
            max_concurrency=config.max_concurrency, progress=progress,
        ))
    finally:
        store.close()
        for p in players.values():
            close = getattr(p, "close", None)
            if close:
                close()
    write_results(config, ts, run_dir, stats, players)
    return run_dir


def write_results(config: RunConfig, ts, run_dir: Path, stats: RunStats, players: dict[str, Any]) -> dict[str, Any]:
    records = read_games(run_dir / "games.jsonl")
    planned = stats.planned
    results: dict[str, Any] = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "arena_bench_version": __version__,
        "git_hash": git_hash(),
        "protocol_version": PROTOCOL_VERSION,
        "metrics_version": METRICS_VERSION,
        "task_set": {"name": ts.full_name, "hash": ts.hash, "split": config.split,
                     "scenarios_in_split": ts.manifest["splits"][config.split]},
        "panel_version": config.panel,
        "partial": config.partial,
        "config": config.identity(),
        "players": {spec: p.describe() for spec, p in players.items()},
        "seeds": {"cell_seed": "sha256(task_set, scenario, first_mover, rep, salt)", "salt": config.salt,
                  "bootstrap_seed": config.bootstrap_seed},
        "counts": {"planned": planned, "completed": len(records), "failed": stats.failed,
                   "failures": stats.failures[:50], "played_this_session": stats.completed,
                   "resumed_from_store": stats.skipped_done, "seconds_this_session": round(stats.seconds, 3)},
        "games_file": "games.jsonl",
        "environment": environment(),
    }
    if records:
        rows = rows_from_records(records)
        agents = list(config.agents) if config.kind == "evaluation" else sorted(rows["agent"].unique())
        results["statistics"] = evaluate(rows, agents, b=config.bootstrap_replicates, seed=config.bootstrap_seed)
        if config.kind == "evaluation":
            # the opponents' side of the same games, so a scorecard can show how the panel fared
            results["statistics_opponents"] = evaluate(rows[rows["agent"] != config.agents[0]], None,
                                                       b=config.bootstrap_replicates, seed=config.bootstrap_seed)
    write_atomic(run_dir / "results.json", json.dumps(results, indent=2, default=str) + "\n")
    return results


def load_results(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A results file (or the run folder holding one) and its game records."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise RunError(f"{path}: no results file here; pass a run folder or its results.json")
    try:
        results = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    games = path.parent / results.get("games_file", "games.jsonl")
    if not games.is_file():
        raise RunError(f"{games}: the per-game records of {path} are missing")
    return results, read_games(games)
