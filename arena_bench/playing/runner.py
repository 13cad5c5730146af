"""Tournament runner: cells, seeds hashed from cells, bounded asyncio concurrency, a durable
append-only game store that resumes without losing or repeating a game."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..agents.base import Player
from ..core.analysis import Analysis, analyse
from ..core.metrics import GameMetrics
from ..core.protocol import MAX_REPAIRS, MAX_TURNS, PROTOCOL_VERSION, GameState
from ..core.records import (
    ActionRecord,
    Attempt,
    GameRecord,
    OutcomeRecord,
    ProbeRecord,
    SideRecord,
    TurnRecord,
)
from ..core.scenario import Scenario
from ..errors import ResultsError, RunError, StopRun, StoreLost
from ..planning import Cell, Plan, agent_seed, cell_seed, game_id
from ..storage import append_line_durably, write_atomic
from .game import TurnLog, play_game

# --- the store --------------------------------------------------------------------------


class GameStore:
    """Append-only JSONL of finished games, one fsynced line each, held in memory too.

    Opening an existing store reads it once. A line that is not a valid record (a last line
    torn by a crash, a line damaged anywhere) or that repeats a game already stored is moved
    to ``games.rejected.jsonl`` with the reason, and the file is rewritten atomically without
    it: only those cells are played again. A lock file keeps a second process out.
    """

    def __init__(self, path: Path, fsync: bool = True, lock: bool = True):
        self.path = Path(path)
        self.fsync = fsync
        self.records: list[GameRecord] = []
        self.done: set[str] = set()
        self.rejected: list[str] = []  # one reason per line moved out
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = RunLock(self.path.parent / ".lock") if lock else None
        if self.path.exists():
            self._recover()
        self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the store
        self._size = os.fstat(self._fh.fileno()).st_size  # what this store has written, to the byte

    def _check_file(self) -> None:
        """The file at the store's path must still be the one it opened, at the size it wrote: a
        file replaced (``sed -i``, an editor) or truncated under a running run would silently lose
        every game appended after it."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        mine = os.fstat(self._fh.fileno())
        if st is None or (st.st_dev, st.st_ino) != (mine.st_dev, mine.st_ino) or st.st_size != self._size:
            what = (
                "removed"
                if st is None
                else "replaced or changed"
                if st.st_ino != mine.st_ino
                else "truncated or appended to"
            )
            raise StoreLost(
                f"{self.path} was {what} by something else while this run was writing it; the run stops "
                f"so that no game is lost ({len(self.records)} games written this far). Check the file, then "
                "continue with --resume"
            )

    def _write(self, text: str) -> None:
        self._check_file()
        try:
            self._fh.write(text)
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            # ENOSPC, EDQUOT, EIO: what reached the disk is whole lines plus at most one torn line,
            # which --resume sets aside
            raise StoreLost(
                f"cannot write {self.path} ({os.strerror(exc.errno) if exc.errno else exc}); the run stops "
                f"with {len(self.records)} games stored: free space (or fix the disk), then --resume"
            ) from None
        self._size += len(text.encode("utf-8"))

    def _recover(self) -> None:
        data = self.path.read_bytes()
        kept: list[bytes] = []
        rejected: list[str] = []
        for lineno, line in enumerate(data.splitlines(keepends=True), 1):
            if not line.strip():
                continue
            reason = None
            if not line.endswith(b"\n"):
                reason = "torn last line (the run was interrupted while writing it)"
            else:
                try:
                    record = GameRecord.from_dict(json.loads(line), f"line {lineno}")
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    reason = f"not valid JSON ({exc})"
                except RecursionError:
                    reason = "nested too deep to be a record"
                except ResultsError as exc:
                    reason = str(exc)
                else:
                    if record.game_id in self.done:
                        reason = f"game {record.game_id} is already stored on an earlier line"
            if reason is not None:
                text = line.decode("utf-8", errors="replace").rstrip("\n")
                rejected.append(
                    json.dumps({"line": lineno, "reason": reason, "text": text}, ensure_ascii=False)
                )
                self.rejected.append(f"{self.path}:{lineno}: {reason}")
                continue
            self.records.append(record)
            self.done.add(record.game_id)
            kept.append(line)
        if rejected:
            for line in rejected:  # first keep what is moved out, then drop it from the store
                append_line_durably(self.path.with_name("games.rejected.jsonl"), line)
            write_atomic(self.path, b"".join(kept))

    def append(self, record: GameRecord) -> None:
        self._write(json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")
        self.records.append(record)
        self.done.add(record.game_id)

    def append_many(self, records: list[GameRecord], lines: list[str] | None = None) -> None:
        """Several finished games, one write and one fsync: the array engine finishes games by the
        thousand. ``lines``: the records' JSON lines where the caller has them already (each must
        equal what :meth:`append` writes). A crash mid-write leaves whole lines plus at most one torn
        line, which reopening moves out (only those games are played again)."""
        if not records:
            return
        if lines is None:
            lines = [json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":")) for r in records]
        self._write("".join(line + "\n" for line in lines))
        for r in records:
            self.records.append(r)
            self.done.add(r.game_id)

    def close(self) -> None:
        self._fh.close()
        if self._lock is not None:
            self._lock.release()


