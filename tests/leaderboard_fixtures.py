"""Real runs for the leaderboard tests: full lite split, scripted agents (seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from arena_bench.evaluation import RunConfig, run
from arena_bench.planning import Cell, game_id


def evaluation_run(out: Path, model: str = "scripted/logroller", **kw) -> Path:
    config = RunConfig(kind="evaluation", agents=(model,), split="lite", bootstrap_replicates=200, **kw)
    return run(config, out, progress=False).path


def tournament_run(out: Path, agents: tuple[str, ...]) -> Path:
    config = RunConfig(kind="tournament", agents=agents, split="lite", bootstrap_replicates=200)
    return run(config, out, progress=False).path


def rename_model(run_dir: Path, old: str, new_name: str, out: Path) -> Path:
    """A tournament run with one agent renamed everywhere and consistent game ids (what a hostile
    submitter could make); its plan still matches, so the leaderboard accepts it."""
    shutil.copytree(run_dir, out)
    results = json.loads((out / "results.json").read_text())
    results["config"]["agents"] = [new_name if a == old else a for a in results["config"]["agents"]]
    results["players"] = {new_name if k == old else k: v for k, v in results["players"].items()}
    lines = []
    for line in (out / "games.jsonl").read_text().splitlines():
        g = json.loads(line)
        g["players"] = [new_name if p == old else p for p in g["players"]]
        for side in g["sides"]:
            side["player"] = new_name if side["player"] == old else side["player"]
        cell = Cell(g["scenario_id"], tuple(g["players"]), g["first_mover"], g["rep"])
        g["game_id"] = game_id(g["task_set"], cell, g.get("salt", 0))
        lines.append(json.dumps(g))
    (out / "games.jsonl").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(json.dumps(results))
    return out
