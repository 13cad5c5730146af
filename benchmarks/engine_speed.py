"""Game engine speed, side by side in one run: the array engine, the reference loop, NegMAS.

    python benchmarks/engine_speed.py --negmas-python /path/to/venv-with-negmas/bin/python

0. End to end, as a user runs it: ``arena-bench tournament --agents panel-v1 --split dev --engine E``
   for both engines (a fresh process each: import, plan, play, results, report), the wall time of
   each and the ratio; then the array run again in this process with its time split into playing
   (the runner), building the results (statistics and diagnostics) and writing the report.
1. The panel-v2 round robin on a split (default dev: 105 scenarios x 162 games) through the
   tournament runner with the fsynced game store, once per engine: games per second and the
   ratio. The two stores are compared line for line (they must be the same records). The array
   engine's time is also split into playing (the array program), building the records and
   storing them, and the array program is timed again alone.
2. One scenario, Boulware against Conceder (NegMAS's BoulwareTBNegotiator against
   ConcederTBNegotiator), 20 steps: the array engine on a batch of games, the reference loop one
   game at a time, and NegMAS's SAOMechanism; games per second and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from common import run_negmas, scenario_job

from arena_bench.agents.scripted import TimeBased
from arena_bench.arrays.batch import GameSpec, play_batch
from arena_bench.core.analysis import analyse
from arena_bench.planning import agent_seed, cell_seed, plan_cells
from arena_bench.playing.game import play_game
from arena_bench.playing.players import make_player, panel
from arena_bench.playing.runner import GameStore, run_cells
from arena_bench.scenarios.tasks import open_task_set

TS = open_task_set("negotiation-v1")


class Timers:
    """Seconds spent in functions during a run, by wrapping them: by default the array engine's three
    steps (playing, building the records, storing them); or PATCHES, (owner, name, label) each."""

    def __init__(self, patches: list[tuple[object, str, str]] | None = None):
        if patches is None:
            import arena_bench.arrays.batch as batch
            import arena_bench.arrays.records as records

            patches = [
                (batch, "play_batch", "play"),
                (records, "game_records", "records"),
                (GameStore, "append_many", "store"),
            ]
        self.seconds = {label: 0.0 for _, _, label in patches}
        self._patched = patches
        self._saved = []

    def __enter__(self):
        for owner, name, label in self._patched:
            f = getattr(owner, name)
            self._saved.append((owner, name, f))
            setattr(owner, name, self._timed(f, label))
        return self

    def _timed(self, f, label):
        if asyncio.iscoroutinefunction(f):  # the runner: time the games, not the coroutine's creation

            async def waited(*args, **kwargs):
                t = time.perf_counter()
                try:
                    return await f(*args, **kwargs)
                finally:
                    self.seconds[label] += time.perf_counter() - t

            return waited

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return f(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - t

        return wrapper

    def __exit__(self, *exc):
        for owner, name, f in self._saved:
            setattr(owner, name, f)


def end_to_end(split: str, engine: str, folder: Path) -> float:
    """Wall seconds of the tournament command in a fresh process (``--no-progress``)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "arena_bench.cli", "tournament", "--agents", "panel-v1", "--split", split,
           "--engine", engine, "--output-path", str(folder / engine), "--no-progress"]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def end_to_end_parts(split: str, folder: Path) -> dict[str, float]:
    """The array tournament in this process: seconds in the runner, the results and the report."""
    import arena_bench.evaluation as evaluation
    import arena_bench.scoring.report as report
    from arena_bench.evaluation import run_with_report, tournament_config

    patches = [(evaluation, "run_plan", "play"), (evaluation, "build_results", "results"),
               (report, "write_report", "report")]  # fmt: skip
    with Timers(patches) as timers:
        t = time.perf_counter()
        run_with_report(
            tournament_config("panel-v1", split=split, engine="array"),
            Path(tempfile.mkdtemp(dir=folder)) / "parts",  # a fresh folder: nothing to resume
            progress=False,
        )
        timers.seconds["total"] = time.perf_counter() - t
    return timers.seconds


def round_robin(split: str, engine: str, folder: Path, limit: int | None) -> tuple[int, float, list[str]]:
    scenarios = TS.load(split)[:limit]
    specs = list(panel("panel-v2"))
    cells = plan_cells(scenarios, [(x, y) for i, x in enumerate(specs) for y in specs[i:]])
    store = GameStore(folder / f"{engine}.jsonl")
    t = time.perf_counter()
    stats = asyncio.run(
        run_cells(
            cells,
            {s.id: s for s in scenarios},
            {s: make_player(s) for s in specs},
            store,
            task_set=TS.full_name,
            task_hash=TS.hash,
            split=split,
            progress=False,
            engine=engine,
        )
    )
    elapsed = time.perf_counter() - t
    store.close()
    return stats.completed, elapsed, sorted((folder / f"{engine}.jsonl").read_text().splitlines())


def array_play_only(split: str, limit: int | None) -> tuple[int, float]:
    """The array program alone (no records, no store), in the runner's batches."""
    from arena_bench.playing.runner import ARRAY_CHUNK

    scenarios = TS.load(split)[:limit]
    specs = list(panel("panel-v2"))
    cells = plan_cells(scenarios, [(x, y) for i, x in enumerate(specs) for y in specs[i:]])
    by_id = {s.id: s for s in scenarios}
    cells.sort(key=lambda c: by_id[c.scenario_id].n_outcomes)
    games = []
    for c in cells:
        seed = cell_seed(TS.full_name, c)
        games.append(
            GameSpec(
                by_id[c.scenario_id], c.players, c.first_mover, (agent_seed(seed, 0), agent_seed(seed, 1))
            )
        )
    t = time.perf_counter()
    start = 0
    while start < len(games):
        end = start
        while end < len(games) and (end - start + 1) * games[end].scenario.n_outcomes <= ARRAY_CHUNK:
            end += 1
        play_batch(games[start : max(end, start + 1)])
        start = max(end, start + 1)
    return len(games), time.perf_counter() - t


