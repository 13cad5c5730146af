"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from arena_bench.core.scenario import Issue, Role, Scenario

HERE = Path(__file__).resolve().parent


def random_scenario(shape: tuple[int, ...], seed: int = 0, batnas=(0.2, 0.2)) -> Scenario:
    rng = np.random.default_rng(seed)
    roles = []
    for name, b in zip(("a", "b"), batnas):
        w = rng.dirichlet(np.ones(len(shape)))
        v = tuple(tuple(float(x) for x in rng.random(n)) for n in shape)
        roles.append(Role(name, tuple(float(x) for x in w / w.sum()), v, b))
    issues = tuple(Issue(f"i{k}", "", tuple(f"o{j}" for j in range(n))) for k, n in enumerate(shape))
    return Scenario("bench", "", "", issues, (roles[0], roles[1]))


def run_negmas(job: dict, python: str | None, timeout: float) -> dict:
    """Run benchmarks/negmas_side.py under ``python``; a dict with 'error' when it cannot."""
    python = python or sys.executable
    try:
        proc = subprocess.run(
            [python, str(HERE / "negmas_side.py")],
            input=json.dumps(job),
            text=True,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except FileNotFoundError:
        return {"error": f"no interpreter at {python}"}
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return {
            "error": f"negmas run failed: {last[0]} (install negmas in that interpreter: pip install negmas)"
        }
    return json.loads(proc.stdout)


def scenario_job(scenario: Scenario) -> dict:
    return {
        "shape": list(scenario.shape),
        "roles": [
            {"weights": list(r.weights), "values": [list(v) for v in r.values], "batna": r.batna}
            for r in scenario.roles
        ],
    }
