"""Game engine speed: arena-bench vs NegMAS, side by side in one run.

    python benchmarks/engine_speed.py --negmas-python /path/to/venv-with-negmas/bin/python

Plays the same scenario with equivalent time-based agents (Boulware vs Conceder) in our
engine and in NegMAS's SAOMechanism (BoulwareTBNegotiator vs ConcederTBNegotiator), prints
games per second for both and the ratio, then games per second for the whole panel-v1 round
robin on `lite` through the tournament runner (with the fsynced game store).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import run_negmas, scenario_job

from arena_bench.agents.scripted import TimeBased
from arena_bench.core.analysis import analyse
from arena_bench.game import play_game
from arena_bench.players import make_player, panel
from arena_bench.runner import GameStore, plan_cells, run_cells
from arena_bench.tasks import open_task_set


def ours(scenario, n_games: int, max_turns: int) -> tuple[float, int]:
    analysis = analyse(scenario)

    async def go() -> int:
        deals = 0
        for g in range(n_games):
            agents = (TimeBased(0, g, e=0.2), TimeBased(1, g + 1, e=2.0))
            state, _, _ = await play_game(scenario, analysis, agents, first_mover=g % 2, max_turns=max_turns)
            deals += state.agreement is not None
        return deals

    t = time.perf_counter()
    deals = asyncio.run(go())
    return time.perf_counter() - t, deals


def round_robin(split: str) -> tuple[int, float]:
    ts = open_task_set("negotiation-v1")
    scenarios = ts.load(split)
    specs = panel()
    players = {s: make_player(s) for s in specs}
    cells = plan_cells(scenarios, [(x, y) for i, x in enumerate(specs) for y in specs[i:]])
    with tempfile.TemporaryDirectory() as tmp:
        store = GameStore(Path(tmp) / "games.jsonl")
        t = time.perf_counter()
        stats = asyncio.run(
            run_cells(
                cells,
                {s.id: s for s in scenarios},
                players,
                store,
                task_set=ts.full_name,
                task_hash=ts.hash,
                split=split,
                progress=False,
            )
        )
        elapsed = time.perf_counter() - t
        store.close()
    return stats.completed, elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", default="test-0014", help="scenario id in negotiation-v1 (lite/test)")
    p.add_argument("--games", type=int, default=400)
    p.add_argument("--negmas-games", type=int, default=10)
    p.add_argument("--negmas-python", default=None)
    p.add_argument("--split", default="lite")
    args = p.parse_args()

    ts = open_task_set("negotiation-v1")
    scenario = next(s for s in ts.load("test") if s.id == args.scenario)
    print(f"scenario {scenario.id}: {len(scenario.issues)} issues, {scenario.n_outcomes} outcomes")
    seconds, deals = ours(scenario, args.games, 20)
    ours_gps = args.games / seconds
    print(f"arena-bench, 20 turns max (10 offers each): {ours_gps:,.0f} games/s ({deals}/{args.games} deals)")
    for steps in (10, 100):
        res = run_negmas(
            {"kind": "games", "n_games": args.negmas_games, "n_steps": steps, **scenario_job(scenario)},
            args.negmas_python,
            timeout=600,
        )
        if "error" in res:
            print(f"negmas: {res['error']}")
            break
        gps = res["games"] / res["seconds"]
        print(
            f"negmas SAOMechanism, n_steps={steps}: {gps:,.2f} games/s ({res['seconds'] / res['games']:.3f} s/game, "
            f"{res['agreements']}/{res['games']} agreements); arena-bench is {ours_gps / gps:,.0f}x faster"
        )
    n, elapsed = round_robin(args.split)
    print(
        f"panel-v1 round robin on {args.split} (runner, fsynced store): {n} games in {elapsed:.1f} s = "
        f"{n / elapsed:,.0f} games/s"
    )


if __name__ == "__main__":
    main()
