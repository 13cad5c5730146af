"""Published things never change: panels (members, parameters, policy file hashes), the default
task set, and the behaviour of every panel member (a sample of the panel-v2 baseline replays
byte for byte). Also: the metric registry drives the docs and the schema, ``py:`` agents run,
and an imported GENIUS folder is a runnable task set."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.core.analysis import analyse
from arena_bench.core.metrics import METRICS, metrics_markdown
from arena_bench.planning import Cell, agent_seed
from arena_bench.playing.game import play_game
from arena_bench.playing.players import PANELS, make_player
from arena_bench.playing.runner import game_record
from arena_bench.scenarios.tasks import open_task_set
from arena_bench.scoring.results import load_schema
from arena_bench.versions import DEFAULT_TASK_SET, PANEL_VERSION

from .conftest import GENIUS_DIR

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "leaderboard" / "data" / "baselines" / "panel-v2" / "test-da4a8f22272e" / "games.jsonl.gz"

SCRIPTED_V1 = {
    "scripted/boulware": {"e": 0.2},
    "scripted/linear": {"e": 1.0},
    "scripted/conceder": {"e": 2.0},
    "scripted/hardliner": {},
    "scripted/pushover": {},
    "scripted/tit-for-tat": {"min_step_share": 0.025},
    "scripted/random-rational": {},
    "scripted/logroller": {"e": 0.5},
}
PPO_NASH_V1_SHA256 = "29680494485618b6a6b7e047938a1d128e3a4890e844ed216b250ec89433ca95"
PPO_NASH_V2_SHA256 = "c65d439511172ac854a18f0be44beedad6105df869b751beddf83149ddf55a6f"
NEGOTIATION_V1_HASH = "c817044a86f8a1f21b6f6431826b7ad12b31a058a510fdd86e290dd33a14bf40"


def _definition(spec: str):
    d = make_player(spec).describe()
    return d.get("parameters", d.get("sha256"))


def test_published_panels_are_pinned():
    assert PANELS["panel-v1"] == tuple(SCRIPTED_V1)
    assert {m: _definition(m) for m in PANELS["panel-v1"]} == SCRIPTED_V1
    assert PANELS["panel-v2"] == tuple(SCRIPTED_V1) + ("policy/ppo-nash-v1",)
    assert _definition("policy/ppo-nash-v1") == PPO_NASH_V1_SHA256
    assert PANELS["panel-v3"] == tuple(SCRIPTED_V1) + (
        "scripted/micro",
        "scripted/hardheaded",
        "policy/ppo-nash-v2",
    )
    assert _definition("scripted/micro") == {}
    assert _definition("scripted/hardheaded") == {"e": 0.05, "min_utility": 0.585, "window": 0.05}
    assert _definition("policy/ppo-nash-v2") == PPO_NASH_V2_SHA256
    assert (
        PANEL_VERSION == "panel-v2"
    )  # panel-v3 is published; runs default to panel-v2 until the board moves


def test_the_published_prompt_is_pinned():
    from arena_bench.playing.prompts import PROMPT_VERSION, template_hash

    assert (PROMPT_VERSION, template_hash()) == ("prompt-v1", "0768c515f854d4dd")


def test_the_default_task_set_is_pinned():
    assert DEFAULT_TASK_SET == "negotiation-v1"
    assert open_task_set(DEFAULT_TASK_SET).hash == NEGOTIATION_V1_HASH


def _baseline_lines(scenarios: set[str]) -> list[str]:
    with gzip.open(BASELINE, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if json.loads(line)["scenario_id"] in scenarios]


def test_a_sample_of_the_panel_v2_baseline_replays_byte_for_byte():
    """Every panel-v2 member, every role and move order, on two test scenarios: the reference loop
    writes exactly the published records."""
    ts = open_task_set(DEFAULT_TASK_SET)
    scenarios = {s.id: s for s in ts.load("test")[:2]}
    lines = _baseline_lines(set(scenarios))
    assert len(lines) == 2 * 81 * 2  # 9 x 9 ordered pairs, both move orders, per scenario
    players = {spec: make_player(spec) for spec in PANELS["panel-v2"]}

    async def replay(line: str) -> str:
        old = json.loads(line)
        cell = Cell(old["scenario_id"], tuple(old["players"]), old["first_mover"], old["rep"])
        scenario = scenarios[cell.scenario_id]
        agents = tuple(
            players[p].new_agent(r, agent_seed(old["seed"], r)) for r, p in enumerate(cell.players)
        )
        state, logs, metrics = await play_game(
            scenario, analyse(scenario), agents, cell.first_mover, old["max_turns"], old["max_repairs"]
        )
        record = game_record(
            gid=old["game_id"],
            task_set=ts.full_name,
            task_hash=ts.hash,
            split="test",
            cell=cell,
            seed=old["seed"],
            scenario=scenario,
            state=state,
            logs=logs,
            metrics=metrics,
            max_repairs=old["max_repairs"],
            salt=old["salt"],
        )
        return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":"))

    for line in lines:
        assert asyncio.run(replay(line)) == line


def test_the_readme_metric_table_is_the_registry():
    readme = (REPO / "README.md").read_text()
    assert metrics_markdown() in readme, "regenerate the README table with `arena-bench metrics`"


def test_the_results_schema_lists_every_registered_metric():
    agent = load_schema("results")["properties"]["statistics"]["properties"]["agents"]["additionalProperties"]
    assert {m.key for m in METRICS} <= set(agent["properties"])


def test_a_new_metric_reaches_the_scorecard(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/linear",
            "--limit",
            "2",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "To deal" in r.output  # turns_to_agreement, the newest registry entry, with no other change
    (results,) = tmp_path.glob("*/*/results.json")
    st = json.loads(results.read_text())["statistics"]["agents"]["scripted/linear"]["turns_to_agreement"]
    assert 1 <= st["mean"] <= 20


def test_the_readme_example_agent_is_the_shipped_file():
    readme = (REPO / "README.md").read_text()
    assert (REPO / "examples" / "my_agent.py").read_text() in readme


def test_a_python_file_agent_plays_and_is_recorded(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            f"py:{REPO / 'examples' / 'my_agent.py'}:Halfway",
            "--limit",
            "1",
            "--opponents",
            "scripted/boulware,scripted/pushover",
            "--output-path",
            str(tmp_path),
            "--no-progress",
            "--bootstrap",
            "50",
        ],
    )
    assert r.exit_code == 0, r.output
    (results,) = tmp_path.glob("*/*/results.json")
    data = json.loads(results.read_text())
    (spec,) = data["config"]["agents"]
    assert data["players"][spec]["kind"] == "python-file" and len(data["players"][spec]["sha256"]) == 64
    assert data["statistics"]["agents"][spec]["invalid_rate"]["mean"] == 0.0
    # it accepts Pushover's generous offers: a deal in some games
    assert data["statistics"]["agents"][spec]["deal"]["mean"] > 0


@pytest.mark.parametrize(
    "spec, message",
    [
        ("py:nowhere.py:X", "no file nowhere.py"),
        ("py:{examples}:Nope", "defines no class 'Nope'; classes there: Halfway"),
        ("py:{examples}", "write py:path/to/file.py:ClassName"),
    ],
)
def test_bad_python_file_specs_get_one_clear_line(tmp_path, spec, message):
    spec = spec.format(examples=REPO / "examples" / "my_agent.py")
    r = CliRunner().invoke(main, ["run", "--model", spec, "--limit", "1", "--output-path", str(tmp_path)])
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output


@pytest.mark.skipif(not GENIUS_DIR.is_dir(), reason="../shared/data/genius is not here")
def test_an_imported_genius_folder_is_a_runnable_task_set(tmp_path):
    domain = next(GENIUS_DIR.rglob("*laptop*domain*.xml"), None) or next(GENIUS_DIR.glob("laptop/*.xml"))
    utilities = sorted(p for p in domain.parent.glob("*.xml") if p != domain)[:2]
    out = tmp_path / "mine-v1"
    r = CliRunner().invoke(
        main, ["tasks", "import-genius", str(domain), *map(str, utilities), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    ts = open_task_set(out)
    assert ts.full_name == "mine-v1" and ts.splits == ["test"] and len(ts.load("test")) == 1
    again = CliRunner().invoke(
        main, ["tasks", "import-genius", str(domain), *map(str, utilities), "--out", str(out)]
    )
    assert again.exit_code == 2 and "already has a scenario" in again.output
    run = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "scripted/linear",
            "--tasks",
            str(out),
            "--split",
            "test",
            "--opponents",
            "scripted/boulware",
            "--output-path",
            str(tmp_path / "r"),
            "--no-progress",
            "--bootstrap",
            "50",
        ],
    )
    assert run.exit_code == 0, run.output
    assert "task set mine-v1" in run.output
