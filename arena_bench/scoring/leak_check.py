"""The leak detector's own error: precision and recall of each version on the labelled messages in
``leakage/labels-v1`` (a development part to tune on, a held-out part to measure on), with 95%
Wilson intervals. ``diagnose.LEAK_DETECTOR_ERROR`` stores the held-out figures that travel with
every leak rate; a test recomputes them from the files here."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..core.diagnostics import message_leaks
from ..errors import ConfigError
from ..scenarios.tasks import open_task_set

LABELS = Path(__file__).resolve().parents[2] / "leakage" / "labels-v1"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float, float]:
    """(k/n, low, high): the Wilson score interval, sound at 0 and n, unlike the normal one."""
    if n == 0:
        return (float("nan"),) * 3
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def read_labelled(part: str) -> list[dict]:
    path = LABELS / f"{part}.jsonl"
    if not path.exists():
        raise ConfigError(
            f"{path}: the labelled leak set is not here; it ships with the source tree, not the wheel"
        )
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def detector_error(version: str, part: str) -> dict:
    ts = open_task_set("negotiation-v1")
    rows = read_labelled(part)
    tp = fp = 0
    wrong = []
    by_kind: dict[str, list[int]] = {}  # kind -> [true pos, false pos, false neg, true neg]
    for row in rows:
        got = bool(
            message_leaks(row["message"], ts.find(row["scenario_id"], row["split"]), row["role"], version)
        )
        tp += got and row["leak"]
        fp += got and not row["leak"]
        cell = (0 if got else 2) + (0 if row["leak"] else 1)
        by_kind.setdefault(row.get("kind", "?"), [0, 0, 0, 0])[cell] += 1
        if got != row["leak"]:
            wrong.append((row, got))
    leaks = sum(r["leak"] for r in rows)
    return {
        "messages": len(rows),
        "leaks": leaks,
        "tp": tp,
        "fp": fp,
        "precision": wilson(tp, tp + fp),
        "recall": wilson(tp, leaks),
        "wrong": wrong,
        "by_kind": by_kind,
    }
