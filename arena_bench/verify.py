"""Checking submitted runs: schema validation, and recomputation that trusts nothing.

``validate_run`` checks the files against the shipped JSON Schemas. ``verify_run`` replays
every game through the pure protocol and recomputes its outcome and metrics from the task
files, and refuses (with one reason per problem) a run whose task set hash, panel or
protocol differ from the leaderboard's, that ran on a partial split, that misses or
duplicates cells, whose recorded utilities or outcome do not match the scenario, or whose
actions break the protocol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .core.analysis import analyse
from .core.metrics import game_metrics
from .core.protocol import PROTOCOL_VERSION, Action, IllegalAction, Kind, Turn, forfeit, initial_state, step
from .core.records import GameRecord
from .errors import ArenaBenchError
from .players import PANEL_VERSION
from .results import Run, load_run, open_games_text, read_results, results_path, schema_problems
from .versions import DEFAULT_TASK_SET

TOL = 1e-6


def validate_run(path: Path, max_problems: int = 200) -> list[str]:
    """Schema problems, each naming the file, line and field."""
    try:
        rpath = results_path(path)
        data = json.loads(rpath.read_text(encoding="utf-8"))
    except ArenaBenchError as exc:
        return [str(exc)]
    except json.JSONDecodeError as exc:
        return [f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})"]
    problems = [f"{rpath}: {p}" for p in schema_problems(data)]
    games_path = rpath.parent / str(data.get("games_file", "games.jsonl"))
    if not games_path.is_file():
        return problems + [f"{games_path}: missing (the per-game records)"]
    try:
        with open_games_text(games_path) as f:
            for lineno, line in enumerate(f, 1):
                if len(problems) >= max_problems:
                    problems.append(f"{games_path}: stopped after {max_problems} problems")
                    break
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    problems.append(f"{games_path}:{lineno}: not valid JSON ({exc.msg})")
                    continue
                problems += [f"{games_path}:{lineno}: {p}" for p in schema_problems(record, "game")]
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        problems.append(f"{games_path}: cannot be read ({type(exc).__name__}: {exc})")
    return problems


@dataclass(frozen=True)
class Expected:
    """What the leaderboard accepts."""

    task_hash: str
    panel_version: str = PANEL_VERSION
    protocol_version: str = PROTOCOL_VERSION
    split: str = "test"


def check_game(record: GameRecord, scenario, analysis) -> list[str]:
    """Replay one game's actions through the protocol; recompute outcome and metrics."""
    gid = record.game_id
    problems = []
    state = initial_state(scenario.shape, record.first_mover, record.max_turns)
    invalid = [0, 0]
    repairs = [0, 0]
    for t in record.turns:
        if state.over:
            problems.append(f"game {gid}: turn {t.turn} comes after the game ended")
            return problems
        if t.role != state.to_move:
            problems.append(
                f"game {gid}: turn {t.turn} is by role {t.role}, but role {state.to_move} was to move"
            )
            return problems
        if t.errors or t.forfeited:
            invalid[t.role] += 1
        repairs[t.role] += min(len(t.attempts) - 1, record.max_repairs)
        if len(t.attempts) > record.max_repairs + 1:
            problems.append(
                f"game {gid}: turn {t.turn} has {len(t.attempts)} attempts; "
                f"at most {record.max_repairs + 1} are allowed"
            )
        try:
            if t.action is None:
                if not t.forfeited:
                    problems.append(f"game {gid}: turn {t.turn} has no action but is not marked forfeited")
                state = forfeit(state)
            else:
                kind = Kind(t.action.kind)
                action = Action.propose(t.action.offer) if kind is Kind.PROPOSE else Action(kind)
                state = step(state, Turn(t.message, action))
        except (IllegalAction, ValueError, KeyError, TypeError) as exc:
            problems.append(f"game {gid}: turn {t.turn} breaks the protocol ({exc})")
            return problems
    if not state.over:
        problems.append(f"game {gid}: the recorded turns end before the game does")
        return problems
    out = record.outcome
    agreement = tuple(state.agreement) if state.agreement is not None else None
    if out.agreement != agreement or out.end != state.end.value or out.deal != (agreement is not None):
        problems.append(
            f"game {gid}: recorded outcome {out.end} {out.agreement} does not match the replay "
            f"({state.end.value} {agreement})"
        )
        return problems
    m = game_metrics(scenario, analysis, state, tuple(invalid), tuple(repairs))
    if abs(m.welfare - out.welfare) > TOL:
        problems.append(f"game {gid}: recorded welfare {out.welfare} != recomputed {m.welfare:.6f}")
    for i, (side, fresh) in enumerate(zip(record.sides, m.sides)):
        for key in ("u", "value", "arena_score"):
            if abs(float(getattr(side, key)) - getattr(fresh, key)) > TOL:
                problems.append(
                    f"game {gid}: side {i} recorded {key} {getattr(side, key)} != recomputed "
                    f"{getattr(fresh, key):.6f} (utilities do not match the scenario)"
                )
        for key in ("invalid_turns", "forfeited_turns"):
            if getattr(side, key) != getattr(fresh, key):
                problems.append(
                    f"game {gid}: side {i} recorded {key} {getattr(side, key)} != {getattr(fresh, key)} "
                    "in its turns"
                )
        if side.player != record.players[i]:
            problems.append(f"game {gid}: side {i} player {side.player!r} != players[{i}]")
    return problems


