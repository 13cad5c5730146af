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
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..agents.base import Observation
from ..core.analysis import analyse
from ..core.metrics import game_metrics
from ..core.protocol import (
    MAX_REPAIRS,
    MAX_TURNS,
    PROTOCOL_VERSION,
    Action,
    IllegalAction,
    Kind,
    Turn,
    forfeit,
    initial_state,
    step,
)
from ..core.records import GameRecord
from ..errors import ArenaBenchError, ResultsError
from ..planning import agent_seed, cell_seed, game_id, plan
from ..playing.game import public_view
from ..playing.players import PANEL_VERSION, PANELS, make_player
from ..scoring.results import (
    MAX_GAME_LINE_BYTES,
    MAX_GAMES_BYTES,
    MAX_RESULTS_BYTES,
    Run,
    RunConfig,
    load_run,
    read_results,
    results_path,
    schema_problems,
)
from ..storage import json_lines
from ..versions import DEFAULT_TASK_SET

TOL = 1e-6


def validate_run(path: Path, max_problems: int = 200) -> list[str]:
    """Schema problems, each naming the file, line and field."""
    try:
        rpath = results_path(path)
        if rpath.stat().st_size > MAX_RESULTS_BYTES:
            return [f"{rpath}: larger than {MAX_RESULTS_BYTES >> 20} MiB; a results file is far smaller"]
        data = json.loads(rpath.read_text(encoding="utf-8"))
        problems = [f"{rpath}: {p}" for p in schema_problems(data)]
    except ArenaBenchError as exc:
        return [str(exc)]
    except json.JSONDecodeError as exc:
        return [f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})"]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{path}: cannot be read ({type(exc).__name__})"]
    except RecursionError:
        return [f"{path}: nested too deep to be a results file"]
    if not isinstance(data, dict):
        return problems
    games_path = rpath.parent / str(data.get("games_file", "games.jsonl"))
    if not games_path.is_file():
        return problems + [f"{games_path}: missing (the per-game records)"]
    lines = json_lines(
        games_path, ResultsError, max_line_bytes=MAX_GAME_LINE_BYTES, max_total_bytes=MAX_GAMES_BYTES
    )
    try:
        for lineno, record in lines:
            if len(problems) >= max_problems:
                problems.append(f"{games_path}: stopped after {max_problems} problems")
                break
            try:
                problems += [f"{games_path}:{lineno}: {p}" for p in schema_problems(record, "game")]
            except RecursionError:
                problems.append(f"{games_path}:{lineno}: nested too deep to be a game record")
    except ResultsError as exc:  # a line past the limits, or not JSON: reading stops there
        problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class Expected:
    """What the leaderboard accepts: its task set, split, panel and the official game settings.

    Anything that changes the games must equal these; model-side settings (temperature, token
    limits, structured decoding, backend) are free and shown on the model's page.
    """

    task_hash: str
    panel_version: str = PANEL_VERSION
    protocol_version: str = PROTOCOL_VERSION
    split: str = "test"
    max_turns: int = MAX_TURNS
    max_repairs: int = MAX_REPAIRS
    reps: int = 1
    salt: int = 0
    replay_panel: bool = True  # ask every panel member what it would have done, turn by turn

    def settings_problems(self, config: RunConfig) -> list[str]:
        official = {
            "max_turns": self.max_turns,
            "max_repairs": self.max_repairs,
            "reps": self.reps,
            "salt": self.salt,
            "panel": self.panel_version,
        }
        return [
            f"config.{key} is {getattr(config, key)!r}; the leaderboard's official setting is {value!r}"
            for key, value in official.items()
            if getattr(config, key) != value
        ]


