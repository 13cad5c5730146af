from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arena_bench.cli import main


def test_run_writes_results_and_scorecard(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/logroller",
            "--limit",
            "6",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "300",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "PARTIAL" in r.output and "Arena Score by opponent" in r.output
    (results_path,) = tmp_path.glob("*/*/results.json")
    res = json.loads(results_path.read_text())
    assert res["partial"] is True and res["panel_version"] == "panel-v2"
    # the 7 other scripted members and the trained policy in both roles, itself once; both move orders
    assert res["counts"]["planned"] == res["counts"]["completed"] == 6 * (8 * 2 + 1) * 2
    est = res["statistics"]["agents"]["scripted/logroller"]["arena_score"]
    assert est["lo"] <= est["mean"] <= est["hi"]
    assert res["task_set"]["hash"] and res["config"]["max_turns"] == 20

    games = [json.loads(x) for x in (results_path.parent / "games.jsonl").read_text().splitlines()]
    gid = games[3]["game_id"]
    show = CliRunner().invoke(main, ["show-game", str(results_path.parent), gid[:8]])
    assert show.exit_code == 0, show.output
    assert "Nash point" in show.output or "right result is no deal" in show.output
    assert games[3]["players"][0] in show.output

    pw = CliRunner().invoke(main, ["power", str(results_path), "--effect", "0.05"])
    assert pw.exit_code == 0 and "scenarios needed to detect 0.05" in pw.output


def test_unknown_names_get_did_you_mean(tmp_path):
    r = CliRunner().invoke(
        main, ["run", "--model", "scripted/bolware", "--limit", "1", "--output-path", str(tmp_path)]
    )
    assert r.exit_code == 2 and "did you mean 'scripted/boulware'" in r.output
    r = CliRunner().invoke(
        main, ["run", "--model", "scriptd/boulware", "--limit", "1", "--output-path", str(tmp_path)]
    )
    assert r.exit_code == 2 and "did you mean 'scripted/boulware'" in r.output
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/boulware",
            "--tasks",
            "negotiation-v2",
            "--limit",
            "1",
            "--output-path",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 2 and "did you mean 'negotiation-v1'" in r.output


def test_tournament_pairs_and_panel_sanity(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "tournament",
            "--agents",
            "panel-v1",
            "--limit",
            "10",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "300",
        ],
    )
    assert r.exit_code == 0, r.output
    (path,) = tmp_path.glob("*/*/results.json")
    st = json.loads(path.read_text())["statistics"]
    agents = st["agents"]
    assert len(agents) == 8 and len(st["pairs"]) == 28
    # strategies behave as their names say
    assert agents["scripted/hardliner"]["deal"]["mean"] < 0.1
    assert agents["scripted/pushover"]["value"]["mean"] < agents["scripted/boulware"]["value"]["mean"]
    # Boulware opens at its best; Conceder has already conceded by its first turn when it moves second
    assert agents["scripted/boulware"]["anchor_value"]["mean"] >= 0.99
    assert (
        agents["scripted/conceder"]["anchor_value"]["mean"]
        < agents["scripted/boulware"]["anchor_value"]["mean"]
    )
    assert st["crossplay"]["scripted/boulware"]["scripted/hardliner"]["n"] > 0


def test_report_scores_each_entry_on_its_own_games(tmp_path):
    from arena_bench.evaluation import RunConfig, run
    from arena_bench.scoring.report import build

    t = run(
        RunConfig(
            kind="tournament",
            agents=("scripted/boulware", "scripted/conceder"),
            limit=4,
            bootstrap_replicates=100,
        ),
        tmp_path,
        progress=False,
    )
    e = run(
        RunConfig(kind="evaluation", agents=("scripted/linear",), limit=4, bootstrap_replicates=100),
        tmp_path,
        progress=False,
    )
    alone = build([t], b=100).statistics.agents
    both = build([e, t], b=100).statistics.agents
    # the evaluation's games give boulware no extra rows: its score is the tournament's
    assert both["scripted/boulware"].games == alone["scripted/boulware"].games
    assert both["scripted/boulware"]["arena_score"].mean == alone["scripted/boulware"]["arena_score"].mean
    # 4 scenarios x 2 move orders x (8 panel-v2 opponents x 2 roles + both sides of its self-play game)
    assert both["scripted/linear"].games == 4 * 2 * (8 * 2 + 2)


