"""Games per second against an OpenAI-compatible server that answers after a fixed delay, at
several concurrencies, against the ideal (concurrency / (model turns per game x delay)), for the
lean OpenAI client and litellm side by side, with the client's CPU per call.

    python benchmarks/api_concurrency.py --delay-ms 500 --concurrency 64,256 --backends openai,litellm

Uses the loopback server of the test suite (tests/fake_openai_server.py), in its own process; the
panel side plays scripted agents, whose replies take no time. Games in flight = connections.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena_bench.evaluation import RunConfig, run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=int, default=200)
    p.add_argument("--concurrency", default="1,16,64")
    p.add_argument("--backends", default="openai,litellm", help="openai (the lean client), litellm")
    p.add_argument(
        "--games-per-slot",
        type=int,
        default=4,
        help="games per concurrency slot (at least 16 games), so the pool stays full",
    )
    args = p.parse_args()
    model = f"openai/delay-{args.delay_ms}"
    delay = args.delay_ms / 1000
    # The server runs in its own process: in this one it would compete with the client for the GIL.
    server_proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai_server.py")], stdout=subprocess.PIPE, text=True
    )
    url = server_proc.stdout.readline().strip()
    try:
        for backend in args.backends.split(","):
            for conc in (int(c) for c in args.concurrency.split(",")):
                measure(backend, conc, model, url, delay, args)
    finally:
        server_proc.terminate()


def measure(backend: str, conc: int, model: str, url: str, delay: float, args) -> None:
    out = Path(tempfile.mkdtemp())
    # 8 games per scenario (2 opponents x 2 roles x 2 move orders); repetitions beyond lite's 35
    # scenarios, so that every connection has games_per_slot games and the pool stays full
    wanted = max(16, args.games_per_slot * conc)
    limit = min(35, max(2, -(-wanted // 8)))
    reps = -(-wanted // (8 * limit))
    try:
        config = RunConfig(
            kind="evaluation",
            agents=(model,),
            split="lite",
            limit=limit,
            reps=reps,
            opponents=("scripted/boulware", "scripted/conceder"),
            self_play=False,
            max_concurrency=conc,
            bootstrap_replicates=100,
            player_options={model: {"api_base": url, "structured": "off"}},
            runtime_options={model: {"max_connections": conc, "backend": backend}},
        )
        cpu = time.process_time()
        played = run(config, out, progress=False)
        cpu = time.process_time() - cpu
        games = played.games
        elapsed = played.results.counts.seconds_this_session  # the playing only: no import, no report
        calls = sum(len(t.attempts) for g in games for t in g.turns if g.players[t.role] == model)
        n = len(games)
        turns_per_game = calls / n
        ideal = conc / (turns_per_game * delay)
        gps = n / elapsed
        print(
            f"{backend:<7} connections {conc:>3}: {n} games, {calls} calls in {elapsed:6.1f} s = {gps:6.2f} games/s; "
            f"ideal {ideal:6.2f} ({turns_per_game:.1f} calls/game x {args.delay_ms} ms): {100 * gps / ideal:5.1f}% "
            f"of ideal; client CPU {1000 * cpu / calls:5.2f} ms/call (whole run, harness included)",
            flush=True,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
