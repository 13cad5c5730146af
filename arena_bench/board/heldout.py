"""Held-out evaluation the way Hub leaderboards work: submissions are requests, not results.

A request is one JSON file in a requests dataset on the Hub (``requests/<name>.json``, the
convention of the HF leaderboard template), checked against ``arena-bench-request/1``
(:mod:`arena_bench.board.request_rows`) before anything runs. The maintainers keep a held-out task set
(``tasks generate --seed SECRET --name ... --id-prefix ...``; its manifest hash is published, its
content is not) and an evaluator config of their own (where calls go, with which key, which kinds of
request are open, time limits). :func:`evaluate_requests` runs each pending request alone, in a
process of its own with a wall-clock limit and an environment holding only that request's provider
key; verifies the run exactly as the leaderboard does; pushes the results file (statistics only: the
games would reveal the scenarios) under the request's own id; and marks the request FINISHED, or
FAILED with a fixed reason. Whatever happens inside one request, the queue goes on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SubmitError
from ..planning import page_slug
from .request_rows import (
    KEY_VARIABLES,
    SETTINGS,
    STATUSES,
    CheckedRequest,
    EvaluatorConfig,
    EvaluatorConfigError,
    RequestRefused,
    check_request,
    request_id,
)

REQUESTS_FOLDER = "requests"
HELDOUT_FOLDER = "heldout"

# What a failed request's row says, by the code its process reported: fixed sentences only, so that
# nothing a request made the evaluator read or raise is ever published.
FAILURES = {
    "timeout": "the evaluation ran past the maintainers' time limit",
    "verification": "the run failed the leaderboard's verification",
    "agent_died": "the code agent exited before its first reply",
    "backend": "no call to the model succeeded (the provider refused or was unreachable)",
    "unavailable": "the model could not be loaded or fetched at that revision",
    "no_sandbox": "code agents are not evaluated here: the sandbox (bubblewrap) is not installed",
    "failed": "the evaluation failed; the maintainers have the details",
}


@dataclass
class EvalRequest:
    path: str  # in the requests repository
    raw: bytes
    status: str
    data: dict[str, Any] = field(default_factory=dict)  # the row as sent, when it is a JSON object

    @classmethod
    def from_file(cls, path: str, raw: bytes) -> EvalRequest:
        try:
            data = json.loads(raw.decode("utf-8")) if len(raw) <= 16_384 else None
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            data = None
        data = data if isinstance(data, dict) else {}
        status = data.get("status", "PENDING")
        return cls(path, raw, status if status in STATUSES else "PENDING", data)

    @property
    def label(self) -> str:
        """The model as the row names it, for the maintainers' log (escaped: a name is data)."""
        model = self.data.get("model")
        return repr(model[:200]) if isinstance(model, str) else repr(self.path)


def read_requests(repo: str) -> list[EvalRequest]:
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo, repo_type="dataset"))
    except Exception as exc:  # noqa: BLE001 - Hub and network errors have no common base
        raise SubmitError(f"cannot read the requests dataset {repo}: {type(exc).__name__}") from None
    out = []
    for p in sorted((folder / REQUESTS_FOLDER).glob("*.json")):
        if p.is_file():
            with open(p, "rb") as f:
                out.append(EvalRequest.from_file(str(p.relative_to(folder)), f.read(65_536)))
    return out


def load_evaluator_config(path: Path | None) -> EvaluatorConfig:
    """The maintainers' file; without one, shipped agents only (no calls, no code from outside)."""
    if path is None:
        return EvaluatorConfig()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return EvaluatorConfig.from_dict(data, str(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the evaluator config ({type(exc).__name__}: {exc})") from None
    except EvaluatorConfigError as exc:
        raise ConfigError(str(exc)) from None


def _shipped() -> dict[str, tuple[str, ...]]:
    from ..agents.policy import shipped_policies
    from ..arrays.registry import SCRIPTED

    return {"scripted": tuple(SCRIPTED), "policy": tuple(shipped_policies())}


def _commit(api, repo: str, files: dict[str, bytes], message: str) -> None:
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=data) for path, data in files.items()]
    api.create_commit(repo, ops, commit_message=message, repo_type="dataset")