class RunLock:
    """An exclusive lock on a run folder for the life of a run (``fcntl.flock``: released by the
    kernel if the process dies). The file holds the owner's pid, for the error message."""

    def __init__(self, path: Path):
        import fcntl

        self.path = path
        while True:
            self._fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the life of the run
            try:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._fh.seek(0)
                holder = self._fh.read().strip() or "unknown"
                self._fh.close()
                raise RunError(
                    f"{path.parent} is in use by another arena-bench process (pid {holder}); "
                    "wait for it to finish or stop it, then resume"
                ) from None
            try:  # the finished owner removes the file: a lock on a removed file locks nothing
                same = os.stat(path).st_ino == os.fstat(self._fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            self._fh.close()
        self._fh.seek(0)
        self._fh.truncate()
        self._fh.write(str(os.getpid()))
        self._fh.flush()

    def release(self) -> None:
        """Remove the lock file while still holding it (a finished run folder keeps no ``.lock``)."""
        import fcntl

        if not self._fh.closed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()


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
    probes: list[dict[str, Any]] | None = None,
) -> GameRecord:
    turns = []
    for log, public in zip(logs, state.history):
        action = None
        if public.action is not None:
            offer = tuple(public.action.offer) if public.action.offer is not None else None
            action = ActionRecord(public.action.kind.value, offer)
        turns.append(
            TurnRecord(
                log.turn,
                log.role,
                public.message,
                action,
                log.forfeited,
                tuple(Attempt.from_dict(a) for a in log.attempts),
            )
        )
    sides = []
    for i, side in enumerate(metrics.sides):
        usage = _sum_usage(a.usage for t in turns if t.role == i for a in t.attempts)
        sides.append(
            SideRecord(**asdict(side), player=cell.players[i], role=scenario.roles[i].name, usage=usage)
        )
    agreement = metrics.agreement
    outcome = OutcomeRecord(
        deal=metrics.deal,
        agreement=tuple(agreement) if agreement is not None else None,
        agreement_text=scenario.describe_outcome(agreement) if agreement is not None else None,
        end=metrics.end,
        turns=metrics.turns,
        turns_to_agreement=metrics.turns_to_agreement,
        welfare=metrics.welfare,
        pareto_optimal=metrics.pareto_optimal,
        distance_to_frontier=metrics.distance_to_frontier,
    )
    return GameRecord(
        gid,
        PROTOCOL_VERSION,
        task_set,
        task_hash,
        split,
        scenario.id,
        scenario.family,
        scenario.stratum,
        cell.first_mover,
        cell.rep,
        salt,
        seed,
        tuple(cell.players),
        state.max_turns,
        max_repairs,
        tuple(turns),
        outcome,
        (sides[0], sides[1]),
        tuple(ProbeRecord.from_dict(p) for p in probes or ()),
    )