def one_scenario_reference(scenario, n_games: int) -> float:
    analysis = analyse(scenario)

    async def go() -> None:
        for g in range(n_games):
            agents = (TimeBased(0, g, e=0.2), TimeBased(1, g + 1, e=2.0))
            await play_game(scenario, analysis, agents, first_mover=g % 2, max_turns=20)

    t = time.perf_counter()
    asyncio.run(go())
    return n_games / (time.perf_counter() - t)


def one_scenario_array(scenario, n_games: int) -> float:
    specs = [
        GameSpec(scenario, ("scripted/boulware", "scripted/conceder"), g % 2, (g, g + 1))
        for g in range(n_games)
    ]
    t = time.perf_counter()
    play_batch(specs, 20)
    return n_games / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="dev")
    p.add_argument("--limit", type=int, default=None, help="first N scenarios of the split only")
    p.add_argument("--scenario", default="test-0014", help="scenario id in negotiation-v1 (test) for part 2")
    p.add_argument("--games", type=int, default=400, help="reference-loop games in part 2")
    p.add_argument("--array-games", type=int, default=20000, help="array-engine games in part 2 (one batch)")
    p.add_argument("--negmas-games", type=int, default=20)
    p.add_argument("--negmas-python", default=None)
    p.add_argument("--skip-end-to-end", action="store_true")
    p.add_argument("--end-to-end-only", action="store_true", help="part 0 only")
    p.add_argument("--repeat", type=int, default=1, help="part 0's in-process split, this many times")
    args = p.parse_args()

    if not args.skip_end_to_end:
        print(f"0. tournament --agents panel-v1 --split {args.split}, end to end (fresh processes)")
        with tempfile.TemporaryDirectory() as tmp:
            t_ref = end_to_end(args.split, "reference", Path(tmp))
            t_arr = end_to_end(args.split, "array", Path(tmp))
            print(
                f"   --engine reference: {t_ref:.1f} s; --engine array: {t_arr:.1f} s; ratio {t_ref / t_arr:.1f}x"
            )
            for _ in range(args.repeat):
                parts = end_to_end_parts(args.split, Path(tmp))
                print(
                    f"   array run in process: {parts['total']:.1f} s = play {parts['play']:.1f} s, results "
                    f"{parts['results']:.1f} s, report {parts['report']:.1f} s (results + report / play = "
                    f"{(parts['results'] + parts['report']) / parts['play']:.2f})"
                )
        if args.end_to_end_only:
            return

    print("1. panel-v2 round robin through the runner (fsynced store), one engine after the other")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with Timers() as timers:
            n_a, t_a, lines_a = round_robin(args.split, "array", folder, args.limit)
        n_r, t_r, lines_r = round_robin(args.split, "reference", folder, args.limit)
    same = lines_a == lines_r
    print(f"   reference loop: {n_r} games in {t_r:.1f} s = {n_r / t_r:,.0f} games/s")
    print(f"   array engine:   {n_a} games in {t_a:.1f} s = {n_a / t_a:,.0f} games/s")
    print(f"   ratio: {t_r / t_a:.1f}x; records identical: {same}")
    split_up = ", ".join(f"{k} {v:.2f} s ({v / t_a:.0%})" for k, v in timers.seconds.items())
    other = t_a - sum(timers.seconds.values())
    print(
        f"   array engine's time: {split_up}, the rest (ids, seeds, batching) {other:.2f} s ({other / t_a:.0%})"
    )
    n_p, t_p = array_play_only(args.split, args.limit)
    print(
        f"   array engine, playing only (no records), again after the run: {n_p / t_p:,.0f} games/s = "
        f"{n_p / t_p / (n_r / t_r):.1f}x the reference loop with records"
    )

    scenario = next(s for s in TS.load("test") if s.id == args.scenario)
    print(
        f"2. {scenario.id}: {len(scenario.issues)} issues, {scenario.n_outcomes} outcomes; Boulware vs Conceder"
    )
    ref = one_scenario_reference(scenario, args.games)
    arr = one_scenario_array(scenario, args.array_games)
    print(f"   reference loop (20 turns): {ref:,.0f} games/s")
    print(
        f"   array engine, batch {args.array_games} (20 turns): {arr:,.0f} games/s = {arr / ref:.0f}x the loop"
    )
    res = run_negmas(
        {"kind": "games", "n_games": args.negmas_games, "n_steps": 20, **scenario_job(scenario)},
        args.negmas_python,
        timeout=600,
    )
    if "error" in res:
        print(f"   negmas: {res['error']}")
    else:
        gps = res["games"] / res["seconds"]
        print(
            f"   negmas SAOMechanism, n_steps=20: {gps:,.1f} games/s ({res['agreements']}/{res['games']} agreements); "
            f"the array engine is {arr / gps:,.0f}x, the reference loop {ref / gps:,.1f}x"
        )
    print(json.dumps({"round_robin_ratio": round(t_r / t_a, 2), "records_identical": same}))


if __name__ == "__main__":
    main()