def _run_sync(coroutine):
    """The result of an agent's ``act`` that never awaits (every panel member): no event loop needed."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("a panel member awaited inside act(); replay it with asyncio")


def _action_text(kind: str, offer) -> str:
    return f"{kind} {list(offer)}" if offer is not None else kind


def _panel_differs(record: GameRecord, t, agent, scenario, public, state) -> str | None:
    """Why turn ``t`` is not what the re-created panel member does in ``state`` (None: it is)."""
    obs = Observation(
        role_index=t.role,
        brief=scenario.roles[t.role],
        public=public,
        history=state.history,
        turn=state.turn,
        max_turns=record.max_turns,
        standing_offer=state.standing_offer,
        standing_by=state.standing_by,
    )
    reply = _run_sync(agent.act(obs))
    would = _action_text(reply.action.kind.value, reply.action.offer) if reply.action else "no action"
    did = _action_text(t.action.kind, t.action.offer) if t.action else "forfeit"
    if would == did and reply.message == t.message and len(t.attempts) == 1:
        return None
    return (
        f"game {record.game_id}: turn {t.turn}: panel member {record.players[t.role]} would {would} "
        f"({reply.message!r}), the record says {did} ({t.message!r}) in {len(t.attempts)} attempt(s): "
        "not the panel's play"
    )


def check_game(record: GameRecord, scenario, analysis, panel: dict[str, Any] | None = None) -> list[str]:
    """Replay one game's actions through the protocol; recompute outcome and metrics.

    ``panel`` (spec -> player): each side played by one of these is re-created from the recorded
    seed and role and asked, at every one of its turns, what it does given the recorded history;
    its recorded action and message must be exactly that. The first turn that differs refuses the game.
    """
    gid = record.game_id
    problems = []
    state = initial_state(scenario.shape, record.first_mover, record.max_turns)
    invalid = [0, 0]
    repairs = [0, 0]
    agents = {}
    public = None
    if panel:
        agents = {
            r: panel[p].new_agent(r, agent_seed(record.seed, r))
            for r, p in enumerate(record.players)
            if p in panel
        }
        public = public_view(scenario)
    for t in record.turns:
        if state.over:
            problems.append(f"game {gid}: turn {t.turn} comes after the game ended")
            return problems
        if t.role != state.to_move:
            problems.append(
                f"game {gid}: turn {t.turn} is by role {t.role}, but role {state.to_move} was to move"
            )
            return problems
        before = state
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
        if t.role in agents:  # a legal turn; was it the panel member's own?
            problem = _panel_differs(record, t, agents[t.role], scenario, public, before)
            if problem:
                problems.append(problem)
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
    problems += recorded_differs(record, scenario, m)
    return problems


def _same(recorded: Any, fresh: Any) -> bool:
    if isinstance(fresh, float) or (isinstance(recorded, float) and isinstance(fresh, int)):
        return (
            isinstance(recorded, (int, float))
            and not isinstance(recorded, bool)
            and abs(float(recorded) - float(fresh)) <= TOL
        )
    if isinstance(fresh, bool) or isinstance(recorded, bool):
        return type(recorded) is type(fresh) and recorded == fresh
    return recorded == fresh


def recorded_differs(record: GameRecord, scenario, m) -> list[str]:
    """Every stored field the site, the report or the scorecard can show, against its value
    recomputed from the scenario and the replayed actions; one reason per field that differs."""
    gid = record.game_id
    out = record.outcome
    agreement = tuple(m.agreement) if m.agreement is not None else None
    fresh_outcome = {
        "deal": m.deal,
        "agreement": agreement,
        "agreement_text": scenario.describe_outcome(agreement) if agreement is not None else None,
        "end": m.end,
        "turns": m.turns,
        "turns_to_agreement": m.turns_to_agreement,
        "welfare": m.welfare,
        "pareto_optimal": m.pareto_optimal,
        "distance_to_frontier": m.distance_to_frontier,
    }
    problems = [
        f"game {gid}: recorded outcome.{key} {getattr(out, key)!r} != recomputed {value!r}"
        for key, value in fresh_outcome.items()
        if not _same(getattr(out, key), value)
    ]
    for key in ("family", "stratum"):
        if getattr(record, key) != getattr(scenario, key):
            problems.append(f"game {gid}: recorded {key} {getattr(record, key)!r} != the scenario's")
    for i, (side, fresh) in enumerate(zip(record.sides, m.sides)):
        for key, value in asdict(fresh).items():
            if not _same(getattr(side, key), value):
                why = " (utilities do not match the scenario)" if key in ("u", "value", "arena_score") else ""
                problems.append(
                    f"game {gid}: side {i} recorded {key} {getattr(side, key)!r} != recomputed {value!r}{why}"
                )
        if side.player != record.players[i]:
            problems.append(f"game {gid}: side {i} player {side.player!r} != players[{i}]")
        if side.role != scenario.roles[i].name:
            problems.append(
                f"game {gid}: side {i} role {side.role!r} != the scenario's {scenario.roles[i].name!r}"
            )
    return problems


# Bumped whenever a check is added or changed: cached verdicts of older verifiers are not reused.
VERIFIER_VERSION = "verify-v2"


def cache_key(path: Path, expected: Expected) -> str:
    """The verdict's key: the bytes of the run's files, the leaderboard's settings, the verifier."""
    import hashlib

    digest = hashlib.sha256(json.dumps([VERIFIER_VERSION, repr(expected)]).encode())
    folder = results_path(path).parent
    for f in sorted(folder.iterdir()):
        if f.is_file() and (f.name == "results.json" or f.name.startswith("games.jsonl")):
            digest.update(f.name.encode() + b"\0")
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def verify_run(
    path: Path,
    expected: Expected,
    max_problems: int = 100,
    jobs: int | None = None,
    cache: Path | None = None,
) -> tuple[list[str], Run | None]:
    """(refusal reasons, the run). No reasons: the leaderboard accepts the run.

    The run is None when its results file was refused before its games were read. ``cache``: a
    folder of earlier verdicts keyed by :func:`cache_key`; an accepted run whose files, settings and
    verifier are unchanged is read but not replayed again.
    """
    key = None
    if cache is not None:
        key = cache_key(path, expected)
        hit = Path(cache) / f"{key}.json"
        if hit.is_file():
            try:
                reasons = json.loads(hit.read_text())["reasons"]
            except (OSError, ValueError, KeyError, TypeError):
                reasons = None
            if reasons == []:
                results = read_results(path)
                cells = plan(results.config).cells
                return [], load_run(path, max_games=len(cells))
    reasons, run = _verify_run(path, expected, max_problems, jobs)
    if key is not None and run is not None:
        from ..storage import write_atomic

        write_atomic(
            Path(cache) / f"{key}.json", json.dumps({"verifier": VERIFIER_VERSION, "reasons": reasons})
        )
    return reasons, run


