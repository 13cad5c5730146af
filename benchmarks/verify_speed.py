"""Seconds to verify the shipped panel-v2 baseline (51,030 games) exactly as the leaderboard does:
schema-typed records, protocol replay, metric recomputation and the panel's own replay.

    python benchmarks/verify_speed.py
    # the code before the panel replay, side by side (it has no jobs argument; run it from its own tree):
    git worktree add /tmp/old 664e703 && (cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/benchmarks/verify_speed.py)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "leaderboard" / "data" / "baselines" / "panel-v2" / "test-da4a8f22272e"


def main() -> None:
    import arena_bench
    from arena_bench.board.verify import expected_for, verify_run

    run = BASELINE if BASELINE.is_dir() else Path("leaderboard/data/baselines/panel-v2/test-da4a8f22272e")
    started = time.perf_counter()
    reasons = verify_run(run, expected_for("negotiation-v1", "test"))[0]
    print(
        f"{arena_bench.__file__}: {len(reasons)} refusal reasons, {time.perf_counter() - started:.1f} s "
        f"to verify {run.name}"
    )
    sys.exit(1 if reasons else 0)


if __name__ == "__main__":
    main()