def worker_environment(request: CheckedRequest) -> dict[str, str]:
    """The request's process sees no secret but its own provider's key, under the variable that
    provider's client reads; the Hub token, other keys and the rest of the maintainers' environment
    stay out."""
    keep = (
        "PATH",
        "HOME",
        "LANG",
        "LC_ALL",
        "TMPDIR",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "HF_ENDPOINT",
        "HF_HOME",
        "HF_HUB_CACHE",
    )
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"  # a token file under HF_HOME is never sent from here
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    p = request.provider
    if p is not None and p.api_key_env:
        key = os.environ.get(p.api_key_env)
        if key:
            env[KEY_VARIABLES[p.name]] = key
    return env


def _job(
    request: CheckedRequest, config: EvaluatorConfig, tasks: Path, split: str, out: Path
) -> dict[str, Any]:
    return {
        "request": request.request_id,
        "kind": request.kind,
        "model": request.model,
        "spec": request.spec,
        "settings": request.settings,
        "api_base": request.provider.api_base if request.provider else None,
        "max_connections": request.provider.max_connections if request.provider else 4,
        "repo": request.repo,
        "revision": request.revision,
        "open_weights": config.open_weights,
        "code_agents": config.code_agents,
        "reply_timeout_s": config.reply_timeout_s,
        "tasks": str(tasks),
        "split": split,
        "output": str(out),
    }


def _run_isolated(
    job: dict[str, Any], env: dict[str, str], timeout_s: float, log_path: Path
) -> dict[str, Any]:
    """One request in a process of its own (its own session, killed whole at the time limit)."""
    with tempfile.TemporaryDirectory(prefix="arena-request-") as tmp:
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "outcome.json"
        job_path.write_text(json.dumps(job))
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "arena_bench.board.heldout", str(job_path), str(out_path)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return {"status": "FAILED", "code": "timeout"}
        try:
            outcome = json.loads(out_path.read_text())
        except (OSError, ValueError):
            return {"status": "FAILED", "code": "failed"}
    return outcome if isinstance(outcome, dict) else {"status": "FAILED", "code": "failed"}


def evaluate_requests(
    requests_repo: str,
    tasks: Path,
    results_repo: str,
    split: str = "test",
    output_path: Path = Path("heldout-runs"),
    progress: bool = False,
    log=print,
    config: EvaluatorConfig | None = None,
) -> list[dict[str, Any]]:
    """Run every PENDING request on the held-out set, each alone; push verified results; mark each."""
    from huggingface_hub import HfApi

    from ..scenarios.tasks import open_task_set

    config = config or EvaluatorConfig()
    ts = open_task_set(tasks)
    api = HfApi()
    output_path = Path(output_path)
    output_path.mkdir(parents=True, exist_ok=True)
    log_path = output_path / "evaluator.log"  # the maintainers' own: details never published
    shipped = _shipped()
    done = []
    for request in read_requests(requests_repo):
        if request.status != "PENDING":
            continue
        rid = request_id(request.path, request.raw)
        outcome: dict[str, Any] = {
            "request": request.path,
            "request_id": rid,
            "model": request.data.get("model"),
        }
        try:
            checked = check_request(request.path, request.raw, config, shipped)
        except RequestRefused as exc:
            outcome.update(status="FAILED", reason=exc.reason)
        else:
            job = _job(checked, config, tasks, split, output_path / rid)
            result = _run_isolated(job, worker_environment(checked), config.request_timeout_s, log_path)
            if result.get("status") == "FINISHED":
                results = json.loads(Path(result["results"]).read_text())
                results.update(
                    games_withheld=True,  # the games stay with the maintainers
                    evaluated_by="maintainers",
                    request={"id": rid, "path": request.path, "model": checked.model, "kind": checked.kind},
                )
                folder = f"{HELDOUT_FOLDER}/{page_slug(checked.model)}/{rid}/{ts.full_name}-{split}"
                try:
                    _commit(
                        api,
                        results_repo,
                        {
                            f"{folder}/results.json": (
                                json.dumps(results, indent=2, default=str) + "\n"
                            ).encode()
                        },
                        f"Held-out results: {checked.model} on {ts.full_name}/{split}",
                    )
                    outcome.update(status="FINISHED", results=folder, arena_score=result.get("arena_score"))
                except Exception as exc:  # noqa: BLE001 - the Hub's errors: this request fails, the queue goes on
                    _log_detail(log_path, rid, f"push failed: {type(exc).__name__}: {exc}")
                    outcome.update(status="FAILED", reason=FAILURES["failed"])
            else:
                outcome.update(status="FAILED", reason=FAILURES.get(result.get("code"), FAILURES["failed"]))
        stamped = {
            **{k: v for k, v in request.data.items() if k not in ("reason", "results")},
            "status": outcome["status"],
            "request_id": rid,
            "evaluated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "task_set": {"name": ts.full_name, "hash": ts.hash, "split": split},
        }
        for key in ("reason", "results"):
            if key in outcome:
                stamped[key] = outcome[key]
        try:
            _commit(
                api,
                requests_repo,
                {request.path: (json.dumps(stamped, indent=2) + "\n").encode()},
                f"{outcome['status']}: {rid}",
            )
        except Exception as exc:  # noqa: BLE001
            _log_detail(log_path, rid, f"marking the request failed: {type(exc).__name__}: {exc}")
        log(
            f"{outcome['status']:<8} {request.label} ({rid})"
            + (f": {outcome['reason']}" if "reason" in outcome else "")
        )
        done.append(outcome)
    return done


