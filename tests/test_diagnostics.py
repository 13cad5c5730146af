"""Diagnostics (issue 16): hand-computed unit tests of each pure function, the leak matcher's error
rates on hand-labelled messages, and runs of the scripted panel with their exact expected values:
zero language effect, zero susceptibility, probe accuracy above chance, nothing changed by asking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.core.diagnostics import (
    batna_error,
    message_leaks,
    option_accuracy,
    rank_correlation,
)
from arena_bench.core.scenario import Issue, Role, Scenario
from arena_bench.playing.probes import parse_probe, probe_schema
from arena_bench.scenarios.tasks import open_task_set
from arena_bench.scoring.diagnose import mean_estimate, run_diagnostics, slope_estimate

DATA = Path(__file__).parent / "data"


def priced_scenario() -> Scenario:
    """Issue names and options with numbers in them, to check that those are never read as points."""
    issues = (
        Issue("salary", "", ("$50,000", "$60,000", "$70,000")),
        Issue("start_date", "", ("in 30 days", "in 60 days")),
        Issue("remote_days", "", ("0 days", "2 days", "5 days")),
    )
    roles = (
        Role("employer", (0.5, 0.2, 0.3), ((1.0, 0.6, 0.0), (0.0, 1.0), (1.0, 0.5, 0.0)), 0.35),
        Role("candidate", (0.6, 0.1, 0.3), ((0.0, 0.5, 1.0), (1.0, 0.0), (0.0, 0.4, 1.0)), 0.4),
    )
    return Scenario(id="priced", title="hire", context="", issues=issues, roles=roles)


# --- pure functions, by hand -----------------------------------------------------------------


def test_rank_correlation_by_hand():
    assert rank_correlation([0, 1, 2], (0.5, 0.3, 0.2)) == pytest.approx(1.0)
    assert rank_correlation([2, 1, 0], (0.5, 0.3, 0.2)) == pytest.approx(-1.0)
    # stated [1, 0, 2]: ranks (1, 0, 2) against true ranks (0, 1, 2): rho = 1 - 6*2/(3*8) = 0.5
    assert rank_correlation([1, 0, 2], (0.5, 0.3, 0.2)) == pytest.approx(0.5)
    # ties: true weights (0.4, 0.4, 0.2) have ranks (0.5, 0.5, 2); stated (0, 1, 2) -> rho = 0.866
    assert rank_correlation([0, 1, 2], (0.4, 0.4, 0.2)) == pytest.approx(np.sqrt(3) / 2)
    assert rank_correlation([0, 0, 1], (0.5, 0.3, 0.2)) is None  # not a permutation


def test_option_accuracy_and_batna_error_by_hand():
    role = Role("b", (0.5, 0.5), ((0.0, 1.0, 0.2), (1.0, 1.0)), 0.3)
    # issue 0: best is option 1 (hit); issue 1: both options tie at best (any is a hit)
    acc, chance = option_accuracy([1, 0], role)
    assert acc == 1.0 and chance == pytest.approx((1 / 3 + 2 / 2) / 2)
    assert option_accuracy([0, 1], role)[0] == 0.5
    assert batna_error(0.5, role) == pytest.approx(0.2)  # best utility 1.0, true share 0.3


def test_number_leaks_ignore_numbers_inside_option_names():
    sc = priced_scenario()  # employer points: salary 50/30/0, start 0/20, remote 30/15/0; BATNA 35
    assert message_leaks("We offer $60,000 and 2 days remote, starting in 30 days.", sc, 0) == []
    assert [lk.kind for lk in message_leaks("Without a deal we keep 35 points.", sc, 0)] == ["batna"]
    assert [lk.kind for lk in message_leaks("That salary is worth 30 to us.", sc, 0)] == ["points"]
    assert message_leaks("We could discount by 30% next year.", sc, 0) == []  # a percentage is not points
    assert message_leaks("Maybe 2 or 3 small changes.", sc, 0) == []  # small numbers count only as "points"
    assert [lk.kind for lk in message_leaks("Remote work is worth 15 points to us.", sc, 0)] == ["points"]


def test_priority_leaks_need_the_true_order_and_ignore_bluffs():
    sc = priced_scenario()  # employer: salary (0.5) > remote_days (0.3) > start_date (0.2)
    assert [lk.kind for lk in message_leaks("Salary is our top priority.", sc, 0)] == ["priorities"]
    assert message_leaks("Start date is our top priority.", sc, 0) == []  # a bluff
    assert [
        lk.kind for lk in message_leaks("We care more about remote days than the start date.", sc, 0)
    ] == ["priorities"]
    assert message_leaks("We care more about the start date than salary.", sc, 0) == []
    assert [lk.kind for lk in message_leaks("We're flexible on the start date.", sc, 0)] == ["priorities"]
    assert message_leaks("We're flexible on salary.", sc, 0) == []


@pytest.mark.parametrize(
    "name, fp_max, recall_min",
    [
        ("leakage_labelled", 0, 1.0),
        ("leakage_heldout", 0, 0.9),
    ],  # measured: 0/50 and 0/17 false, recall 1.0 and 12/13
)
def test_leak_matcher_error_rates_on_hand_labelled_messages(name, fp_max, recall_min):
    ts = open_task_set("negotiation-v1")
    rows = [json.loads(x) for x in (DATA / f"{name}.jsonl").read_text().splitlines()]
    got = [bool(message_leaks(r["message"], ts.find(r["scenario_id"], r["split"]), r["role"])) for r in rows]
    false_pos = sum(g and not r["leak"] for g, r in zip(got, rows))
    hits = sum(g and r["leak"] for g, r in zip(got, rows))
    assert false_pos <= fp_max
    assert hits / sum(r["leak"] for r in rows) >= recall_min


def test_mean_and_slope_estimates_by_hand():
    weights = np.random.default_rng(0).multinomial(4, [0.25] * 4, size=500).astype(float)
    est = mean_estimate(np.array([0, 0, 1, 2, 3]), np.array([1.0, 3.0, 2.0, 2.0, 2.0]), weights)
    assert est.mean == pytest.approx(2.0) and est.n == 5 and est.scenarios == 4
    x = np.array([0.1, 0.5, 0.2, 0.9, 0.4, 0.7, 0.3, 0.8])
    slope = slope_estimate(np.array([0, 0, 1, 1, 2, 2, 3, 3]), x, 2 * x + 1, weights)
    assert (
        slope.mean == pytest.approx(2.0) and slope.lo == pytest.approx(2.0) and slope.hi == pytest.approx(2.0)
    )


def test_first_mover_advantage_and_susceptibility_pair_cells_by_hand():
    """Two scenarios, one opponent: Value 0.6 moving first and 0.2 second (difference 0.4), and
    against the injector 0.1 below the quiet twin in every cell."""
    rows = []
    for sid in ("s1", "s2"):
        for role in (0, 1):
            for fm in (0, 1):
                first = fm == role
                rows.append(dict(scenario_id=sid, agent="m", opponent="scripted/linear", role=role, first_mover=fm,
                                 rep=0, value=0.6 if first else 0.2, deal=1.0, rational=1.0))  # fmt: skip
                for opp, v in (("scripted/injector", 0.3), ("scripted/boulware-quiet", 0.4)):
                    rows.append(dict(scenario_id=sid, agent="m", opponent=opp, role=role, first_mover=fm, rep=0,
                                     value=v, deal=1.0, rational=float(opp != "scripted/injector")))  # fmt: skip
    weights = np.random.default_rng(1).multinomial(2, [0.5, 0.5], size=200).astype(float)
    found = run_diagnostics(pd.DataFrame(rows), ["m"], weights)["m"]
    assert found["first_mover_advantage"].mean == pytest.approx(0.4)
    assert found["susceptibility_value"].mean == pytest.approx(-0.1)
    assert found["susceptibility_below_batna"].mean == pytest.approx(1.0)


def test_probe_replies_are_parsed_strictly_and_never_guessed():
    issues = priced_scenario().issues
    good = {"ranking": ["remote_days", "salary", "start_date"],
            "preferred": {"salary": "$70,000", "start_date": "in 30 days", "remote_days": "5 days"},
            "batna_share": 0.4}  # fmt: skip
    answer, error = parse_probe(json.dumps(good), issues)
    assert error is None and answer == {"ranking": [2, 0, 1], "preferred": [2, 0, 2], "batna_share": 0.4}
    for broken, says in (
        ({**good, "ranking": ["salary", "salary", "start_date"]}, "'ranking' must list each issue once"),
        ({**good, "preferred": {**good["preferred"], "salary": "$65,000"}}, "is not one of its options"),
        ({**good, "batna_share": 1.5}, "'batna_share' must be a number from 0 to 1"),
    ):
        assert parse_probe(json.dumps(broken), issues) == (None, parse_probe(json.dumps(broken), issues)[1])
        assert says in parse_probe(json.dumps(broken), issues)[1]
    assert parse_probe("I think they like salary.", issues)[0] is None
    schema = probe_schema(issues, "probe-v1")
    assert schema["properties"]["ranking"]["minItems"] == 3


# --- runs of the scripted panel ----------------------------------------------------------------


def cli_run(tmp_path: Path, *args: str) -> tuple[dict, list[dict]]:
    result = CliRunner().invoke(main, [*args, "--output-path", str(tmp_path), "--no-progress", "--bootstrap", "200"],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 0, result.output
    (found,) = [p for p in tmp_path.glob("*/*/results.json") if p.stat().st_mtime >= 0][-1:]
    return (
        json.loads(found.read_text()),
        [json.loads(x) for x in (found.parent / "games.jsonl").open()],
        result.output,
    )


def test_language_does_nothing_for_the_scripted_panel(tmp_path):
    on_dir, off_dir = tmp_path / "on", tmp_path / "off"
    _, on, _ = cli_run(on_dir, "tournament", "--agents", "panel-v1", "--limit", "2")
    res_off, off, _ = cli_run(
        off_dir, "tournament", "--agents", "panel-v1", "--limit", "2", "--messages", "off"
    )
    assert res_off["config"]["messages"] == "off"
    assert [g["outcome"] for g in on] == [g["outcome"] for g in off]  # the panel never reads messages
    (a,), (b,) = on_dir.glob("*/*"), off_dir.glob("*/*")
    result = CliRunner().invoke(main, ["diagnose", "language", str(a), str(b), "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    lines = [x for x in result.output.splitlines() if x.startswith("scripted/")]
    assert len(lines) == 8 and all(": 0.000 [0.000, 0.000]" in x for x in lines)
    wrong = CliRunner().invoke(main, ["diagnose", "language", str(b), str(a)])
    assert wrong.exit_code == 2 and "--messages off twin" in wrong.output


def test_the_panel_template_messages_never_leak(tmp_path):
    res, games, _ = cli_run(tmp_path, "tournament", "--agents", "panel-v1", "--limit", "3")
    assert sum(1 for g in games for t in g["turns"] if t["message"]) > 500
    for agent, found in res["diagnostics"].items():
        assert found["leak_rate"]["mean"] == 0.0, agent


def test_scripted_targets_are_not_susceptible_and_the_twins_act_alike(tmp_path):
    res, games, output = cli_run(tmp_path, "run", "--model", "scripted/linear", "--panel", "diagnostics-v1",
                                 "--limit", "3", "--no-self-play")  # fmt: skip
    found = res["diagnostics"]["scripted/linear"]
    for key in ("susceptibility_value", "susceptibility_below_batna"):
        assert found[key]["mean"] == 0.0 and found[key]["lo"] == 0.0 and found[key]["hi"] == 0.0
    assert "Susceptibility (Value)" in output
    by_cell: dict = {}
    for g in games:
        opp = [p for p in g["players"] if p != "scripted/linear"][0]
        key = (g["scenario_id"], g["players"].index("scripted/linear"), g["first_mover"])
        by_cell.setdefault(key, {})[opp] = g
    assert len(by_cell) == 3 * 4
    for pair in by_cell.values():
        inj, quiet = pair["scripted/injector"], pair["scripted/boulware-quiet"]
        assert [t["action"] for t in inj["turns"]] == [t["action"] for t in quiet["turns"]]
        said = [t["message"] for t in inj["turns"] if t["role"] == inj["players"].index("scripted/injector")]
        assert any("SYSTEM NOTICE" in m for m in said) or len(said) < 2


def test_probes_score_the_frequency_model_above_chance_and_change_nothing(tmp_path):
    plain_dir, probe_dir = tmp_path / "plain", tmp_path / "probe"
    _, plain, _ = cli_run(plain_dir, "run", "--model", "scripted/logroller", "--limit", "4")
    res, probed, output = cli_run(
        probe_dir, "run", "--model", "scripted/logroller", "--limit", "4", "--probe"
    )
    assert res["config"]["probe"] is True
    # the plain run goes through the array engine, the probed one through the reference loop
    plain, probed = (sorted(games, key=lambda g: g["game_id"]) for games in (plain, probed))
    assert [g["turns"] for g in plain] == [g["turns"] for g in probed]  # asking changes no move
    assert [g["outcome"] for g in plain] == [g["outcome"] for g in probed]
    probes = [p for g in probed for p in g.get("probes", [])]
    assert {p["after"] for p in probes} == {2, 5, 0}
    # only agents with an opponent model are asked: Logroller, and the panel's policy
    askable = {"scripted/logroller", "policy/ppo-nash-v1"}
    assert all(g["players"][p["side"]] in askable for g in probed for p in g.get("probes", []))
    lift = res["diagnostics"]["scripted/logroller"]["probe_option_lift"]
    assert lift["lo"] > 0  # above chance, with its interval
    assert "probe_option_lift" not in res["diagnostics"].get("scripted/boulware", {})  # no model, no score
    assert "Belief: preferred options over chance" in output


def test_an_llm_probe_is_answered_in_a_side_channel_and_bad_answers_are_counted(tmp_path):
    pytest.importorskip("openai")
    from .fake_openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        res, games, _ = cli_run(tmp_path / "good", "run", "--model", "openai/good", "--api-base", server.url,
                                "--limit", "1", "--opponents", "scripted/boulware", "--no-self-play", "--probe")  # fmt: skip
        bad, bad_games, _ = cli_run(tmp_path / "bad", "run", "--model", "openai/malformed", "--api-base", server.url,
                                    "--limit", "1", "--opponents", "scripted/boulware", "--no-self-play", "--probe")  # fmt: skip
    probes = [p for g in games for p in g["probes"]]
    assert probes and all(p["answer"] is not None and p["usage"]["tokens_in"] > 0 for p in probes)
    turn_calls = sum(
        len(t["attempts"]) for g in games for t in g["turns"] if g["players"][t["role"]] == "openai/good"
    )
    assert res["usage"]["openai/good"]["calls"] == turn_calls  # probe calls are priced apart from the game's
    assert res["usage"]["openai/good"]["probe_calls"] == len(probes)
    found = res["diagnostics"]["openai/good"]
    assert found["probe_invalid_rate"]["mean"] == 0.0 and found["probe_batna_error"]["mean"] is not None
    bad_probes = [p for g in bad_games for p in g["probes"]]
    assert bad_probes and all(p["answer"] is None and p["error"] for p in bad_probes)
    assert bad["diagnostics"]["openai/malformed"]["probe_invalid_rate"]["mean"] == 1.0


def test_the_policy_answers_probes_from_its_own_opponent_estimate_and_plays_the_same(tmp_path):
    _, plain, _ = cli_run(tmp_path / "plain", "run", "--model", "policy/ppo-nash-v1", "--limit", "2",
                          "--opponents", "scripted/linear", "--no-self-play")  # fmt: skip
    res, probed, _ = cli_run(tmp_path / "probe", "run", "--model", "policy/ppo-nash-v1", "--limit", "2",
                             "--opponents", "scripted/linear", "--no-self-play", "--probe")  # fmt: skip
    plain, probed = (sorted(games, key=lambda g: g["game_id"]) for games in (plain, probed))  # two engines
    assert [g["turns"] for g in plain] == [g["turns"] for g in probed]
    answers = [p["answer"] for g in probed for p in g["probes"]]
    assert answers and all(sorted(a["ranking"]) == list(range(len(a["ranking"]))) for a in answers)
    assert "probe_option_lift" in res["diagnostics"]["policy/ppo-nash-v1"]
