"""python -m reference_trainer --config FILE [--device cuda] [--out DIR]"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from .train import TrainConfig, train


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m reference_trainer", description=__doc__)
    p.add_argument("--config", type=Path, default=None, help="JSON file of TrainConfig settings")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--set", nargs="*", default=[], help="overrides key=value (JSON values)")
    args = p.parse_args(argv)
    cfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    changes = {}
    for item in args.set:
        k, v = item.split("=", 1)
        try:
            changes[k] = json.loads(v)
        except json.JSONDecodeError:
            changes[k] = v
    if args.device:
        changes["device"] = args.device
    if args.out:
        changes["out"] = args.out
    cfg = dataclasses.replace(cfg, **changes)
    summary = train(cfg)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
