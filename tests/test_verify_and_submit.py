from __future__ import annotations

import gzip
import json
import shutil

import pytest
from click.testing import CliRunner

from arena_bench.board.submit import make_bundle
from arena_bench.board.verify import expected_for, validate_run, verify_run
from arena_bench.cli import main

from .fake_hub_server import FakeHub
from .leaderboard_fixtures import evaluation_run


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    return evaluation_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def copy(real_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(real_run, target)
    return target


def expected():
    return expected_for("negotiation-v1", "lite")


def edit_results(run, fn):
    data = json.loads((run / "results.json").read_text())
    fn(data)
    (run / "results.json").write_text(json.dumps(data))


def edit_game(run, index, fn):
    lines = (run / "games.jsonl").read_text().splitlines()
    g = json.loads(lines[index])
    fn(g)
    lines[index] = json.dumps(g)
    (run / "games.jsonl").write_text("\n".join(lines) + "\n")
    return g


def test_a_real_run_is_valid_and_accepted(real_run):
    assert validate_run(real_run) == []
    reasons, run = verify_run(real_run, expected())
    assert reasons == [] and len(run.games) == 35 * 2 * (8 * 2 + 1)  # lite x move orders x panel-v2 cells


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda d: d["task_set"].update(hash="0" * 64), "task set hash"),
        (lambda d: d.update(panel_version="panel-v0"), "panel 'panel-v0' differs"),
        (lambda d: d.update(protocol_version="alternating-offers-v0"), "protocol"),
        (lambda d: (d.update(partial=True), d["config"].update(limit=5)), "partial split"),
    ],
)
def test_refusals_from_the_results_file(copy, tamper, reason):
    edit_results(copy, tamper)
    reasons, _ = verify_run(copy, expected())
    assert any(reason in r for r in reasons), reasons


def test_refuses_missing_and_duplicated_cells(copy):
    lines = (copy / "games.jsonl").read_text().splitlines()
    (copy / "games.jsonl").write_text("\n".join(lines[1:] + [lines[5]]) + "\n")
    reasons, _ = verify_run(copy, expected())
    assert any("1 planned cells have no game" in r for r in reasons)
    assert any("appear more than once" in r for r in reasons)


def test_refuses_utilities_that_do_not_match_the_scenario(copy):
    g = edit_game(
        copy, 7, lambda g: g["sides"][0].update(u=g["sides"][0]["u"] + 0.2, value=1.0, arena_score=1.0)
    )
    reasons, _ = verify_run(copy, expected())
    assert any(g["game_id"] in r and "utilities do not match" in r for r in reasons), reasons


def test_refuses_an_outcome_the_actions_do_not_produce(copy):
    lines = [json.loads(x) for x in (copy / "games.jsonl").read_text().splitlines()]
    k = next(i for i, g in enumerate(lines) if g["outcome"]["deal"])

    def flip(g):
        g["outcome"]["agreement"] = [0] * len(g["outcome"]["agreement"])
        g["outcome"]["agreement"][0] = 1 if g["turns"][-2]["action"]["offer"][0] == 0 else 0

    g = edit_game(copy, k, flip)
    reasons, _ = verify_run(copy, expected())
    assert any(g["game_id"] in r and "does not match the replay" in r for r in reasons), reasons


def test_refuses_actions_that_break_the_protocol(copy):
    def accept_first(g):
        g["turns"][0]["action"] = {"kind": "accept"}

    g = edit_game(copy, 3, accept_first)
    reasons, _ = verify_run(copy, expected())
    assert any(g["game_id"] in r and "breaks the protocol" in r and "no offer" in r for r in reasons), reasons


def test_validate_results_cli_names_file_line_and_field(copy):
    edit_game(copy, 2, lambda g: g["outcome"].update(end="timeout"))
    r = CliRunner().invoke(main, ["validate-results", str(copy), "--schema-only"])
    assert r.exit_code == 1 and "games.jsonl:3: outcome/end" in r.output


def test_dry_run_writes_the_exact_bundle(real_run, tmp_path):
    r = CliRunner().invoke(main, ["submit", str(real_run), "--dry-run", str(tmp_path / "bundle")])
    assert r.exit_code == 0, r.output
    bundle = make_bundle(real_run)
    for rel, data in bundle.files.items():
        assert (tmp_path / "bundle" / rel).read_bytes() == data
    games = gzip.decompress((tmp_path / "bundle" / bundle.folder / "games.jsonl.gz").read_bytes())
    assert games == (real_run / "games.jsonl").read_bytes()
    assert make_bundle(real_run).files == bundle.files  # deterministic: a retry sends the same bytes


def test_submission_opens_one_pull_request_and_never_shows_the_token(real_run, monkeypatch):
    secret = "hf_" + "s3cr3t" * 5
    with FakeHub() as hub:
        monkeypatch.setenv("HF_TOKEN", secret)
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        first = CliRunner().invoke(main, ["submit", str(real_run), "--repo", "org/leaderboard"])
        again = CliRunner().invoke(main, ["submit", str(real_run), "--repo", "org/leaderboard"])
        assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
        assert "pull request opened" in first.output and "already open" in again.output
        assert len(hub.state.prs) == 1
        pr = hub.state.prs[0]
        bundle = make_bundle(real_run)
        assert pr["create_pr"] and set(pr["files"]) == set(bundle.files)
        assert all(pr["files"][k] == v for k, v in bundle.files.items())
        repo_calls = [
            h for (_, path), h in zip(hub.state.requests, hub.state.auth_headers) if "/datasets/" in path
        ]
        assert repo_calls and all(
            h == f"Bearer {secret}" for h in repo_calls
        )  # the token goes in the header only
    assert secret not in first.output + again.output


def test_submission_without_a_token_says_how_to_log_in(real_run, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "nohome"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_TOKEN_PATH", str(tmp_path / "nohome" / "token"))
    monkeypatch.setattr(c, "HF_STORED_TOKENS_PATH", str(tmp_path / "nohome" / "stored_tokens"))
    r = CliRunner().invoke(main, ["submit", str(real_run), "--repo", "org/x"])
    assert r.exit_code == 2 and "HF_TOKEN" in r.output