def _verify_run(
    path: Path, expected: Expected, max_problems: int = 100, jobs: int | None = None
) -> tuple[list[str], Run | None]:

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
    reasons += expected.settings_problems(config)
    in_process = [a for a in config.agents if a.startswith("py:")]
    if in_process:
        reasons.append(
            f"{in_process[0]} ran in the harness's own process, where it could read the other side; "
            'submit a code agent as exec:"COMMAND" (it then runs in its own process)'
        )
    if reasons:
        return reasons, None
    planned = plan(config)
    ts, scenarios, cells = planned.task_set, planned.scenarios, planned.cells
    run = load_run(path, max_games=len(cells))  # more lines than planned cells: refused while reading
    by_id = {s.id: s for s in scenarios}
    planned = {game_id(ts.full_name, c, config.salt): c for c in cells}
    wanted = set(planned)
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
    for r in run.games:
        if len(reasons) >= max_problems:
            break
        if r.task_hash != expected.task_hash:
            reasons.append(f"game {r.game_id}: task hash differs from the results file's")
            continue
        cell = planned.get(r.game_id)
        if cell is not None and (r.players, r.first_mover, r.rep) != (
            cell.players,
            cell.first_mover,
            cell.rep,
        ):
            reasons.append(
                f"game {r.game_id}: players, move order or repetition differ from the cell it claims"
            )
        elif cell is not None and r.seed != cell_seed(ts.full_name, cell, config.salt):
            reasons.append(
                f"game {r.game_id}: seed {r.seed} is not its cell's seed (a game copied from elsewhere)"
            )
        elif (r.max_turns, r.max_repairs, r.salt) != (config.max_turns, config.max_repairs, config.salt):
            reasons.append(f"game {r.game_id}: max_turns, max_repairs or salt differ from the run's settings")
        elif r.scenario_id not in by_id:
            reasons.append(f"game {r.game_id}: unknown scenario {r.scenario_id!r}")
    if reasons:
        return reasons[:max_problems], run
    reasons += replay_games(run.games, by_id, expected, jobs)
    return reasons[:max_problems], run


_REPLAY: tuple | None = None  # what forked workers share: (games, scenarios, panel version, replay)


def _replay_slice(bounds: tuple[int, int]) -> list[str]:
    games, scenarios, panel_version, replay = _REPLAY
    panel = {spec: make_player(spec) for spec in PANELS[panel_version]} if replay else None
    analyses: dict[str, Any] = {}
    problems: list[str] = []
    for r in games[bounds[0] : bounds[1]]:
        scenario = scenarios[r.scenario_id]
        if scenario.id not in analyses:
            analyses[scenario.id] = analyse(scenario)
        problems += check_game(r, scenario, analyses[scenario.id], panel)
    return problems


def replay_games(
    games: list[GameRecord], scenarios: dict[str, Any], expected: Expected, jobs: int | None = None
) -> list[str]:
    """``check_game`` for every game (the panel replayed too), over ``jobs`` forked processes.

    Re-simulating the panel costs what playing it did, so large runs are split across the cores;
    forked workers inherit the games rather than receive copies.
    """
    global _REPLAY
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(games) // 2000 or 1))
    _REPLAY = (games, scenarios, expected.panel_version, expected.replay_panel)
    try:
        size = -(-len(games) // jobs) if games else 1
        bounds = [(i, min(i + size, len(games))) for i in range(0, len(games), size)]
        if jobs == 1 or "fork" not in multiprocessing.get_all_start_methods():
            return [p for b in bounds for p in _replay_slice(b)]
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            return [p for part in pool.map(_replay_slice, bounds) for p in part]
    finally:
        _REPLAY = None


def expected_for(
    task_set: str = DEFAULT_TASK_SET, split: str = "test", panel: str = PANEL_VERSION
) -> Expected:
    from ..playing.players import panel as panel_members
    from ..scenarios.tasks import open_task_set

    panel_members(panel)  # an unknown panel is refused here, with the published ones named
    return Expected(task_hash=open_task_set(task_set).hash, split=split, panel_version=panel)


def validate_and_verify(path: Path, split: str | None = None, recompute: bool = True) -> list[str]:
    """What ``validate-results`` reports: schema problems, then (if none) the leaderboard's checks."""
    from ..scenarios.tasks import open_task_set

    problems = validate_run(path)
    if problems or not recompute:
        return problems
    results = read_results(path)
    expected = Expected(
        task_hash=open_task_set(results.config.tasks).hash, split=split or results.task_set.split
    )
    try:
        reasons, _ = verify_run(path, expected)
    except ArenaBenchError as exc:  # a record the reader refuses: that is the problem to report
        return [str(exc)]
    return reasons
