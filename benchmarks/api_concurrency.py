"""Games per second against an OpenAI-compatible server that answers after a fixed delay,
at several concurrencies, against the ideal (concurrency / (model turns per game x delay)).

    python benchmarks/api_concurrency.py --delay-ms 200 --concurrency 1,16,64

Uses the loopback server of the test suite (tests/fake_openai_server.py) and litellm for
real; the model plays scripted/boulware, whose replies take no time.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from arena_bench.evaluation import RunConfig, run  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--delay-ms", type=int, default=200)
    p.add_argument("--concurrency", default="1,16,64")
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
        for conc in (int(c) for c in args.concurrency.split(",")):
            out = Path(tempfile.mkdtemp())
            # 8 games per scenario (2 opponents x 2 roles x 2 move orders)
            limit = min(35, max(2, -(-max(16, args.games_per_slot * conc) // 8)))
            try:
                config = RunConfig(
                    kind="evaluation",
                    agents=(model,),
                    split="lite",
                    limit=limit,
                    opponents=("scripted/boulware", "scripted/conceder"),
                    self_play=False,
                    max_concurrency=conc,
                    bootstrap_replicates=100,
                    player_options={model: {"api_base": url, "structured": "off"}},
                    runtime_options={model: {"max_connections": conc}},
                )
                played = run(config, out, progress=False)
                games = played.games
                elapsed = played.results.counts.seconds_this_session  # the playing only: no import, no report
                calls = sum(len(t.attempts) for g in games for t in g.turns if g.players[t.role] == model)
                n = len(games)
                turns_per_game = calls / n
                ideal = conc / (turns_per_game * delay)
                gps = n / elapsed
                print(
                    f"concurrency {conc:>3}: {n} games in {elapsed:6.1f} s = {gps:6.2f} games/s; "
                    f"{turns_per_game:.1f} model calls/game x {args.delay_ms} ms -> ideal {ideal:6.2f} games/s; "
                    f"{100 * gps / ideal:5.1f}% of ideal"
                )
            finally:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        server_proc.terminate()


if __name__ == "__main__":
    main()
