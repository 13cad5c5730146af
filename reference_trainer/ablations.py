"""Ablations of the reference trainer, each one command, several seeds, evaluated on ``test``.

    python -m reference_trainer.ablations --config reference_trainer/configs/ablation-v2.json \
        --seeds 1 2 3 --jobs 2 --out runs/ablations-v2

Each variant changes one setting of the base config (reward, population, shaping, warmup); a
variant that would not change the base (its reward already) is left out. Every (variant, seed)
trains to ``<out>/<variant>/seed<k>/`` (skipped when its policy already exists, so an interrupted
sweep resumes) and its policy plays the scripted panel and itself on the evaluation split. All
policies play the same cells with the same game seeds, so variants are compared paired, cell by
cell; seed k of a variant is paired with seed k of the base config (``rep`` = seed index), and the
cluster bootstrap over scenarios gives the interval. The spread over training seeds is reported
beside it (one mean per seed), because the bootstrap over scenarios does not include training
noise. Then every variant's policies play every other variant's (``--crossplay-limit`` scenarios):
the essay's test of whether a policy trained one way is brittle against policies trained another.

Writes ``ablations.json``, ``ablations.md`` (the tables) and ``ablations.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

BASELINE = "base config"
VARIANTS: dict[str, dict[str, Any]] = {
    BASELINE: {},
    "nash": {"reward": "nash"},
    "selfish": {"reward": "selfish"},
    "close": {"reward": "close"},
    "latest-only": {"population": False},
    "terminal only": {"shaping": False},
    "from scratch": {"warmup": False},
    "arena": {"reward": "arena"},  # the benchmark's own per-game score as the reward
}
REQUIRED = list(VARIANTS)


def applicable(base: dict[str, Any], names: list[str]) -> list[str]:
    """The variants that change something in ``base`` (a reward variant equal to the base's own
    reward is the base config itself), the base config first."""
    out = [BASELINE]
    for name in names:
        if name != BASELINE and any(base.get(k) != v for k, v in VARIANTS[name].items()):
            out.append(name)
    return out


EVAL_PANEL = "panel-v1"  # the scripted panel: the shipped trained policy is not an opponent here


def slug(name: str) -> str:
    return name.replace(" ", "-")


def _train_one(cfg_dict: dict[str, Any]) -> str:
    from .train import TrainConfig, train

    cfg = TrainConfig(**cfg_dict)
    if (Path(cfg.out) / "policy.npz").is_file():
        return str(Path(cfg.out) / "policy.npz")
    train(cfg, log=lambda msg: None)
    return str(Path(cfg.out) / "policy.npz")


def _evaluate_one(job: tuple[str, str, int | None, str]) -> str:
    from arena_bench.evaluation import RunConfig, run

    policy, split, limit, out = job
    config = RunConfig(
        kind="evaluation",
        agents=(f"policy/{policy}",),
        split=split,
        limit=limit,
        panel=EVAL_PANEL,
        bootstrap_replicates=200,
    )
    return str(run(config, Path(out), resume=True, progress=False).path)


def sweep(
    base: dict[str, Any],
    seeds: list[int],
    out: Path,
    split: str,
    limit: int | None,
    jobs: int,
    variants: list[str],
    crossplay_limit: int | None = 0,
) -> dict[str, Any]:
    """Train and evaluate every (variant, seed); ``crossplay_limit``: the first N scenarios of the
    split for the cross-play of the variants' policies (None: as the evaluation; 0: none)."""
    out.mkdir(parents=True, exist_ok=True)
    plan = []
    for name in variants:
        for s in seeds:
            d = {
                **base,
                **VARIANTS[name],
                "seed": s,
                "eval_every": 0,
                "out": str(out / slug(name) / f"seed{s}"),
                "threads": 1 if jobs > 1 else base.get("threads", 2),
            }
            plan.append((name, s, d))
    # spawn, not fork: a forked child of a process that has run torch can hang on its thread pool
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        policies = list(pool.map(_train_one, [d for _, _, d in plan]))
        eval_jobs = [(p, split, limit, str(Path(d["out"]) / "eval")) for p, (_, _, d) in zip(policies, plan)]
        run_dirs = list(pool.map(_evaluate_one, eval_jobs))
    result = summarise(plan, policies, run_dirs, seeds, variants, split, limit)
    if crossplay_limit != 0 and len(variants) > 1:
        by_variant: dict[str, list[str]] = {}
        for (name, _, _), policy in zip(plan, policies):
            by_variant.setdefault(name, []).append(policy)
        cross_limit = limit if crossplay_limit is None else crossplay_limit
        result["crossplay"] = crossplay(by_variant, split, cross_limit, out / "crossplay")
    from arena_bench.storage import write_atomic

    write_atomic(out / "ablations.json", json.dumps(result, indent=2, default=str))
    write_atomic(out / "ablations.md", markdown(result))
    plot(result, out / "ablations.png")
    return result


