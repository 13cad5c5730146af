"""Precision and recall of each leak-detector version on the labelled set (``leakage/labels-v1``).

    python benchmarks/leak_detector.py [--part dev|heldout|both] [--misses]

Prints, per version and part: messages, leaks, true and false positives, precision and recall with
95% Wilson intervals. ``--misses`` lists the messages each version gets wrong (use it on ``dev``
only: the held-out part is for measuring, never for tuning).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena_bench.core.diagnostics import LEAK_DETECTORS  # noqa: E402
from arena_bench.scoring.leak_check import detector_error  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", default="both", choices=["dev", "heldout", "both"])
    ap.add_argument("--misses", action="store_true")
    args = ap.parse_args()
    parts = ["dev", "heldout"] if args.part == "both" else [args.part]
    print(
        f"{'detector':9} {'part':8} {'msgs':>5} {'leaks':>5} {'TP':>4} {'FP':>4}  precision [95%]        recall [95%]"
    )
    for version in LEAK_DETECTORS:
        for part in parts:
            err = detector_error(version, part)
            p, r = err["precision"], err["recall"]
            print(f"{version:9} {part:8} {err['messages']:5d} {err['leaks']:5d} {err['tp']:4d} {err['fp']:4d}"
                  f"  {p[0]:.3f} [{p[1]:.3f}, {p[2]:.3f}]   {r[0]:.3f} [{r[1]:.3f}, {r[2]:.3f}]")  # fmt: skip
            kinds = "; ".join(
                f"{k} TP {c[0]} FP {c[1]} FN {c[2]} TN {c[3]}" for k, c in sorted(err["by_kind"].items())
            )
            print(f"    by source: {kinds}")
            if args.misses:
                for row, got in err["wrong"]:
                    print(
                        f"    {'FP' if got else 'FN'} {row['id']} {row['scenario_id']} r{row['role']}: {row['message'][:150]}"
                    )


if __name__ == "__main__":
    main()