def _log_detail(log_path: Path, rid: str, text: str) -> None:
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(f"[{rid}] {text!r}\n")


# --- the request's own process ------------------------------------------------------------------


def evaluate_one(job: dict[str, Any]) -> dict[str, Any]:
    """Play and verify one checked request (run by :func:`_run_isolated` as ``python -m``).

    Returns ``{"status": "FINISHED", "results": PATH, "arena_score": x}`` or ``{"status": "FAILED",
    "code": CODE}``; the details of a failure go to this process's stderr, the maintainers' log.
    """
    from ..errors import ArenaBenchError, BackendUnavailable, UnknownPlayer
    from ..evaluation import evaluation_config, run
    from ..playing.external import ExecAgentDied
    from ..playing.sandbox import bwrap_path
    from ..scenarios.tasks import open_task_set
    from .verify import Expected, verify_run

    settings = job["settings"]
    model_args: list[str] = []
    spec = job["spec"]
    if job["kind"] == "code-agent":
        if bwrap_path() is None:
            return {"status": "FAILED", "code": "no_sandbox"}
        model_args = [f"sandbox_{k}={int(v)}" for k, v in (job["code_agents"] or {}).items()]
    elif job["kind"] == "open-weights":
        from huggingface_hub import snapshot_download

        try:  # weights, configs and tokenizer files only: no code ever comes down, none ever runs
            folder = snapshot_download(
                job["repo"],
                revision=job["revision"],
                allow_patterns=["*.json", "*.safetensors", "*.gguf", "*.txt", "*.model", "*.tiktoken"],
            )
        except Exception as exc:  # noqa: BLE001
            print(f"fetch failed: {type(exc).__name__}: {exc!r}", file=sys.stderr)
            return {"status": "FAILED", "code": "unavailable"}
        engine = job["open_weights"]["engine"]
        spec = f"{engine}/{folder}"
        model_args = [f"{k}={v}" for k, v in (job["open_weights"].get("model_args") or {}).items()]
    try:
        config = evaluation_config(
            spec,
            tasks=job["tasks"],
            split=job["split"],
            temperature=settings.get("temperature", 0.0),
            max_tokens=settings.get("max_tokens", 300),
            gen_seed=settings.get("seed", 0),
            structured=settings.get("structured", "auto"),
            timeout_s=job["reply_timeout_s"],
            api_base=job["api_base"],
            max_connections=job["max_connections"],
            model_args=",".join(model_args) or None,
        )
        played = run(config, Path(job["output"]), resume=True, progress=False)
        ts = open_task_set(job["tasks"])
        reasons, _ = verify_run(played.path, Expected(task_hash=ts.hash, split=job["split"]))
    except ArenaBenchError as exc:
        print(f"{type(exc).__name__}: {exc!r}", file=sys.stderr)
        cause = exc.__cause__
        if isinstance(cause, ExecAgentDied) or isinstance(exc, ExecAgentDied):
            return {"status": "FAILED", "code": "agent_died"}
        if isinstance(cause, BackendUnavailable) or isinstance(exc, BackendUnavailable):
            return {"status": "FAILED", "code": "backend"}
        if isinstance(exc, UnknownPlayer) and job["kind"] in ("code-agent", "open-weights"):
            return {"status": "FAILED", "code": "unavailable"}
        return {"status": "FAILED", "code": "failed"}
    if reasons:
        print(f"verification: {reasons[:5]!r}", file=sys.stderr)
        return {"status": "FAILED", "code": "verification"}
    model = played.results.model
    return {
        "status": "FINISHED",
        "results": str(played.path / "results.json"),
        "arena_score": played.results.statistics.agents[model]["arena_score"].mean,
    }


