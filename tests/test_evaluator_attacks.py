"""The held-out evaluator against a hostile requester (issue 26): every attack the red team ran
with nothing but request rows, each refused or without effect, and a legitimate request after it
still evaluated. Real processes throughout: the CLI, the loopback Hub, loopback OpenAI-compatible
servers (the maintainers' and the attacker's), and bubblewrap for code agents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arena_bench.board.heldout import HeldoutScore, match_heldout, model_settings, worker_environment
from arena_bench.board.request_rows import EvaluatorConfig, RequestRefused, check_request

from .fake_hub_server import COMMIT, FakeHub
from .fake_openai_server import FakeOpenAIServer

SMALL_HELDOUT = {  # one scenario: a request plays 2 x (8 panel members + itself) games
    "name": "negotiation-heldout-attack",
    "version": 1,
    "seed": 777,
    "per_cell": {"dev": 1, "test": 1},
    "lite_per_cell": 1,
    "families": ["software_renewal"],
    "strata": ["integrative"],
    "max_issues": 3,
    "id_prefix": "x-",
}
SHIPPED = {"scripted": ("linear", "boulware"), "policy": ("ppo-nash-v2",)}


@pytest.fixture(scope="module")
def heldout_set(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("heldout")
    (folder / "gen.json").write_text(json.dumps(SMALL_HELDOUT))
    made = subprocess.run(
        [sys.executable, "-m", "arena_bench.cli", "tasks", "generate", "--config", folder / "gen.json",
         "--out", folder / "set"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return folder / "set"


def _row(model, **extra) -> bytes:
    return json.dumps({"model": model, "status": "PENDING", **extra}).encode()


def _evaluate(hub: FakeHub, tmp: Path, tasks: Path, config: dict | None = None, env: dict | None = None):
    args = [sys.executable, "-m", "arena_bench.cli", "leaderboard", "evaluate-requests", "--requests",
            "org/requests", "--tasks", str(tasks), "--results", "org/results", "--output-path", str(tmp / "runs")]  # fmt: skip
    if config is not None:
        (tmp / "evaluator.json").write_text(json.dumps({"format": "arena-bench-evaluator/1", **config}))
        args += ["--config", str(tmp / "evaluator.json")]
    full_env = {
        **os.environ,
        "HF_ENDPOINT": hub.url,
        "HF_HUB_CACHE": str(tmp / "hub-cache"),
        "HF_TOKEN": "hf_maintainer_secret",
        "OPENAI_API_KEY": "sk-maintainer-openai",
        **(env or {}),
    }
    done = subprocess.run(args, cwd=tmp, env=full_env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {k: json.loads(v) for k, v in hub.state.datasets["org/requests"].items() if k.endswith(".json")}
    return done, rows, dict(hub.state.datasets.get("org/results", {}))


def test_hostile_rows_fail_alone_with_fixed_reasons_and_the_next_request_is_evaluated(tmp_path, heldout_set):
    marker = tmp_path / "PWNED"
    secret = tmp_path / "secret.yaml"
    secret.write_text("model_list: the-maintainers-private-router-line\n")
    evil_py = f"open({str(marker)!r}, 'w').write('py code ran')\nclass Agent: pass\n"
    with FakeOpenAIServer() as attacker, FakeHub() as hub:
        cached_py = (
            tmp_path / "hub-cache" / "datasets--org--requests" / "snapshots" / COMMIT / "requests" / "evil.py"
        )
        rows = {
            "a_exec": _row(f"exec:sh -c 'echo $HF_TOKEN > {marker}; cat /proc/$PPID/cmdline >> {marker}'"),
            "b_py": _row(f"py:{cached_py}:Agent"),
            "c_api_base": _row("openai/gpt-4o-mini", settings={"api_base": attacker.url}),
            "d_api_base_object": _row("openai/gpt-4o-mini", settings={"api_base": {"url": attacker.url}}),
            "e_vllm_remote_code": _row(
                "vllm/evil-org/model", settings={"model_args": {"trust_remote_code": True}}
            ),
            "f_temperature": _row("scripted/linear", settings={"temperature": "hot"}),
            "g_model_args": _row("openai/gpt-4o-mini", settings={"model_args": 123}),
            "h_gen_seed": _row("openai/gpt-4o-mini", settings={"gen_seed": "abc"}),
            "i_sleep": _row("exec:sleep 100000", settings={"timeout_s": 1e9}),
            "j_router": _row("openai/gpt-4o-mini", settings={"model_args": f"router={secret}"}),
            "k_router_missing": _row(
                "openai/gpt-4o-mini", settings={"model_args": f"router={tmp_path}/nope.yaml"}
            ),
            "l_cache": _row("openai/gpt-4o-mini", settings={"use_cache": "../../../../tmp/anywhere"}),
            "m_newline": _row("scripted/linear\nFINISHED 'openai/forged' (x): forged line"),
            "n_path": _row("hf/../../../../etc/passwd"),
            "o_not_open": _row("openai/gpt-4o-mini"),  # openai is not opened by this evaluator
            "p_big": _row("scripted/linear", description="x" * 20_000),
            "q_deep": b"[" * 100_000 + b"]" * 100_000,
            "r_temperature_range": _row("openai/gpt-4o-mini", settings={"temperature": 1e9}),
            "zz_legit": _row("scripted/linear"),
        }
        hub.state.datasets["org/requests"] = {f"requests/{k}.json": v for k, v in rows.items()}
        hub.state.datasets["org/requests"]["requests/evil.py"] = evil_py.encode()
        done, out, results = _evaluate(hub, tmp_path, heldout_set)
        assert attacker.counters.requests == 0 and attacker.counters.authorization == []

    assert not marker.exists()  # neither the command nor the Python file ran
    statuses = {k.split("/")[1][:-5]: v["status"] for k, v in out.items()}
    assert statuses.pop("zz_legit") == "FINISHED", out["requests/zz_legit.json"]
    assert set(statuses.values()) == {"FAILED"}, statuses
    reasons = {k: v["reason"] for k, v in out.items() if v["status"] == "FAILED"}
    assert all("private-router-line" not in r and str(tmp_path) not in r for r in reasons.values())
    # an existing and a missing path get the same sentence: a reason tells nothing about the machine
    assert reasons["requests/j_router.json"] == reasons["requests/k_router_missing.json"]
    assert "maintainers" in reasons["requests/c_api_base.json"]
    # the log: one escaped line per request, nothing forged
    lines = [line for line in done.stdout.splitlines() if line.startswith(("FINISHED", "FAILED"))]
    assert len(lines) == len(rows) and not any(
        "openai/forged" in line and line.startswith("FINISHED") for line in lines
    )
    assert "\\n" in next(line for line in lines if "forged" in line)
    (path,) = results  # only the legitimate request was pushed, under its own request id
    assert f"/{out['requests/zz_legit.json']['request_id']}/" in path


def test_a_provider_call_goes_only_where_the_maintainers_said_with_only_its_key(tmp_path, heldout_set):
    with FakeOpenAIServer() as maintainers, FakeOpenAIServer() as attacker, FakeHub() as hub:
        hub.state.datasets["org/requests"] = {
            "requests/a.json": _row("openai/good", settings={"temperature": 0.5}),
            "requests/b.json": _row("openai/good", settings={"temperature": 0.5, "api_base": attacker.url}),
            "requests/c.json": _row(
                "openai/good"
            ),  # the same model again: a second folder, nothing overwritten
        }
        config = {
            "providers": {"openai": {"api_base": maintainers.url, "api_key_env": "ARENA_OPENAI_KEY"}},
            "request_timeout_s": 600,
        }
        _, out, results = _evaluate(
            hub, tmp_path, heldout_set, config, env={"ARENA_OPENAI_KEY": "sk-configured"}
        )
        assert attacker.counters.requests == 0
        assert maintainers.counters.requests > 0
        assert set(maintainers.counters.authorization) == {"Bearer sk-configured"}
    assert [out[f"requests/{k}.json"]["status"] for k in "abc"] == ["FINISHED", "FAILED", "FINISHED"]
    assert len(results) == 2 and len({p.rsplit("/", 2)[0] for p in results}) == 2
    pushed = [json.loads(v) for v in results.values()]
    assert {p["request"]["model"] for p in pushed} == {"openai/good"}
    assert all("sk-" not in json.dumps(p) and "hf_maintainer" not in json.dumps(p) for p in pushed)


def test_the_request_process_sees_no_secret_but_its_providers_key(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    monkeypatch.setenv("ARENA_KEY", "sk-openai-configured")
    config = EvaluatorConfig.from_dict(
        {"format": "arena-bench-evaluator/1",
         "providers": {"openai": {"api_base": "https://api.openai.com/v1", "api_key_env": "ARENA_KEY"}}}
    )  # fmt: skip
    env = worker_environment(check_request("requests/x.json", _row("openai/gpt-4o-mini"), config, SHIPPED))
    assert env["OPENAI_API_KEY"] == "sk-openai-configured"
    assert "HF_TOKEN" not in env and "ANTHROPIC_API_KEY" not in env and "ARENA_KEY" not in env
    shipped = worker_environment(check_request("requests/y.json", _row("scripted/linear"), config, SHIPPED))
    assert not any(("KEY" in k or "TOKEN" in k) and k != "HF_HUB_DISABLE_IMPLICIT_TOKEN" for k in shipped)
    assert env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] == "1"  # a token file under HF_HOME is not used either


def test_request_schema_refusals_are_fixed_sentences():
    config = EvaluatorConfig.from_dict({"format": "arena-bench-evaluator/1", "providers": {"openai": {}}})
    ok = check_request(
        "requests/a.json",
        _row("openai/gpt-4o-mini", settings={"temperature": 0.7, "seed": 3}),
        config,
        SHIPPED,
    )
    assert ok.spec == "openai/gpt-4o-mini" and ok.settings == {"temperature": 0.7, "seed": 3}
    for raw in (
        _row("openai/gpt-4o-mini", settings={"max_tokens": 10**6}),
        _row("openai/gpt-4o-mini", settings={"structured": "maybe"}),
        _row("openai/gpt-4o-mini", settings={"temperature": True}),
        _row("openai/gpt-4o-mini", settings="temperature=2"),
        _row("openai/gpt-4o-mini", extra_field=1),
        _row("openai/a/b/c"),
        _row("hf-repo:org/model@main"),  # a revision must be a pinned commit
        _row("agent:org/agent@" + "a" * 40),  # code agents are not opened by this config
        b"\xff\xfe",
    ):
        with pytest.raises(RequestRefused) as refused:
            check_request("requests/z.json", raw, config, SHIPPED)
        assert len(refused.value.reason) < 200
    with pytest.raises(ValueError, match="trust_remote_code"):
        EvaluatorConfig.from_dict(
            {"format": "arena-bench-evaluator/1",
             "open_weights": {"engine": "vllm", "model_args": {"trust_remote_code": True}}}
        )  # fmt: skip


def test_a_held_out_score_attaches_only_to_the_same_model_with_the_same_settings():
    mine = HeldoutScore(
        "openai/victim", "h-v1", "test", 0.6, 0.5, 0.7, 0.05, model_settings({"temperature": 0.0}), "r1"
    )
    framed = HeldoutScore(
        "openai/victim", "h-v1", "test", 0.0, 0.0, 0.0, 0.0, model_settings({"temperature": 2.0}), "r2"
    )
    lookalike = HeldoutScore(
        "openai/victim model", "h-v1", "test", 0.0, 0.0, 0.0, 0.0, model_settings({"temperature": 0.0}), "r3"
    )
    scores = [mine, framed, lookalike]
    assert match_heldout("openai/victim", model_settings({"temperature": 0.0}), scores) is mine
    assert match_heldout("openai/victim", model_settings({"temperature": 1.0}), scores) is None


def test_a_request_past_the_time_limit_is_killed_and_the_queue_goes_on(tmp_path, heldout_set):
    with FakeOpenAIServer() as server, FakeHub() as hub:
        hub.state.datasets["org/requests"] = {
            "requests/a_slow.json": _row("openai/delay-2000"),  # 2 s a call: far past the limit below
            "requests/b_legit.json": _row("scripted/linear"),
        }
        config = {"providers": {"openai": {"api_base": server.url}}, "request_timeout_s": 20}
        _, out, _ = _evaluate(hub, tmp_path, heldout_set, config)
    assert out["requests/a_slow.json"]["status"] == "FAILED"
    assert "time limit" in out["requests/a_slow.json"]["reason"]
    assert out["requests/b_legit.json"]["status"] == "FINISHED"


MALICIOUS_AGENT = r"""
import json, os, socket, sys

