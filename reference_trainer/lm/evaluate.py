"""Each training stage of a language model scored through the benchmark on a fixed probe set: the
first 10 ``dev`` scenarios x {Boulware, Linear, Conceder, Pushover, Hardliner} x both roles x both
move orders (200 games), constrained decoding off, so invalid replies show. Stages are compared by
paired differences over the same cells (cell seeds do not depend on the model), with
cluster-bootstrap intervals over scenarios.

    python -m reference_trainer.lm.evaluate --out runs/lm-eval \\
        --stage raw=hf/smollm2-135m --stage sft=hf/runs/lm-cpu/model
    # or through a server (much faster on CPU: vLLM batches every game)
        --stage raw=openai/smollm2@http://127.0.0.1:8011/v1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arena_bench.config import RunConfig
from arena_bench.core.stats import DEFAULT_SEED, bootstrap_counts
from arena_bench.errors import RunError
from arena_bench.evaluation import run
from arena_bench.scoring.aggregate import rows_from_records
from arena_bench.scoring.diagnose import mean_estimate
from arena_bench.scoring.display import format_estimate
from arena_bench.scoring.results import Run

PROBE_OPPONENTS = (
    "scripted/boulware",
    "scripted/linear",
    "scripted/conceder",
    "scripted/pushover",
    "scripted/hardliner",
)


def probe_config(
    spec: str, api_base: str | None = None, max_tokens: int = 200, limit: int = 10, max_connections: int = 64
) -> RunConfig:
    options: dict[str, Any] = {"structured": "off", "max_tokens": max_tokens, "temperature": 0.0}
    if api_base:
        options["api_base"] = api_base
    return RunConfig(
        kind="evaluation",
        agents=(spec,),
        split="dev",
        limit=limit,
        opponents=PROBE_OPPONENTS,
        self_play=False,
        player_options={spec: options},
        runtime_options={spec: {"max_connections": max_connections}},
        # games in flight = requests in flight (a game waits on one reply at a time): games finish and are
        # stored as they go, so a stage stopped part way keeps them, at the same speed as all 200 at once
        max_concurrency=max_connections,
    )


def stage_rows(played: Run) -> pd.DataFrame:
    rows = rows_from_records(played.games)
    model = played.config.agents[0]
    rows = rows[rows["agent"] == model].copy()
    rows["below_batna"] = ((rows["deal"] == 1) & (rows["rational"] == 0)).astype(float)
    return rows


def compare(stages: dict[str, Run], b: int = 2000) -> dict[str, Any]:
    """Per stage: Arena Score, invalid and forfeited turns, deals, below-BATNA deals; and each stage
    minus the one before it, paired over the cells both played."""
    names = list(stages)
    frames = {n: stage_rows(stages[n]) for n in names}
    order = sorted(set().union(*(set(f["scenario_id"]) for f in frames.values())))
    weights = bootstrap_counts(len(order), b, np.random.default_rng(DEFAULT_SEED))
    out: dict[str, Any] = {"stages": {}, "differences": {}}
    for n, f in frames.items():
        cluster = pd.Categorical(f["scenario_id"], categories=order).codes
        out["stages"][n] = {
            k: mean_estimate(cluster, f[k].to_numpy(dtype=float), weights).to_dict()
            for k in ("arena_score", "value", "invalid_rate", "forfeit_rate", "deal", "below_batna")
        }
        counts = stages[n].results.counts
        # a game that failed (a server timeout, say) is not scored at all: the table says how many are in
        out["stages"][n]["games"] = {"completed": len(f), "planned": counts.planned, "failed": counts.failed}
    key = ["scenario_id", "opponent", "role", "first_mover", "rep"]
    for before, after in zip(names, names[1:]):
        a = frames[after].set_index(key)["arena_score"]
        b_ = frames[before].set_index(key)["arena_score"]
        both = pd.concat([a.rename("after"), b_.rename("before")], axis=1, join="inner").reset_index()
        cluster = pd.Categorical(both["scenario_id"], categories=order).codes
        out["differences"][f"{after} - {before}"] = mean_estimate(
            cluster, (both["after"] - both["before"]).to_numpy(), weights
        ).to_dict()
    return out


def table(found: dict[str, Any]) -> str:
    from arena_bench.scoring.results import Estimate

    lines = [
        "| stage | games | Arena Score | invalid turns | forfeited turns | deals | below-BATNA deals |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, s in found["stages"].items():
        cells = [
            format_estimate(Estimate.from_dict(s[k]), "full")
            for k in ("arena_score", "invalid_rate", "forfeit_rate", "deal", "below_batna")
        ]
        games = s.get("games")
        played = f"{games['completed']}/{games['planned']}" if games else ""
        lines.append(f"| {n} | {played} | " + " | ".join(cells) + " |")
    for label, d in found["differences"].items():
        n = f"{d['n']} pairs" if "n" in d else ""
        lines.append(
            f"| **{label}** (paired) | {n} | {format_estimate(Estimate.from_dict(d), 'full')} | | | | |"
        )
    return "\n".join(lines)


def incomplete(found: dict[str, Any]) -> list[str]:
    """One line per stage that is missing games, saying how to finish it."""
    return [
        f"stage {n}: {s['games']['completed']} of {s['games']['planned']} games ({s['games']['failed']} "
        "failed); serve that stage's model again and rerun: only the missing games are played"
        for n, s in found["stages"].items()
        if "games" in s and s["games"]["completed"] < s["games"]["planned"]
    ]


def stored_run(config: RunConfig, out: Path) -> Run:
    """The run CONFIG wrote under OUT, as far as it got (a stopped run writes its results file too)."""
    from arena_bench.planning import run_dir_for
    from arena_bench.scenarios.tasks import open_task_set
    from arena_bench.scoring.results import load_run

    folder = run_dir_for(config, out, open_task_set(config.tasks).hash)
    if not (folder / "results.json").is_file():
        raise SystemExit(f"{folder}: no results.json; play that stage (without --stored) to write it")
    return load_run(folder)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m reference_trainer.lm.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument(
        "--stage", action="append", required=True, help="NAME=SPEC or NAME=SPEC@API_BASE, in order"
    )
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--limit", type=int, default=10)
    p.add_argument(
        "--max-tokens", type=int, default=200, help="per reply (the teacher's replies need under 120)"
    )
    p.add_argument("--max-connections", type=int, default=64, help="requests in flight to a server")
    p.add_argument(
        "--stored",
        action="store_true",
        help="compare the games each stage has stored, playing none (a stage stopped part way shows its count)",
    )
    args = p.parse_args(argv)
    stages = {}
    for item in args.stage:
        name, spec = item.split("=", 1)
        spec, _, base = spec.partition("@")
        config = probe_config(spec, base or None, args.max_tokens, args.limit, args.max_connections)
        if args.stored:
            stages[name] = stored_run(config, args.out / name)
        else:
            try:
                stages[name] = run(config, args.out / name, resume=True, progress=False)
            except RunError as exc:  # this command always resumes: going on is running it again
                raise SystemExit(
                    f"stage {name}: {exc} (here: run this command again, or add --stored)"
                ) from None
    found = compare(stages)
    found["specs"] = {name: item.split("=", 1)[1] for name, item in zip(stages, args.stage)}
    (args.out / "stages.json").write_text(json.dumps(found, indent=2))
    (args.out / "stages.md").write_text(table(found) + "\n")
    print(table(found))
    for line in incomplete(found):
        print("warning: " + line, file=sys.stderr)


if __name__ == "__main__":
    main()
