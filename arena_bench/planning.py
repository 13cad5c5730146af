"""What a run will play, decided once (pure apart from reading the task set): the settings checked,
the scenarios, the cells (scenario, players by role, first mover, repetition), each cell's seeds and
game id, and the run's folder. A :class:`Plan` is made once and handed whole to the runner, the
pricer and the verifier; none of them plans again."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import RunConfig
from .core.scenario import Scenario
from .errors import ConfigError
from .playing.players import panel
from .scenarios.tasks import TaskSet, open_task_set


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


@functools.lru_cache(maxsize=65536)
def _json_str(s: str) -> str:
    return json.dumps(s)


def _plain(*ints: Any) -> bool:
    """Whether these are ints that ``json.dumps`` writes as ``str`` does (not bools, not numpy)."""
    return all(type(x) is int for x in ints)


# The three ids below hash the JSON of a few fields. A tournament computes them for every game,
# so the JSON is written directly when the fields are plain (the same text ``json.dumps`` writes;
# tests/test_runner.py compares them), and through ``json.dumps`` otherwise.


def cell_seed(task_set: str, cell: Cell, salt: int = 0) -> int:
    """Seed of a cell, from the task set version and the cell's position.

    The players' names are left out on purpose: a player in a given role meets every
    opponent with the same random stream, so comparisons between agents evaluated on the
    same cells are paired (common random numbers).
    """
    if not (
        _plain(cell.first_mover, cell.rep, salt) and type(task_set) is str and type(cell.scenario_id) is str
    ):
        return _hash_int(task_set, cell.scenario_id, cell.first_mover, cell.rep, salt)
    text = f"[{_json_str(task_set)},{_json_str(cell.scenario_id)},{cell.first_mover},{cell.rep},{salt}]"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def agent_seed(seed: int, role: int) -> int:
    if not _plain(seed, role):
        return _hash_int(seed, role)
    return int.from_bytes(hashlib.sha256(f"[{seed},{role}]".encode()).digest()[:8], "big")


def game_id(task_set: str, cell: Cell, salt: int = 0) -> str:
    p0, p1 = cell.players if len(cell.players) == 2 else (None, None)
    if not (
        _plain(cell.first_mover, cell.rep, salt)
        and all(type(x) is str for x in (task_set, cell.scenario_id, p0, p1))
    ):
        key = [task_set, cell.scenario_id, list(cell.players), cell.first_mover, cell.rep, salt]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
    text = (
        f"[{_json_str(task_set)}, {_json_str(cell.scenario_id)}, [{_json_str(p0)}, {_json_str(p1)}], "
        f"{cell.first_mover}, {cell.rep}, {salt}]"
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "run"


def page_slug(name: str) -> str:
    """A file or folder name for NAME that no other name shares: a readable part and a hash of the
    exact name (``openai/victim model`` and ``openai/victim_model`` get different pages)."""
    return f"{slug(name)[:60]}-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"


@dataclass(frozen=True)
class Plan:
    """A run's games, decided once from its settings."""

    config: RunConfig
    task_set: TaskSet
    scenarios: list[Scenario]
    cells: list[Cell]
    specs: list[str]  # every player, sorted


def check_config(config: RunConfig) -> None:
    """Refuse settings that could not play a game, naming the option, before anything runs."""
    positive = {
        "--reps": config.reps,
        "--max-turns": config.max_turns,
        "--max-concurrency": config.max_concurrency,
        "--bootstrap": config.bootstrap_replicates,
    }
    for option, value in positive.items():
        if value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    if config.limit is not None and config.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {config.limit}")
    if config.max_repairs < 0:
        raise ConfigError(f"--max-repairs must be 0 or more, got {config.max_repairs}")
    if config.kind not in ("evaluation", "tournament"):
        raise ConfigError(f"kind {config.kind!r}: use evaluation or tournament")
    if config.messages not in ("on", "off"):
        raise ConfigError(f"--messages {config.messages!r}: use on or off")
    if config.engine not in ("auto", "array", "reference"):
        raise ConfigError(f"--engine {config.engine!r}: use auto, array or reference")


def plan(config: RunConfig) -> Plan:
    check_config(config)
    ts = open_task_set(config.tasks)
    scenarios = ts.load(config.split)
    if config.limit is not None:
        scenarios = scenarios[: config.limit]
    if config.kind == "evaluation":
        (model,) = config.agents
        members = list(panel(config.panel))
        if config.opponents is not None:
            unknown = [o for o in config.opponents if o not in members]
            if unknown:
                raise ConfigError(f"--opponents {unknown} are not in {config.panel}: {', '.join(members)}")
            members = list(config.opponents)
        opponents = members + ([model] if config.self_play else [])
        pairs = [(model, y) for y in opponents]
    else:
        agents = list(config.agents)
        pairs = [(x, y) for i, x in enumerate(agents) for y in agents[i + 1 :]]
        if config.self_play:
            pairs += [(x, x) for x in agents]
    cells = plan_cells(scenarios, pairs, config.reps)
    if not cells:
        raise ConfigError("these settings plan no game: give at least two agents or keep self-play on")
    specs = sorted({s for c in cells for s in c.players})
    return Plan(config, ts, scenarios, cells, specs)


def run_dir_for(config: RunConfig, output_path: Path, task_hash: str) -> Path:
    digest = hashlib.sha256(
        json.dumps([config.identity(), task_hash], sort_keys=True, default=str).encode()
    ).hexdigest()
    return Path(output_path) / slug(config.label) / f"{config.split}-{digest[:12]}"
