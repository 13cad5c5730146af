"""python -m reference_trainer --config FILE [--device cuda] [--out DIR]"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from .train import TrainConfig, train


def parse_overrides(items) -> dict:
    """``key=value`` settings; a value is JSON where it parses as JSON, else the plain string."""
    changes = {}
    for item in items:
        k, _, v = item.partition("=")
        try:
            changes[k] = json.loads(v)
        except json.JSONDecodeError:
            changes[k] = v
    return changes


def nest(changes: dict, raw: dict) -> dict:
    """``rl.iterations=4`` changes one setting of the config's ``rl`` table and keeps the others."""
    flat = {k: v for k, v in changes.items() if "." not in k}
    for key, value in changes.items():
        if "." not in key:
            continue
        table, _, name = key.partition(".")
        base = flat.get(table, raw.get(table, {}))
        if not isinstance(base, dict):
            raise SystemExit(f"--set {key}: {table!r} is not a table of settings")
        flat[table] = {**base, name: value}
    return flat


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m reference_trainer", description=__doc__)
    p.add_argument("--config", type=Path, default=None, help="JSON file of TrainConfig settings")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--set", nargs="*", default=[], help="overrides key=value (JSON values)")
    p.add_argument(
        "--push-to-hub", default=None, metavar="ORG/NAME", help="upload the trained LM's model/ folder"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run on the same --out from its checkpoints (LM configs: SFT and RL)",
    )
    args = p.parse_args(argv)
    changes = parse_overrides(args.set)
    if args.device:
        changes["device"] = args.device
    if args.out:
        changes["out"] = args.out
    raw = json.loads(args.config.read_text()) if args.config else {}
    if raw.get("kind") == "lm":  # a language model: teacher data, warmup, RL, evaluation
        from .lm.pipeline import run_lm
        from .lm.sft import LMConfig

        cfg = LMConfig.from_dict({**raw, **nest(changes, raw)})  # unknown settings named, as in the file
        summary = run_lm(cfg, str(args.config) if args.config else None, changes, resume=args.resume)
        if args.push_to_hub:
            from .lm.hub import push_to_hub

            summary["pushed"] = {
                "repo": args.push_to_hub,
                "commit": push_to_hub(Path(cfg.out) / "model", args.push_to_hub),
            }
            (Path(cfg.out) / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        print(json.dumps(summary, indent=2, default=str))
        return
    if args.push_to_hub:
        p.error('--push-to-hub uploads a language model: it needs a config with "kind": "lm"')
    if args.resume:
        p.error('--resume continues a language-model run (a config with "kind": "lm")')
    cfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    cfg = dataclasses.replace(cfg, **changes)
    summary = train(cfg)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