TASKS = sys.argv[1]
HUB_PORT = int(sys.argv[2])
found = {"env": sorted(os.environ)}
def attempt(name, fn):
    try:
        found[name] = str(fn())[:200]
    except Exception as exc:
        found[name] = "denied: " + type(exc).__name__
attempt("tasks", lambda: open(os.path.join(TASKS, "test.jsonl")).read())
attempt("proc_cmdlines", lambda: [open(f"/proc/{p}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()])
attempt("etc_passwd", lambda: open("/etc/passwd").read())
attempt("home", lambda: os.listdir("/root"))
attempt("write_agent", lambda: open("/agent/x", "w").write("x"))
attempt("socket", lambda: socket.create_connection(("127.0.0.1", HUB_PORT), timeout=2))
first = True
for line in sys.stdin:
    if first:
        print(json.dumps({"report": found, "action": "dance"}), flush=True)  # refused, kept as raw text
        first = False
    else:
        print("no JSON here", flush=True)
"""


@pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed (apt-get install bubblewrap)"
)
def test_a_malicious_code_agent_is_contained_and_its_games_are_recorded(tmp_path, heldout_set):
    with FakeHub() as hub:
        port = hub.httpd.server_address[1]
        hub.state.models["evil/agent"] = {
            "arena-agent.json": json.dumps(
                {"format": "arena-agent/1", "command": ["python3", "agent.py", str(heldout_set), str(port)]}
            ).encode(),
            "agent.py": MALICIOUS_AGENT.encode(),
        }
        hub.state.datasets["org/requests"] = {
            "requests/a_agent.json": _row(f"agent:evil/agent@{COMMIT}"),
            "requests/b_legit.json": _row("scripted/linear"),
        }
        config = {"code_agents": {"cpu_s": 60, "memory_mb": 1024, "processes": 16}, "request_timeout_s": 600}
        _, out, results = _evaluate(hub, tmp_path, heldout_set, config)
        hub_calls = list(hub.state.requests)
    assert out["requests/a_agent.json"]["status"] == "FINISHED", out
    assert out["requests/b_legit.json"]["status"] == "FINISHED"
    (games,) = (tmp_path / "runs").glob(f"{out['requests/a_agent.json']['request_id']}/*/*/games.jsonl")
    records = [json.loads(line) for line in games.read_text().splitlines()]
    raws = [
        a["raw"]
        for r in records
        for t in r["turns"]
        for a in t["attempts"]
        if a["raw"] and '"report"' in a["raw"]
    ]
    found = json.loads(raws[0])["report"] if raws else None
    assert found is not None
    assert set(found["env"]) <= {"PATH", "HOME", "LANG", "PWD", "LC_CTYPE"}, found["env"]
    assert found["tasks"].startswith("denied") and found["etc_passwd"].startswith("denied")
    assert found["home"].startswith("denied") and found["write_agent"].startswith("denied")
    assert found["socket"].startswith("denied")
    assert str(heldout_set) not in found["proc_cmdlines"]
    # after its report the agent answers nonsense: counted, forfeited, never repaired
    agent_sides = [s for r in records for s in r["sides"] if s["player"].startswith("agent/")]
    assert sum(s["forfeited_turns"] for s in agent_sides) > 0
    assert not any("PWNED" in p for _, p in hub_calls)