@dataclass(frozen=True)
class HeldoutScore:
    model: str
    task_set: str
    split: str
    mean: float
    lo: float | None
    hi: float | None
    se: float | None
    settings: tuple = ()  # the model-side settings it was evaluated with, as sorted (key, value) pairs
    request_id: str | None = None


def model_settings(options: dict[str, Any]) -> tuple:
    """The settings that make two evaluations of one model comparable: the requester's allow-list."""
    return tuple(sorted((k, options[k]) for k in SETTINGS if k in options))


def read_heldout(folder: Path) -> list[HeldoutScore]:
    """Held-out results as the evaluator pushed them (``heldout/<model>/<request>/<set>/results.json``);
    a file that cannot be read is skipped (it is the maintainers' own dataset)."""
    from ..errors import ResultsError
    from ..scoring.results import read_results

    out = []
    for path in sorted(Path(folder).rglob("results.json")):
        try:
            results = read_results(path)  # pushed without its games
            request = json.loads(path.read_text()).get("request") or {}
        except (ResultsError, ValueError, OSError):
            continue
        if results.statistics is None or results.model not in results.statistics.agents:
            continue
        e = results.statistics.agents[results.model]["arena_score"]
        model = request.get("model") if isinstance(request.get("model"), str) else results.model
        options = results.config.player_options.get(results.model, {})
        out.append(
            HeldoutScore(
                model,
                results.task_set.name,
                results.task_set.split,
                e.mean,
                e.lo,
                e.hi,
                e.se,
                model_settings(options),
                request.get("id"),
            )
        )
    return out


def match_heldout(model: str, settings: tuple, scores: list[HeldoutScore]) -> HeldoutScore | None:
    """The held-out evaluation of this model with these same settings (a score under other settings,
    or another model's name, never attaches to the row); the latest request id breaks ties."""
    same = [h for h in scores if h.model == model and h.settings == settings]
    return max(same, key=lambda h: h.request_id or "") if same else None


def contamination(public: dict[str, Any], heldout: HeldoutScore, z: float = 1.96) -> dict[str, Any]:
    """The gap public minus held-out, with an interval from both estimates' standard errors; flagged
    when even its lower end is above zero: the model did better on the public set than chance allows."""
    gap = public["mean"] - heldout.mean
    se = ((public.get("se") or 0.0) ** 2 + (heldout.se or 0.0) ** 2) ** 0.5
    lo, hi = gap - z * se, gap + z * se
    return {"gap": round(gap, 6), "lo": round(lo, 6), "hi": round(hi, 6), "flag": bool(lo > 0)}


def _main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    try:
        outcome = evaluate_one(job)
    except Exception as exc:  # noqa: BLE001 - a bug or a hostile input: this request fails, never the queue
        import traceback

        traceback.print_exc()
        print(f"unexpected: {type(exc).__name__}", file=sys.stderr)
        outcome = {"status": "FAILED", "code": "failed"}
    Path(argv[1]).write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":  # the evaluator's per-request process
    raise SystemExit(_main(sys.argv[1:]))
