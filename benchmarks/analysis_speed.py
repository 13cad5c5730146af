"""Outcome-space analysis speed: arena-bench vs NegMAS on the same 10^6-outcome scenario.

    python benchmarks/analysis_speed.py --negmas-python /path/to/venv-with-negmas/bin/python

Prints the time of our full analysis (frontier, Nash, Kalai-Smorodinsky, max joint, ZOPA,
integrative potential) and, in the same run, NegMAS's pareto_frontier and nash_points.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from common import random_scenario, run_negmas, scenario_job

from arena_bench.core.analysis import analyse, grids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", default="10,10,10,10,10,10", help="options per issue (default: 10^6 outcomes)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--negmas-python", default=None, help="interpreter with negmas installed (default: this one)"
    )
    p.add_argument("--negmas-timeout", type=float, default=900)
    args = p.parse_args()
    shape = tuple(int(x) for x in args.shape.split(","))
    scenario = random_scenario(shape, seed=0)

    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        a = analyse(scenario)
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    np.sort(grids(scenario)[0])
    sort_s = time.perf_counter() - t
    print(f"scenario: {len(shape)} issues, {scenario.n_outcomes:,} outcomes")
    print(
        f"arena-bench analyse: best {min(times):.3f} s, median {float(np.median(times)):.3f} s "
        f"over {args.repeats} runs (frontier {len(a.frontier)} points, Nash u={a.nash.u})"
    )
    print(f"reference: one np.sort of {scenario.n_outcomes:,} floats {sort_s:.3f} s")

    result = run_negmas(
        {"kind": "analysis", **scenario_job(scenario)}, args.negmas_python, args.negmas_timeout
    )
    if "error" in result:
        print(f"negmas: {result['error']}")
        return
    total = result["frontier_s"] + result["nash_s"]
    print(f"negmas pareto_frontier: {result['frontier_s']:.3f} s (frontier {result['frontier_size']} points)")
    print(f"negmas nash_points:     {result['nash_s']:.3f} s (Nash u={result['nash']})")
    print(f"speed-up (negmas frontier+nash / arena-bench full analysis): {total / min(times):.1f}x")


if __name__ == "__main__":
    main()