def _sum_usage(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A side's usage over its calls: numbers add up; a per-call flag (``cached``) becomes a count
    of calls under its own name (``cached_calls``), so no field changes type between the two levels."""
    total: dict[str, Any] = {}
    for u in items:
        for k, v in u.items():
            if isinstance(v, bool):
                total[f"{k}_calls"] = total.get(f"{k}_calls", 0) + int(v)
            elif isinstance(v, (int, float)) and k != "batch_size":  # a batch size does not add up
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
    stopped: str | None = None  # why the run stopped before playing every cell (a signal, a dead backend)
    engine: str = "reference"  # the array engine or the reference loop
    stop_error: BaseException | None = None  # the StopRun behind ``stopped``, when one was raised


ProgressFactory = Callable[[int, int], Any]


async def run_plan(
    plan: Plan, players: dict[str, Player], store: GameStore, progress: bool = True
) -> RunStats:
    """Play every game of PLAN not already in ``store``, with the plan's own settings (the only way a
    run's settings reach the runner: nothing is copied out of the config on the way)."""
    config = plan.config
    return await run_cells(
        plan.cells,
        {s.id: s for s in plan.scenarios},
        players,
        store,
        task_set=plan.task_set.full_name,
        task_hash=plan.task_set.hash,
        split=config.split,
        salt=config.salt,
        max_turns=config.max_turns,
        max_repairs=config.max_repairs,
        max_concurrency=config.max_concurrency,
        progress=progress,
        messages=config.messages == "on",
        probe=config.probe,
        engine=config.engine,
    )


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
    messages: bool = True,
    probe: bool = False,
    engine: str = "auto",
) -> RunStats:
    """Play every cell not already in ``store``. ``engine``: ``reference`` (the async game loop,
    the definition), ``array`` (:mod:`arena_bench.arrays`, same records, for players that have an
    array form), or ``auto`` (array when every player has one and no probes are asked)."""
    if choose_engine(engine, sorted({p for c in cells for p in c.players}), probe) == "array":
        return run_cells_array(
            cells,
            scenarios,
            store,
            task_set=task_set,
            task_hash=task_hash,
            split=split,
            salt=salt,
            max_turns=max_turns,
            max_repairs=max_repairs,
            progress=progress,
        )
    stats = RunStats(planned=len(cells))
    analyses: dict[str, Analysis] = {}
    todo = _not_stored(cells, store, task_set, salt, stats)
    bar = _progress_bar(len(todo), stats.skipped_done, progress)
    semaphore = asyncio.Semaphore(max_concurrency)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="game-store")

    async def one(gid: str, cell: Cell) -> None:
        async with semaphore:
            scenario = scenarios[cell.scenario_id]
            if scenario.id not in analyses:
                analyses[scenario.id] = analyse(scenario)
            seed = cell_seed(task_set, cell, salt)
            agents = tuple(
                players[spec].new_agent(r, agent_seed(seed, r)) for r, spec in enumerate(cell.players)
            )
            probes: list[dict[str, Any]] | None = [] if probe else None
            try:
                state, logs, metrics = await play_game(
                    scenario,
                    analyses[scenario.id],
                    agents,  # type: ignore[arg-type]
                    cell.first_mover,
                    max_turns,
                    max_repairs,
                    messages=messages,
                    probes=probes,
                )
            except StopRun as exc:  # a dead backend or a spent budget: stop every game, not just this one
                stop(str(exc), exc)
                return
            except Exception as exc:  # a backend that failed after its retries: the cell failed
                stats.failed += 1
                stats.failures.append({"game_id": gid, "error": f"{type(exc).__name__}: {exc}"})
                bar.update(1)
                return
            finally:
                for agent in agents:  # agents in their own process end with the game
                    aclose = getattr(agent, "aclose", None)
                    if aclose is not None:
                        await aclose()
            record = game_record(
                gid=gid,
                task_set=task_set,
                task_hash=task_hash,
                split=split,
                cell=cell,
                seed=seed,
                scenario=scenario,
                state=state,
                logs=logs,
                metrics=metrics,
                max_repairs=max_repairs,
                salt=salt,
                probes=probes,
            )
            # one writer thread appends and fsyncs in finishing order; the event loop keeps sending
            # requests meanwhile (an fsync blocks for about a millisecond, every game)
            try:
                await loop.run_in_executor(writer, store.append, record)
            except StoreLost as exc:
                stop(str(exc), exc)
                return
            stats.completed += 1
            bar.update(1)

    tasks = [asyncio.ensure_future(one(gid, cell)) for gid, cell in todo]

    def stop(reason: str, error: BaseException | None = None) -> None:
        # once: a second cancel would interrupt the games' own clean-up (closing agent processes)
        if stats.stopped is not None:
            return
        stats.stopped = reason
        stats.stop_error = error
        for task in tasks:
            task.cancel()

    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:  # Ctrl-C or SIGTERM: stop within seconds; every finished game is already stored
            loop.add_signal_handler(sig, stop, f"stopped by {sig.name}")
            handled.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no such signal here
            pass
    try:
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        writer.shutdown(wait=True)  # every finished game is on disk before the run returns
        for sig in handled:
            loop.remove_signal_handler(sig)
        bar.close()
        stats.seconds = time.perf_counter() - started
        for player in players.values():  # connection pools belong to this event loop: close them in it
            aclose = getattr(player, "aclose", None)
            if aclose is not None:
                await aclose()
    for outcome in outcomes:  # a bug in the runner itself, not a failed game: keep its traceback
        if isinstance(outcome, Exception):
            raise outcome
    return stats


