"""Submitting a run to the leaderboard's Hub dataset repository as a pull request.

The bundle is ``submissions/<model>/<run-id>/{results.json, games.jsonl.gz}``. A retry
never opens a second pull request for the same run: open pull requests are searched for the
run id first. The token comes from ``HF_TOKEN`` or the user's login and is never printed,
logged or written.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SubmitError
from ..planning import page_slug
from ..scoring.results import games_path, read_results, results_path

MARKER = "arena-bench-run-id:"


@dataclass(frozen=True)
class Bundle:
    run_id: str
    model: str
    files: dict[str, bytes]  # path in repo -> content

    @property
    def folder(self) -> str:
        return f"submissions/{page_slug(self.model)}/{self.run_id}"


def make_bundle(path: Path) -> Bundle:
    results = read_results(path)
    games = games_path(path, results)
    model = results.model
    run_id = f"{results.task_set.split}-{results_path(path).parent.name.rsplit('-', 1)[-1]}"
    raw = games.read_bytes()
    games_gz = raw if games.suffix == ".gz" else gzip.compress(raw, mtime=0)  # mtime 0: same bytes on retry
    data = dict(results.to_dict(), games_file="games.jsonl.gz")
    folder = f"submissions/{page_slug(model)}/{run_id}"
    return Bundle(
        run_id=run_id,
        model=model,
        files={
            f"{folder}/results.json": (json.dumps(data, indent=2, default=str) + "\n").encode(),
            f"{folder}/games.jsonl.gz": games_gz,
        },
    )


def write_bundle(bundle: Bundle, out: Path) -> list[Path]:
    written = []
    for rel, data in bundle.files.items():
        target = Path(out) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        written.append(target)
    return written


def pr_title(bundle: Bundle) -> str:
    return f"Submission: {bundle.model} ({bundle.run_id})"


def submit(
    bundle: Bundle, repo: str, token: str | None = None, endpoint: str | None = None
) -> dict[str, Any]:
    """Open a pull request with the bundle, or return the one already open for this run.

    Network and Hub errors become a :class:`SubmitError` that names the repository; the token
    is never part of a message.
    """
    import os

    try:
        return _submit(bundle, repo, token, endpoint or os.environ.get("HF_ENDPOINT"))
    except SubmitError:
        raise
    except Exception as exc:  # noqa: BLE001 - requests, httpx and Hub errors have no common base
        raise SubmitError(f"submission to {repo} failed: {type(exc).__name__}: {exc}") from None


def _submit(bundle: Bundle, repo: str, token: str | None, endpoint: str | None) -> dict[str, Any]:
    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    token = token or get_token()
    if not token:
        raise SubmitError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then submit again")
    api = HfApi(endpoint=endpoint, token=token)
    marker = f"{MARKER} {bundle.folder}"
    for discussion in api.get_repo_discussions(
        repo, repo_type="dataset", discussion_type="pull_request", discussion_status="open"
    ):
        if bundle.run_id in discussion.title and bundle.model in discussion.title:
            return {
                "status": "exists",
                "pr_num": discussion.num,
                "url": discussion.url,
                "title": discussion.title,
            }
    ops = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=data) for rel, data in bundle.files.items()]
    info = api.create_commit(
        repo,
        ops,
        commit_message=pr_title(bundle),
        commit_description=marker,
        repo_type="dataset",
        create_pr=True,
    )
    return {
        "status": "opened",
        "pr_num": getattr(info, "pr_num", None),
        "url": info.pr_url or info.commit_url,
        "title": pr_title(bundle),
    }