def test_single_scenario_run_still_writes_its_report(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/linear",
            "--limit",
            "1",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "100",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "not written" not in r.output and "needs at least two scenarios" in r.output
    (report,) = tmp_path.glob("*/*/report/report.md")
    assert (report.parent / "scores.png").stat().st_size > 0


def test_a_run_reads_its_games_at_most_once_and_draws_its_bootstrap_once(tmp_path, monkeypatch):
    import arena_bench.core.stats as core_stats
    import arena_bench.evaluation as evaluation
    import arena_bench.playing.runner as runner
    import arena_bench.scoring.report as report
    import arena_bench.scoring.results as results

    calls = {"read": 0, "recover": 0, "draw": 0, "report_evaluate": 0}

    def counting(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)

        return wrapper

    monkeypatch.setattr(results, "read_games", counting("read", results.read_games))
    monkeypatch.setattr(runner.GameStore, "_recover", counting("recover", runner.GameStore._recover))
    monkeypatch.setattr(evaluation, "bootstrap_counts", counting("draw", evaluation.bootstrap_counts))
    monkeypatch.setattr(core_stats, "bootstrap_counts", counting("draw", core_stats.bootstrap_counts))
    monkeypatch.setattr(report, "evaluate", counting("report_evaluate", report.evaluate))
    args = [
        "run",
        "--model",
        "scripted/linear",
        "--limit",
        "2",
        "--output-path",
        str(tmp_path),
        "--no-progress",
        "--bootstrap",
        "100",
    ]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "report:" in r.output and "not written" not in r.output
    # a fresh run: the games stay in memory; one draw serves the model's table and the panel's side
    assert calls == {"read": 0, "recover": 0, "draw": 1, "report_evaluate": 0}
    r = CliRunner().invoke(main, [*args, "--resume"])
    assert r.exit_code == 0, r.output
    assert calls == {
        "read": 0,
        "recover": 1,
        "draw": 2,
        "report_evaluate": 0,
    }  # resumed: the store's one read


def test_a_resumed_run_counts_its_sessions_and_their_time(tmp_path):
    from arena_bench.scoring.results import load_run

    args = ["run", "--model", "scripted/linear", "--limit", "1", "--output-path", str(tmp_path), "--no-progress",
            "--bootstrap", "50"]  # fmt: skip
    assert CliRunner().invoke(main, args).exit_code == 0
    (run_dir,) = [p.parent for p in tmp_path.rglob("results.json")]
    first = load_run(run_dir).results.counts
    assert first.sessions == 1 and first.seconds_all_sessions == first.seconds_this_session > 0
    assert CliRunner().invoke(main, [*args, "--resume"]).exit_code == 0
    second = load_run(run_dir).results.counts
    assert second.sessions == 2 and second.played_this_session == 0
    assert second.seconds_all_sessions == pytest.approx(
        first.seconds_this_session + second.seconds_this_session
    )
    # a results file from before sessions were counted: its session counts once, never a crash
    path = run_dir / "results.json"
    data = json.loads(path.read_text())
    del data["counts"]["sessions"], data["counts"]["seconds_all_sessions"]
    path.write_text(json.dumps(data))
    assert CliRunner().invoke(main, [*args, "--resume"]).exit_code == 0
    third = load_run(run_dir).results.counts
    assert third.sessions == 2
    assert third.seconds_all_sessions == pytest.approx(
        second.seconds_this_session + third.seconds_this_session
    )


def test_a_report_is_the_same_bytes_when_built_again(tmp_path):
    """Plots carry no date and fixed SVG ids, so a rebuilt report or leaderboard changes only where
    its data does."""
    r = CliRunner().invoke(
        main,
        ["run", "--model", "scripted/linear", "--limit", "2", "--opponents", "scripted/boulware",
         "--output-path", str(tmp_path / "results"), "--no-progress", "--bootstrap", "100"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    (run_dir,) = (tmp_path / "results").glob("*/*/")
    built = []
    for name in ("a", "b"):
        r = CliRunner().invoke(
            main, ["report", str(run_dir), "--format", "html", "--out", str(tmp_path / name)]
        )
        assert r.exit_code == 0, r.output
        built.append({p.relative_to(tmp_path / name): p.read_bytes() for p in (tmp_path / name).rglob("*.*")})
    svgs = [p for p in built[0] if p.suffix == ".svg"]
    assert svgs and built[0] == built[1]
    assert b"<dc:date>" not in built[0][svgs[0]]
