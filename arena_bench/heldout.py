"""Held-out evaluation the way Hub leaderboards work: submissions are requests, not results.

A request is one JSON file in a requests dataset on the Hub (``requests/<model>.json``, the
convention of the HF leaderboard template): ``{"model": "openai/gpt-4o-mini", "status": "PENDING",
"model_args": {...}}``. The maintainers keep a held-out task set (``tasks generate --seed SECRET
--name ... --id-prefix ...``); its manifest hash is published, its content is not.
:func:`evaluate_requests` plays each pending request with the normal harness on that set,
verifies the run exactly as the leaderboard does, pushes the results file (statistics only: the
games would reveal the scenarios) to the results dataset, and marks the request FINISHED, or
FAILED with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ArenaBenchError, ConfigError, SubmitError
from .evaluation import evaluation_config, run, slug
from .tasks import open_task_set
from .verify import Expected, verify_run

REQUESTS_FOLDER = "requests"
HELDOUT_FOLDER = "heldout"
# What a requester may choose: model-side settings only. Anything that changes the game is official.
REQUEST_SETTINGS = (
    "temperature",
    "max_tokens",
    "gen_seed",
    "structured",
    "timeout_s",
    "api_base",
    "model_args",
)


@dataclass
class EvalRequest:
    path: str  # in the requests repository
    model: str
    status: str
    settings: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)  # the whole file, kept as sent

    @classmethod
    def from_file(cls, path: str, raw: bytes) -> EvalRequest:
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return cls(path, "", "INVALID", data={"error": f"not valid JSON ({exc})"})
        model = data.get("model") if isinstance(data, dict) else None
        if not isinstance(model, str) or not model:
            return cls(path, "", "INVALID", data={"error": "field 'model' is missing"})
        settings = data.get("settings") or {}
        unknown = (
            sorted(set(settings) - set(REQUEST_SETTINGS)) if isinstance(settings, dict) else ["settings"]
        )
        if unknown:
            return cls(
                path, model, "INVALID", data={**data, "error": f"settings {unknown} are not the requester's"}
            )
        return cls(path, model, str(data.get("status", "PENDING")), dict(settings), data)


def read_requests(repo: str) -> list[EvalRequest]:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo, repo_type="dataset"))
    except Exception as exc:  # noqa: BLE001 - Hub and network errors have no common base
        raise SubmitError(f"cannot read the requests dataset {repo}: {type(exc).__name__}: {exc}") from None
    return [
        EvalRequest.from_file(str(p.relative_to(folder)), p.read_bytes())
        for p in sorted((folder / REQUESTS_FOLDER).glob("*.json"))
    ]


def _commit(api, repo: str, files: dict[str, bytes], message: str) -> None:
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in files.items()]
    api.create_commit(repo, ops, commit_message=message, repo_type="dataset")


def evaluate_requests(
    requests_repo: str,
    tasks: Path,
    results_repo: str,
    split: str = "test",
    output_path: Path = Path("heldout-runs"),
    progress: bool = False,
    log=print,
) -> list[dict[str, Any]]:
    """Run every PENDING request on the held-out set; push verified results; mark each request."""
    from huggingface_hub import HfApi

    ts = open_task_set(tasks)
    expected = Expected(task_hash=ts.hash, split=split)
    api = HfApi()
    done = []
    for request in read_requests(requests_repo):
        if request.status not in ("PENDING", "INVALID"):
            continue
        outcome: dict[str, Any] = {"request": request.path, "model": request.model}
        try:
            if request.status == "INVALID":
                raise ConfigError(request.data.get("error", "invalid request"))
            config = evaluation_config(request.model, tasks=str(tasks), split=split, **request.settings)
            played = run(config, output_path, resume=True, progress=progress)
            reasons, _ = verify_run(played.path, expected)
            if reasons:
                raise ConfigError(f"the run failed verification: {reasons[0]}")
            folder = f"{HELDOUT_FOLDER}/{slug(request.model)}/{ts.full_name}-{split}"
            results = dict(
                played.results.to_dict(), games_withheld=True
            )  # the games stay with the maintainers
            _commit(
                api,
                results_repo,
                {f"{folder}/results.json": (json.dumps(results, indent=2, default=str) + "\n").encode()},
                f"Held-out results: {request.model} on {ts.full_name}/{split}",
            )
            outcome.update(
                status="FINISHED",
                results=folder,
                arena_score=played.results.statistics.agents[request.model]["arena_score"].mean,
            )
        except ArenaBenchError as exc:
            outcome.update(status="FAILED", reason=str(exc))
        stamped = {
            **request.data,
            "status": outcome["status"],
            "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "task_set": {"name": ts.full_name, "hash": ts.hash, "split": split},
        }
        if "reason" in outcome:
            stamped["reason"] = outcome["reason"]
        if "results" in outcome:
            stamped["results"] = outcome["results"]
        _commit(
            api,
            requests_repo,
            {request.path: (json.dumps(stamped, indent=2) + "\n").encode()},
            f"{outcome['status']}: {request.model or request.path}",
        )
        log(
            f"{outcome['status']:<8} {request.model or request.path}"
            + (f": {outcome['reason']}" if "reason" in outcome else "")
        )
        done.append(outcome)
    return done


@dataclass(frozen=True)
class HeldoutScore:
    model: str
    task_set: str
    split: str
    mean: float
    lo: float | None
    hi: float | None
    se: float | None


def read_heldout(folder: Path) -> dict[str, HeldoutScore]:
    """Held-out results as the evaluator pushed them (``heldout/<model>/<set>/results.json``)."""
    from .results import RunResults

    out = {}
    for path in sorted(Path(folder).rglob("results.json")):
        results = RunResults.from_dict(json.loads(path.read_text()), str(path))  # pushed without its games
        if results.statistics is None:
            continue
        model = results.model
        e = results.statistics.agents[model]["arena_score"]
        out[model] = HeldoutScore(
            model, results.task_set.name, results.task_set.split, e.mean, e.lo, e.hi, e.se
        )
    return out


def contamination(public: dict[str, Any], heldout: HeldoutScore, z: float = 1.96) -> dict[str, Any]:
    """The gap public minus held-out, with an interval from both estimates' standard errors; flagged
    when even its lower end is above zero: the model did better on the public set than chance allows."""
    gap = public["mean"] - heldout.mean
    se = ((public.get("se") or 0.0) ** 2 + (heldout.se or 0.0) ** 2) ** 0.5
    lo, hi = gap - z * se, gap + z * se
    return {"gap": round(gap, 6), "lo": round(lo, 6), "hi": round(hi, 6), "flag": bool(lo > 0)}