def verify_run(path: Path, expected: Expected, max_problems: int = 100) -> tuple[list[str], Run | None]:
    """(refusal reasons, the run). No reasons: the leaderboard accepts the run.

    The run is None when its results file was refused before its games were read.
    """
    from .evaluation import plan
    from .runner import game_id

    results = read_results(path)
    reasons: list[str] = []
    if results.task_set.hash != expected.task_hash:
        reasons.append(
            f"task set hash {results.task_set.hash[:12]} differs from the leaderboard's "
            f"{expected.task_hash[:12]}"
        )
    if results.panel_version != expected.panel_version:
        reasons.append(
            f"panel {results.panel_version!r} differs from the leaderboard's {expected.panel_version!r}"
        )
    if results.protocol_version != expected.protocol_version:
        reasons.append(f"protocol {results.protocol_version!r} differs from {expected.protocol_version!r}")
    if results.task_set.split != expected.split:
        reasons.append(f"split {results.task_set.split!r}; the leaderboard ranks {expected.split!r}")
    config = results.config
    if results.partial or config.partial:
        reasons.append("ran on a partial split (--limit or --opponents): only full-split runs are ranked")
    if reasons:
        return reasons, None
    run = load_run(path)
    ts, scenarios, cells, _ = plan(config)
    by_id = {s.id: s for s in scenarios}
    wanted = {game_id(ts.full_name, c, config.salt) for c in cells}
    seen: dict[str, int] = {}
    for r in run.games:
        seen[r.game_id] = seen.get(r.game_id, 0) + 1
    missing = wanted - set(seen)
    extra = set(seen) - wanted
    dup = [g for g, n in seen.items() if n > 1]
    if missing:
        reasons.append(
            f"{len(missing)} planned cells have no game (e.g. {sorted(missing)[0]}); finish the run with --resume"
        )
    if dup:
        reasons.append(f"{len(dup)} games appear more than once (e.g. {dup[0]})")
    if extra:
        reasons.append(f"{len(extra)} games are not cells of this run's plan (e.g. {sorted(extra)[0]})")
    analyses: dict[str, Any] = {}
    for r in run.games:
        if len(reasons) >= max_problems:
            break
        if r.task_hash != expected.task_hash:
            reasons.append(f"game {r.game_id}: task hash differs from the results file's")
            continue
        scenario = by_id.get(r.scenario_id)
        if scenario is None:
            reasons.append(f"game {r.game_id}: unknown scenario {r.scenario_id!r}")
            continue
        if scenario.id not in analyses:
            analyses[scenario.id] = analyse(scenario)
        reasons += check_game(r, scenario, analyses[scenario.id])
    return reasons, run


def expected_for(task_set: str = DEFAULT_TASK_SET, split: str = "test") -> Expected:
    from .tasks import open_task_set

    return Expected(task_hash=open_task_set(task_set).hash, split=split)


def validate_and_verify(path: Path, split: str | None = None, recompute: bool = True) -> list[str]:
    """What ``validate-results`` reports: schema problems, then (if none) the leaderboard's checks."""
    from .tasks import open_task_set

    problems = validate_run(path)
    if problems or not recompute:
        return problems
    results = read_results(path)
    expected = Expected(
        task_hash=open_task_set(results.config.tasks).hash, split=split or results.task_set.split
    )
    reasons, _ = verify_run(path, expected)
    return reasons
