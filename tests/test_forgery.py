"""A hostile submitter's forgeries, each refused with its reason: the panel's moves changed, the
panel patched in memory while playing, settings changed, and games copied from another run."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from arena_bench.agents import scripted
from arena_bench.agents.base import Reply
from arena_bench.board.verify import expected_for, verify_run
from arena_bench.cli import main
from arena_bench.core.protocol import Action

from .leaderboard_fixtures import evaluation_run


def expected():
    return expected_for("negotiation-v1", "lite")


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    return evaluation_run(tmp_path_factory.mktemp("honest"), model="scripted/linear")


def _games(run):
    return [json.loads(x) for x in (run / "games.jsonl").read_text().splitlines()]


def _write_games(run, games):
    (run / "games.jsonl").write_text("".join(json.dumps(g) + "\n" for g in games))


def test_the_honest_run_is_accepted(honest):
    reasons, run = verify_run(honest, expected())
    assert reasons == [] and len(run.games) == 35 * 2 * 17


def test_panel_moves_changed_by_hand_are_refused(honest, tmp_path):
    """The forgery of the issue: every panel member 'accepts' the model's first offer, with the
    outcome, metrics and game ids made consistent, so only a replay of the panel can tell."""
    forged = tmp_path / "forged"
    shutil.copytree(honest, forged)
    games = _games(forged)
    target = next(g for g in games if g["players"][1] == "scripted/boulware" and g["first_mover"] == 0)
    # turn 1 is Boulware's: it never accepts an opening offer far below its aspiration
    target["turns"][1]["action"] = {"kind": "accept"}
    target["turns"][1]["message"] = "Agreed."
    _write_games(forged, games)
    reasons, _ = verify_run(forged, expected())
    assert any(
        f"game {target['game_id']}: turn 1: panel member scripted/boulware would" in r for r in reasons
    )
    cli = CliRunner().invoke(main, ["validate-results", str(forged), "--split", "lite"])
    assert cli.exit_code == 1 and "not the panel's play" in cli.output


def test_a_run_played_against_a_patched_panel_is_refused(tmp_path, monkeypatch):
    """Patched in memory while playing: Boulware accepts every standing offer."""

    def pushover_decide(self, obs):
        if obs.can_accept:
            return Reply(message="Agreed.", action=Action.accept())
        return original(self, obs)

    original = scripted.TimeBased.decide
    monkeypatch.setattr(scripted.TimeBased, "decide", pushover_decide)
    # the patch is to the one-game loop's class: play through it (the array engine has its own forms)
    patched = evaluation_run(tmp_path / "patched", model="scripted/hardliner", engine="reference")
    monkeypatch.setattr(scripted.TimeBased, "decide", original)
    reasons, _ = verify_run(patched, expected())
    assert reasons and all("not the panel's play" in r for r in reasons)
    assert any("panel member scripted/" in r for r in reasons)


@pytest.mark.parametrize("setting, value", [("max_turns", 60), ("max_repairs", 9), ("salt", 7), ("reps", 2)])
def test_changed_settings_are_refused_naming_the_field(tmp_path, setting, value):
    run = evaluation_run(
        tmp_path, model="scripted/linear", limit=1, opponents=("scripted/boulware",), **{setting: value}
    )
    reasons, _ = verify_run(run, expected())
    assert f"config.{setting} is {value!r}; the leaderboard's official setting is" in " | ".join(reasons)


def test_settings_edited_in_the_results_file_alone_are_refused(honest, tmp_path):
    forged = tmp_path / "forged"
    shutil.copytree(honest, forged)
    games = _games(forged)
    for g in games[:3]:
        g["max_turns"] = 60
    _write_games(forged, games)
    reasons, _ = verify_run(forged, expected())
    assert any("max_turns, max_repairs or salt differ from the run's settings" in r for r in reasons)


def test_games_copied_from_another_run_are_refused(honest, tmp_path):
    other = evaluation_run(tmp_path / "other", model="scripted/conceder")
    forged = tmp_path / "forged"
    shutil.copytree(honest, forged)
    _write_games(forged, _games(other))
    reasons, _ = verify_run(forged, expected())
    assert any("planned cells have no game" in r for r in reasons)
    assert any("are not cells of this run's plan" in r for r in reasons)


def test_a_game_with_another_cells_seed_is_refused(honest, tmp_path):
    forged = tmp_path / "forged"
    shutil.copytree(honest, forged)
    games = _games(forged)
    games[5]["seed"] = games[6]["seed"] + 1
    _write_games(forged, games)
    reasons, _ = verify_run(forged, expected())
    assert any(f"game {games[5]['game_id']}: seed" in r and "not its cell's seed" in r for r in reasons)


def test_submit_refuses_what_the_leaderboard_would_refuse(honest, tmp_path):
    forged = tmp_path / "forged"
    shutil.copytree(honest, forged)
    games = _games(forged)
    target = next(g for g in games if g["players"][1] == "scripted/boulware" and g["first_mover"] == 0)
    target["turns"][1]["message"] = "Fine, you win."  # a panel member's words changed, nothing else
    _write_games(forged, games)
    r = CliRunner().invoke(main, ["submit", str(forged), "--dry-run", str(tmp_path / "bundle")])
    assert (
        r.exit_code == 2 and "the leaderboard would refuse" in r.output and "not the panel's play" in r.output
    )
    assert not (tmp_path / "bundle").exists()
