from __future__ import annotations

import os
from pathlib import Path

# litellm fetches its price map from GitHub at import unless told not to; the tests import it
# (importorskip) before arena-bench's own import path could say so
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest

from arena_bench.core.scenario import Issue, Role, Scenario

REPO = Path(__file__).resolve().parent.parent
TASKS_V1 = REPO / "tasks" / "negotiation-v1"
GENIUS_DIR = REPO.parent / "shared" / "data" / "genius"


def make_scenario(weights_a, values_a, weights_b, values_b, batnas=(0.0, 0.0), sid="hand") -> Scenario:
    issues = tuple(
        Issue(f"issue{i}", "", tuple(f"opt{i}_{j}" for j in range(len(v)))) for i, v in enumerate(values_a)
    )
    return Scenario(
        id=sid,
        title="hand-made",
        context="",
        issues=issues,
        roles=(
            Role("a", tuple(weights_a), tuple(tuple(v) for v in values_a), batnas[0]),
            Role("b", tuple(weights_b), tuple(tuple(v) for v in values_b), batnas[1]),
        ),
    )


@pytest.fixture
def logroll_scenario() -> Scenario:
    """Two binary issues; A cares more about issue0, B about issue1 (hand-computed in the tests)."""
    return make_scenario((0.6, 0.4), ((0, 1), (0, 1)), (0.3, 0.7), ((1, 0), (1, 0)), batnas=(0.1, 0.1))
