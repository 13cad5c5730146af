"""The held-out column, end to end against the loopback Hub: a request in the requests dataset,
the maintainers' evaluator, verified results pushed, requests marked, and the site showing public
and held-out scores side by side with a contamination flag for a planted case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .fake_hub_server import FakeHub
from .leaderboard_fixtures import evaluation_run

HELDOUT_CONFIG = {
    "name": "negotiation-heldout-test",
    "version": 1,
    "seed": 4242,
    "per_cell": {"dev": 1, "test": 1},
    "lite_per_cell": 1,
    "id_prefix": "h-",
}


def _cli(args: list, cwd: Path, hub: FakeHub | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if hub is not None:
        env.update(HF_ENDPOINT=hub.url, HF_HUB_CACHE=str(cwd / "hub-cache"), HF_TOKEN="hf_test_token")
    return subprocess.run(
        [sys.executable, "-m", "arena_bench.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _request(model: str) -> bytes:
    return json.dumps(
        {"model": model, "status": "PENDING", "submitted_time": "2026-11-27T00:00:00Z"}
    ).encode()


def test_request_evaluate_results_site_with_a_contamination_flag(tmp_path):
    (tmp_path / "heldout.json").write_text(json.dumps(HELDOUT_CONFIG))
    made = _cli(
        ["tasks", "generate", "--config", tmp_path / "heldout.json", "--out", tmp_path / "heldout-set"],
        tmp_path,
    )
    assert made.returncode == 0, made.stderr
    heldout_ids = {
        json.loads(x)["id"] for x in (tmp_path / "heldout-set" / "test.jsonl").read_text().splitlines()
    }
    assert all(i.startswith("h-test-") for i in heldout_ids)  # ids of its own: none is a public id

    with FakeHub() as hub:
        hub.state.datasets["org/requests"] = {
            "requests/scripted_linear.json": _request("scripted/linear"),
            "requests/scripted_lineer.json": _request("scripted/lineer"),
            "requests/broken.json": b"{not json",
            "requests/done.json": json.dumps({"model": "scripted/boulware", "status": "FINISHED"}).encode(),
        }
        ev = _cli(
            [
                "leaderboard",
                "evaluate-requests",
                "--requests",
                "org/requests",
                "--tasks",
                tmp_path / "heldout-set",
                "--results",
                "org/results",
                "--output-path",
                tmp_path / "runs",
            ],
            tmp_path,
            hub,
        )
        assert ev.returncode == 0, ev.stderr[-3000:]
        assert "3 request(s) evaluated; 1 finished, 2 failed" in ev.stdout
        requests = {k: json.loads(v) for k, v in hub.state.datasets["org/requests"].items()}
        results = dict(hub.state.datasets.get("org/results", {}))

    linear = requests["requests/scripted_linear.json"]
    assert linear["status"] == "FINISHED" and linear["task_set"]["name"] == "negotiation-heldout-test-v1"
    typo = requests["requests/scripted_lineer.json"]
    assert typo["status"] == "FAILED" and "did you mean 'scripted/linear'" in typo["reason"]
    assert linear["request_id"] != typo["request_id"]
    assert requests["requests/broken.json"]["status"] == "FAILED"
    assert requests["requests/done.json"]["status"] == "FINISHED"  # not evaluated again
    (path,) = results
    pushed = json.loads(results[path])
    assert (
        pushed["games_withheld"] is True
        and pushed["task_set"]["hash"]
        == json.loads((tmp_path / "heldout-set" / "MANIFEST.json").read_text())["hash"]
    )

    # the site: public lite runs of linear and conceder; held-out for linear, and a planted one for conceder
    public = tmp_path / "public"
    evaluation_run(public, model="scripted/linear")
    evaluation_run(public, model="scripted/conceder")
    assert path.startswith("heldout/scripted_linear-") and f"/{linear['request_id']}/" in path
    assert pushed["evaluated_by"] == "maintainers" and pushed["request"]["model"] == "scripted/linear"
    heldout = tmp_path / "heldout-results"
    (heldout / path).parent.mkdir(parents=True)
    (heldout / path).write_bytes(results[path])
    planted = json.loads(results[path])
    planted["config"]["agents"] = ["scripted/conceder"]
    planted["players"] = {"scripted/conceder": {}}
    planted["request"] = {"id": "planted", "model": "scripted/conceder"}
    agent = planted["statistics"]["agents"].pop("scripted/linear")
    agent["arena_score"].update(mean=0.05, lo=0.04, hi=0.06, se=0.005)
    planted["statistics"]["agents"]["scripted/conceder"] = agent
    (heldout / "heldout/scripted_conceder/x/results.json").parent.mkdir(parents=True)
    (heldout / "heldout/scripted_conceder/x/results.json").write_text(json.dumps(planted))

    site = _cli(
        [
            "leaderboard",
            "build",
            "--results",
            public,
            "--out",
            tmp_path / "site",
            "--split",
            "lite",
            "--bootstrap",
            "200",
            "--heldout",
            heldout,
        ],
        tmp_path,
    )
    assert site.returncode == 0, site.stderr[-3000:]
    lines = {
        line.split()[1]: line for line in site.stdout.splitlines() if line[:4].strip().rstrip(".").isdigit()
    }
    assert "CONTAMINATION?" in lines["scripted/conceder"]
    assert "held-out" in lines["scripted/linear"] and "CONTAMINATION?" not in lines["scripted/linear"]
    index = (tmp_path / "site" / "index.html").read_text()
    data = json.loads(index.split('<script id="data" type="application/json">')[1].split("</script>")[0])
    flags = {e["model"]: e["contamination"]["flag"] for e in data["entries"]}
    assert data["heldout"] is True and flags == {"scripted/linear": False, "scripted/conceder": True}