def crossplay(
    by_variant: dict[str, list[str]], split: str, limit: int | None, folder: Path
) -> dict[str, Any]:
    """Every variant's policies against every other variant's (seed k against every seed), on the
    same cells: the matrix of mean Arena Scores (row against column), and each variant paired with
    the base config against the opponents that are neither of them (same opponent policy, seed
    index, scenario, role and move order), with a cluster-bootstrap interval over scenarios. This
    is the essay's test of brittleness: a policy trained only against itself meeting policies
    trained differently."""
    from .exploit import challenge_pairs, paired_gain

    spec_of = {f"policy/{p}": (name, k) for name, paths in by_variant.items() for k, p in enumerate(paths)}
    specs = list(spec_of)
    pairs = [(a, b) for i, a in enumerate(specs) for b in specs[i + 1 :] if spec_of[a][0] != spec_of[b][0]]
    records = challenge_pairs(pairs, split, limit, folder)
    names = list(by_variant)
    sums = {(a, b): [0.0, 0] for a in names for b in names}
    # score[(variant, seed index)][(scenario, role, first mover, opponent spec)]
    score: dict[tuple[str, int], dict[tuple, float]] = {}
    for r in records:
        for side in (0, 1):
            me, them = spec_of[r.players[side]], spec_of[r.players[1 - side]]
            x = r.sides[side].arena_score
            cell = sums[(me[0], them[0])]
            cell[0] += x
            cell[1] += 1
            score.setdefault(me, {})[(r.scenario_id, side, r.first_mover, r.players[1 - side])] = x
    matrix = {
        a: {b: (sums[(a, b)][0] / sums[(a, b)][1] if sums[(a, b)][1] else None) for b in names} for a in names
    }
    paired = {}
    for name in names:
        if name == BASELINE:
            continue
        a_cells, b_cells = {}, {}
        for k in range(min(len(by_variant[name]), len(by_variant[BASELINE]))):
            for key, x in score.get((name, k), {}).items():
                if spec_of[key[3]][0] in (name, BASELINE):
                    continue
                y = score.get((BASELINE, k), {}).get(key)
                if y is not None:
                    a_cells[(key[0], k, *key[1:])], b_cells[(key[0], k, *key[1:])] = x, y
        if a_cells:
            paired[name] = paired_gain(a_cells, b_cells)
    return {"split": split, "limit": limit, "games": len(records), "matrix": matrix, "vs_base": paired}


def summarise(plan, policies, run_dirs, seeds, variants, split: str, limit: int | None) -> dict[str, Any]:
    import pandas as pd

    from arena_bench.scoring.aggregate import evaluate, rows_from_records
    from arena_bench.scoring.results import load_run

    frames, per_seed, train_info = [], {}, {}
    for (name, s, d), policy, run_dir in zip(plan, policies, run_dirs):
        rows = rows_from_records(load_run(Path(run_dir)).games)
        agent = f"policy/{policy}"
        rows = rows[rows["agent"] == agent].copy()
        rows["agent"] = name
        rows["rep"] = seeds.index(s)  # pairs seed k of one variant with seed k of another
        frames.append(rows)
        per_seed.setdefault(name, []).append(
            {m: float(rows[m].mean()) for m in ("arena_score", "value", "welfare", "deal")}
        )
        summary = json.loads((Path(d["out"]) / "summary.json").read_text())
        train_info.setdefault(name, []).append(summary)
    df = pd.concat(frames, ignore_index=True)
    res = evaluate(df, variants, b=2000).to_dict()
    table = []
    for name in variants:
        a = res["agents"][name]
        cross = res["crossplay"][name]
        worst_opp = min(cross, key=lambda o: cross[o]["mean"])
        row = {
            "variant": name,
            "settings": VARIANTS[name],
            **{m: a[m] for m in ("arena_score", "value", "welfare", "deal")},
            "seed_means": [p["arena_score"] for p in per_seed[name]],
            "seed_deal": [p["deal"] for p in per_seed[name]],
            "worst_opponent": {"opponent": worst_opp, **cross[worst_opp]},
            "crossplay": cross,
            "train_seconds": [t["seconds"] for t in train_info[name]],
        }
        if name != BASELINE:
            pair = next(p for p in res["pairs"] if {p["a"], p["b"]} == {name, BASELINE})
            sign = 1 if pair["a"] == name else -1
            lo, hi = sorted((sign * pair["lo"], sign * pair["hi"]))
            row["vs_default"] = {"diff": sign * pair["diff"], "lo": lo, "hi": hi, "p_holm": pair["p_holm"]}
        table.append(row)
    result = {
        "split": split,
        "limit": limit,
        "seeds": seeds,
        "panel": EVAL_PANEL,
        "scenarios": res["scenarios"],
        "base_config": plan[0][2] | {"seed": None, "out": None},
        "variants": table,
        "settings": res["settings"],
    }
    return result