def _not_stored(cells: list[Cell], store: GameStore, task_set: str, salt: int, stats: RunStats):
    """(game id, cell) of the cells the store does not hold yet; the others are counted as done."""
    todo = []
    for cell in cells:
        gid = game_id(task_set, cell, salt)
        if gid in store.done:
            stats.skipped_done += 1
        else:
            todo.append((gid, cell))
    return todo


ENGINES = ("auto", "array", "reference")


def choose_engine(engine: str, specs: list[str], probe: bool = False) -> str:
    """``array`` or ``reference`` for these players; a clear error when ``array`` cannot play them."""
    from ..arrays import array_capable

    if engine not in ENGINES:
        raise RunError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "reference":
        return "reference"
    missing = [s for s in specs if not array_capable(s)]
    if engine == "array" and (missing or probe):
        why = (
            f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no array form"
            if missing
            else ("belief probes (--probe) need the reference loop")
        )
        raise RunError(f"--engine array: {why}; use --engine auto or reference")
    return "reference" if missing or probe else "array"


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector paused, then restored. A batch of the array engine builds
    hundreds of thousands of small objects (its records) with no cycles among them; the collector
    would scan them, and every earlier record on its older generations, hundreds of times while
    they are built, for nothing to free (about a tenth of a round robin's time)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


ARRAY_CHUNK = 2_000_000  # games x outcomes per array batch: bounds the engine's memory (~100 MB)


def run_cells_array(
    cells: list[Cell],
    scenarios: dict[str, Scenario],
    store: GameStore,
    *,
    task_set: str,
    task_hash: str,
    split: str,
    salt: int = 0,
    max_turns: int = MAX_TURNS,
    max_repairs: int = MAX_REPAIRS,
    progress: bool = True,
    chunk: int = ARRAY_CHUNK,
) -> RunStats:
    """The array engine over the cells not yet stored: batches of games of similar outcome-space
    size (so that little is padding), each stored with one fsync when it finishes."""
    from ..arrays.batch import GameSpec, play_batch
    from ..arrays.records import Parts, game_records

    stats = RunStats(planned=len(cells), engine="array")
    todo = _not_stored(cells, store, task_set, salt, stats)
    size = {sid: int(np.prod(s.shape)) for sid, s in scenarios.items()}
    todo.sort(key=lambda x: size[x[1].scenario_id])  # stable: cell order within a scenario
    bar = _progress_bar(len(todo), stats.skipped_done, progress)
    started = time.perf_counter()
    parts = Parts({})
    try:
        start = 0
        while start < len(todo):
            end = start
            while end < len(todo) and (end - start + 1) * size[todo[end][1].scenario_id] <= max(
                chunk, size[todo[end][1].scenario_id]
            ):
                end += 1
            part = todo[start:end]
            seeds = [cell_seed(task_set, c, salt) for _, c in part]
            specs = [
                GameSpec(
                    scenarios[c.scenario_id], c.players, c.first_mover, (agent_seed(sd, 0), agent_seed(sd, 1))
                )
                for (_, c), sd in zip(part, seeds)
            ]
            with gc_paused():
                games = play_batch(specs, max_turns)
                records, lines = game_records(
                    games,
                    [c for _, c in part],
                    [g for g, _ in part],
                    seeds,
                    task_set=task_set,
                    task_hash=task_hash,
                    split=split,
                    max_repairs=max_repairs,
                    salt=salt,
                    parts=parts,
                )
                store.append_many(records, lines)
            stats.completed += len(records)
            bar.update(len(records))
            start = end
    except KeyboardInterrupt:
        stats.stopped = "stopped by SIGINT"
    except StoreLost as exc:
        stats.stopped, stats.stop_error = str(exc), exc
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _progress_bar(total: int, already: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit="game",
        desc=f"games ({already} already done)" if already else "games",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        smoothing=0.05,
    )
