"""Tournament runner: cells, seeds hashed from cells, bounded asyncio concurrency, a durable
append-only game store that resumes without losing or repeating a game."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .agents.base import Player
from .core.analysis import Analysis, analyse
from .core.metrics import GameMetrics
from .core.protocol import MAX_REPAIRS, MAX_TURNS, PROTOCOL_VERSION, GameState
from .core.scenario import Scenario
from .game import TurnLog, play_game


@dataclass(frozen=True)
class Cell:
    """One game: (scenario, the players by role, first mover, repetition).

    SPEC section 5 names a cell (scenario, agent X, opponent Y, X's role, first mover,
    repetition); listing the players by role is the same thing without a privileged side, so
    the game X-vs-Y with X in role 0 is stored once and scored for both X and Y.
    """

    scenario_id: str
    players: tuple[str, str]  # specs by role index
    first_mover: int
    rep: int


def _hash_int(*parts: Any) -> int:
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def cell_seed(task_set: str, cell: Cell, salt: int = 0) -> int:
    """Seed of a cell, from the task set version and the cell's position.

    The players' names are left out on purpose: a player in a given role meets every
    opponent with the same random stream, so comparisons between agents evaluated on the
    same cells are paired (common random numbers).
    """
    return _hash_int(task_set, cell.scenario_id, cell.first_mover, cell.rep, salt)


def agent_seed(seed: int, role: int) -> int:
    return _hash_int(seed, role)


def game_id(task_set: str, cell: Cell, salt: int = 0) -> str:
    key = [task_set, cell.scenario_id, list(cell.players), cell.first_mover, cell.rep, salt]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def plan_cells(scenarios: Iterable[Scenario], pairs: Iterable[tuple[str, str]], reps: int = 1) -> list[Cell]:
    """Every game for the given (X, Y) pairs: X in both roles, both move orders, each scenario.

    A self-pair (X, X) is one game per move order (both roles are X).
    """
    role_orders: list[tuple[str, str]] = []
    seen = set()
    for x, y in pairs:
        for players in ((x, y), (y, x)):
            if players not in seen:
                seen.add(players)
                role_orders.append(players)
    return [
        Cell(s.id, players, first, rep)
        for s in scenarios
        for players in role_orders
        for first in (0, 1)
        for rep in range(reps)
    ]


# --- the store --------------------------------------------------------------------------


class GameStore:
    """Append-only JSONL of finished games, one fsynced line each.

    Opening an existing store reads the games already done; a last line torn by a crash
    mid-write is cut off (and reported), never half-used.
    """

    def __init__(self, path: Path, fsync: bool = True):
        self.path = Path(path)
        self.fsync = fsync
        self.done: set[str] = set()
        self.torn_bytes = 0
        if self.path.exists():
            self._recover()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "a", encoding="utf-8")

    def _recover(self) -> None:
        data = self.path.read_bytes()
        good = 0
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break
            self.done.add(record["game_id"])
            good += len(line)
        if good < len(data):
            self.torn_bytes = len(data) - good
            with open(self.path, "r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())

    def append(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self.done.add(record["game_id"])

    def close(self) -> None:
        self._fh.close()

    def records(self) -> list[dict[str, Any]]:
        return read_games(self.path)


def open_games_text(path: Path):
    """Game records are JSONL, optionally gzipped (``games.jsonl.gz``, as the baselines ship)."""
    import gzip

    return gzip.open(path, "rt", encoding="utf-8") if str(path).endswith(".gz") else open(path, encoding="utf-8")


def read_games(path: Path) -> list[dict[str, Any]]:
    out = []
    with open_games_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg}); was the run interrupted? "
                                 "resume it with --resume to repair the file") from None
    return out


# --- records ------------------------------------------------------------------------------


def game_record(
    *,
    gid: str,
    task_set: str,
    task_hash: str,
    split: str,
    cell: Cell,
    seed: int,
    scenario: Scenario,
    state: GameState,
    logs: list[TurnLog],
    metrics: GameMetrics,
    max_repairs: int,
    salt: int = 0,
) -> dict[str, Any]:
    turns = []
    for log, public in zip(logs, state.history):
        action = None
        if public.action is not None:
            action = {"kind": public.action.kind.value}
            if public.action.offer is not None:
                action["offer"] = list(public.action.offer)
        turns.append({
            "turn": log.turn,
            "role": log.role,
            "message": public.message,
            "action": action,
            "forfeited": log.forfeited,
            "attempts": log.attempts,
        })
    sides = []
    for i, side in enumerate(metrics.sides):
        usage = _sum_usage(a["usage"] for t in turns if t["role"] == i for a in t["attempts"])
        sides.append({**asdict(side), "player": cell.players[i], "role": scenario.roles[i].name, "usage": usage})
    agreement = metrics.agreement
    return {
        "game_id": gid,
        "protocol": PROTOCOL_VERSION,
        "task_set": task_set,
        "task_hash": task_hash,
        "split": split,
        "scenario_id": scenario.id,
        "family": scenario.family,
        "stratum": scenario.stratum,
        "first_mover": cell.first_mover,
        "rep": cell.rep,
        "salt": salt,
        "seed": seed,
        "players": list(cell.players),
        "max_turns": state.max_turns,
        "max_repairs": max_repairs,
        "turns": turns,
        "outcome": {
            "deal": metrics.deal,
            "agreement": list(agreement) if agreement is not None else None,
            "agreement_text": scenario.describe_outcome(agreement) if agreement is not None else None,
            "end": metrics.end,
            "turns": metrics.turns,
            "turns_to_agreement": metrics.turns_to_agreement,
            "welfare": metrics.welfare,
            "pareto_optimal": metrics.pareto_optimal,
            "distance_to_frontier": metrics.distance_to_frontier,
        },
        "sides": sides,
    }


def _sum_usage(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for u in items:
        for k, v in u.items():
            if isinstance(v, (int, float)):  # counts, seconds, cost; a bool (cached) counts calls
                total[k] = total.get(k, 0) + v
    return total


# --- running --------------------------------------------------------------------------------


@dataclass
class RunStats:
    planned: int = 0
    skipped_done: int = 0
    completed: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


ProgressFactory = Callable[[int, int], Any]


async def run_cells(
    cells: list[Cell],
    scenarios: dict[str, Scenario],
    players: dict[str, Player],
    store: GameStore,
    *,
    task_set: str,
    task_hash: str,
    split: str,
    salt: int = 0,
    max_turns: int = MAX_TURNS,
    max_repairs: int = MAX_REPAIRS,
    max_concurrency: int = 32,
    progress: bool = True,
) -> RunStats:
    stats = RunStats(planned=len(cells))
    analyses: dict[str, Analysis] = {}
    todo = []
    for cell in cells:
        gid = game_id(task_set, cell, salt)
        if gid in store.done:
            stats.skipped_done += 1
        else:
            todo.append((gid, cell))
    bar = _progress_bar(len(todo), stats.skipped_done, progress)
    semaphore = asyncio.Semaphore(max_concurrency)
    started = time.perf_counter()

    async def one(gid: str, cell: Cell) -> None:
        async with semaphore:
            scenario = scenarios[cell.scenario_id]
            if scenario.id not in analyses:
                analyses[scenario.id] = analyse(scenario)
            seed = cell_seed(task_set, cell, salt)
            agents = tuple(players[spec].new_agent(r, agent_seed(seed, r)) for r, spec in enumerate(cell.players))
            try:
                state, logs, metrics = await play_game(scenario, analyses[scenario.id], agents,  # type: ignore[arg-type]
                                                       cell.first_mover, max_turns, max_repairs)
            except Exception as exc:  # a backend that failed after its retries: the cell failed
                stats.failed += 1
                stats.failures.append({"game_id": gid, "error": f"{type(exc).__name__}: {exc}"})
                bar.update(1)
                return
            record = game_record(gid=gid, task_set=task_set, task_hash=task_hash, split=split, cell=cell,
                                 seed=seed, scenario=scenario, state=state, logs=logs, metrics=metrics,
                                 max_repairs=max_repairs, salt=salt)
            store.append(record)
            stats.completed += 1
            bar.update(1)

    try:
        await asyncio.gather(*(one(gid, cell) for gid, cell in todo))
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _progress_bar(total: int, already: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="game", desc=f"games ({already} already done)" if already else "games",
                disable=not enabled, file=sys.stderr, dynamic_ncols=True, smoothing=0.05)