def _ci(e: dict[str, Any]) -> str:
    return (
        f"{e['mean']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}]" if e.get("lo") is not None else f"{e['mean']:.3f}"
    )


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"Evaluated on `{result['split']}` ({result['scenarios']} scenarios) against the scripted "
        f"{result['panel']} and itself; seeds {', '.join(map(str, result['seeds']))} pooled; 95% cluster-bootstrap "
        "intervals over scenarios; paired differences cell by cell and seed by seed (Holm-adjusted p).",
        "",
        "| variant | Arena Score | Value | Welfare | Deal rate | per-seed Arena Score | worst opponent | minus default |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["variants"]:
        w = r["worst_opponent"]
        vs = r.get("vs_default")
        diff = f"{vs['diff']:+.3f} [{vs['lo']:+.3f}, {vs['hi']:+.3f}] (p={vs['p_holm']:.3g})" if vs else ""
        lines.append(
            f"| {r['variant']} | {_ci(r['arena_score'])} | {_ci(r['value'])} | {_ci(r['welfare'])} | "
            f"{_ci(r['deal'])} | {', '.join(f'{x:.3f}' for x in r['seed_means'])} | "
            f"{w['opponent'].split('/')[-1]} {w['mean']:.3f} | {diff} |"
        )
    cross = result.get("crossplay")
    if cross:
        names = list(cross["matrix"])
        lines += [
            "",
            f"Cross-play on `{cross['split']}` (first {cross['limit']} scenarios; {cross['games']} games): each "
            "variant's policies (rows) against the other variants' policies (columns), mean Arena Score; the last "
            "column pairs the row with the base config against the opponents that are neither of them.",
            "",
            "| policies of | " + " | ".join(names) + " | minus base config, same opponents |",
            "| --- |" + " --- |" * (len(names) + 1),
        ]
        for a in names:
            cells = " | ".join(
                "" if cross["matrix"][a][b] is None else f"{cross['matrix'][a][b]:.3f}" for b in names
            )
            g = cross["vs_base"].get(a)
            diff = f"{g['mean']:+.3f} [{g['lo']:+.3f}, {g['hi']:+.3f}]" if g else ""
            lines.append(f"| {a} | {cells} | {diff} |")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["variants"]
    names = [r["variant"] for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 4, figsize=(16, 4), sharey=False)
    for ax, metric, title in zip(
        axes, ("arena_score", "value", "welfare", "deal"), ("Arena Score", "Value", "Welfare", "Deal rate")
    ):
        mean = np.array([r[metric]["mean"] for r in rows])
        lo = np.array([r[metric]["lo"] for r in rows])
        hi = np.array([r[metric]["hi"] for r in rows])
        ax.bar(x, mean, yerr=[mean - lo, hi - mean], capsize=3, color="#8fb3d9")
        if metric == "arena_score":
            for i, r in enumerate(rows):
                ax.plot([i] * len(r["seed_means"]), r["seed_means"], "k.", ms=5)
        ax.set_xticks(x, names, rotation=35, ha="right")
        ax.set_title(title + (" (dots: seeds)" if metric == "arena_score" else ""))
    fig.suptitle(f"Ablations on {result['split']} vs {result['panel']}, 95% intervals")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    from .train import TrainConfig

    p = argparse.ArgumentParser(
        prog="python -m reference_trainer.ablations",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", type=Path, required=True, help="base TrainConfig JSON")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument(
        "--variants",
        nargs="+",
        default=REQUIRED,
        choices=list(VARIANTS),
        metavar="VARIANT",
        help=f"subset of: {', '.join(VARIANTS)}",
    )
    p.add_argument("--split", default="test")
    p.add_argument("--limit", type=int, default=None, help="first N scenarios of the split (default: all)")
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument(
        "--crossplay-limit",
        type=int,
        default=105,
        help="cross-play of the variants' policies on the first N scenarios of the split (0: none)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/ablations"))
    args = p.parse_args(argv)
    base = dataclasses.asdict(TrainConfig.from_file(args.config))
    args.variants = applicable(base, args.variants)
    result = sweep(
        base, args.seeds, args.out, args.split, args.limit, args.jobs, args.variants, args.crossplay_limit
    )
    print(markdown(result))


if __name__ == "__main__":
    main()
