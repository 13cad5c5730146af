"""``--tasks hf:ORG/NAME[@REVISION]``: a task set from the Hub (a loopback server standing in for
it), checked against its manifest like a local one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import TASKS_V1
from .fake_hub_server import FakeHub


def _cli(args: list[str], hub: FakeHub, cwd: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_CACHE": str(cwd / "hub-cache"),
        "HF_HUB_OFFLINE": "0",
    }
    env.pop("HF_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "arena_bench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_task_set_from_the_hub_runs_and_records_the_same_hash(tmp_path):
    files = {p.name: p.read_bytes() for p in TASKS_V1.iterdir()}
    with FakeHub() as hub:
        hub.state.datasets["org/negotiation-v1"] = files
        r = _cli(
            [
                "run",
                "--model",
                "scripted/linear",
                "--tasks",
                "hf:org/negotiation-v1",
                "--limit",
                "1",
                "--opponents",
                "scripted/boulware",
                "--no-progress",
                "--bootstrap",
                "50",
            ],
            hub,
            tmp_path,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert any(path.endswith("/resolve/" + "a" * 40 + "/lite.jsonl") for _, path in hub.state.requests)
    (results,) = (tmp_path / "results").glob("*/*/results.json")
    data = json.loads(results.read_text())
    assert data["task_set"]["hash"] == json.loads(files["MANIFEST.json"])["hash"]
    assert data["config"]["tasks"] == "hf:org/negotiation-v1"


def test_a_changed_file_on_the_hub_is_refused_like_a_local_one(tmp_path):
    files = {p.name: p.read_bytes() for p in TASKS_V1.iterdir()}
    files["lite.jsonl"] = files["lite.jsonl"].replace(b'"batna":', b'"batna": ', 1)
    with FakeHub() as hub:
        hub.state.datasets["org/tampered"] = files
        r = _cli(["tasks", "list", "--tasks", "hf:org/tampered"], hub, tmp_path)
        missing = _cli(["tasks", "list", "--tasks", "hf:org/nothing-here"], hub, tmp_path)
        malformed = _cli(["tasks", "list", "--tasks", "hf:just-a-name"], hub, tmp_path)
    assert r.returncode == 2 and "lite.jsonl: sha256 differs from MANIFEST.json" in r.stderr
    assert "Traceback" not in r.stderr
    assert (
        missing.returncode == 2
        and "hf:org/nothing-here" in missing.stderr
        and "Traceback" not in missing.stderr
    )
    assert malformed.returncode == 2 and "write hf:ORG/NAME" in malformed.stderr
