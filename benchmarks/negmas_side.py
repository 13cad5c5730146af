"""The NegMAS half of the side-by-side benchmarks; run under an interpreter that has negmas.

Reads a JSON job on stdin, prints a JSON result. Kept apart so negmas is never a dependency.
"""

from __future__ import annotations

import json
import sys
import time


def ufuns(job):
    from negmas.outcomes import make_issue, make_os
    from negmas.preferences import LinearAdditiveUtilityFunction
    from negmas.preferences.value_fun import TableFun

    issues = [make_issue(values=list(range(n)), name=f"i{k}") for k, n in enumerate(job["shape"])]
    os_ = make_os(issues)
    out = []
    for role in job["roles"]:
        values = [TableFun({j: v for j, v in enumerate(row)}) for row in role["values"]]
        out.append(
            LinearAdditiveUtilityFunction(
                values=values, weights=role["weights"], outcome_space=os_, reserved_value=role["batna"]
            )
        )
    return issues, out


def analysis(job):
    from negmas.preferences.ops import nash_points, pareto_frontier

    issues, (ua, ub) = ufuns(job)
    t = time.perf_counter()
    frontier, _ = pareto_frontier([ua, ub], issues=issues)
    t_frontier = time.perf_counter() - t
    t = time.perf_counter()
    nash = nash_points([ua, ub], frontier, issues=issues)
    t_nash = time.perf_counter() - t
    return {
        "frontier_s": t_frontier,
        "nash_s": t_nash,
        "frontier_size": len(frontier),
        "nash": [list(map(float, p[0])) for p in nash],
    }


def games(job):
    from negmas.sao import SAOMechanism
    from negmas.sao.negotiators import BoulwareTBNegotiator, ConcederTBNegotiator

    issues, (ua, ub) = ufuns(job)
    t = time.perf_counter()
    agreements = 0
    for _ in range(job["n_games"]):
        m = SAOMechanism(issues=issues, n_steps=job["n_steps"])
        m.add(BoulwareTBNegotiator(ufun=ua))
        m.add(ConcederTBNegotiator(ufun=ub))
        state = m.run()
        agreements += state.agreement is not None
    elapsed = time.perf_counter() - t
    return {"seconds": elapsed, "games": job["n_games"], "agreements": agreements}


if __name__ == "__main__":
    job = json.load(sys.stdin)
    print(json.dumps({"analysis": analysis, "games": games}[job["kind"]](job)))
