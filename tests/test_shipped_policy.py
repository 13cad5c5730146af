"""The trained baseline that ships in the package: numpy only, legal, in the reference panel."""

from __future__ import annotations

import json
import subprocess
import sys

from arena_bench.agents.policy import FEATURES_VERSION, PolicyPlayer, load_policy
from arena_bench.playing.conformance import check_agent
from arena_bench.playing.players import PANEL_VERSION, panel
from arena_bench.scenarios.tasks import open_task_set


def test_shipped_policy_records_how_it_was_trained():
    meta = load_policy("ppo-nash-v1").meta
    assert meta["features_version"] == FEATURES_VERSION
    assert meta["config"]["reward"] == "nash" and meta["config"]["population"] and meta["config"]["shaping"]
    assert meta["decoding"] in ("sample", "greedy") and meta["iteration"] > 0


def test_shipped_policy_joins_the_default_panel():
    assert PANEL_VERSION == "panel-v2"
    assert panel()[-1] == "policy/ppo-nash-v1" and set(panel("panel-v1")) < set(panel())


def test_shipped_policy_only_plays_legal_actions():
    player = PolicyPlayer("ppo-nash-v1")
    scenarios = open_task_set("negotiation-v1").load("lite")[:10]
    assert check_agent(player.new_agent, scenarios) == []


def test_shipped_policy_plays_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
        "import asyncio, json\n"
        "from arena_bench.playing.players import make_player\n"
        "from arena_bench.scenarios.tasks import open_task_set\n"
        "from arena_bench.core.analysis import analyse\n"
        "from arena_bench.playing.game import play_game\n"
        "s = open_task_set('negotiation-v1').load('lite')[0]\n"
        "p, q = make_player('policy/ppo-nash-v1'), make_player('scripted/linear')\n"
        "_, _, m = asyncio.run(play_game(s, analyse(s), (p.new_agent(0, 1), q.new_agent(1, 2)), 0))\n"
        "print(json.dumps({'turns': m.turns, 'torch': 'torch' in sys.modules and sys.modules['torch'] is not None}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["turns"] >= 1 and res["torch"] is False


def test_ppo_nash_v2_is_guarded_and_records_its_training():
    meta = load_policy("ppo-nash-v2").meta
    assert meta["features_version"] == FEATURES_VERSION and meta["guard"] == "batna"
    cfg = meta["config"]
    assert cfg["engine"] == "array" and cfg["batna_guard"] and cfg["population"] and cfg["shaping"]
    assert {"micro", "hardheaded"} <= set(cfg["scripted_opponents"])
    assert panel("panel-v3")[-1] == "policy/ppo-nash-v2" and set(panel("panel-v1")) < set(panel("panel-v3"))
    # published things do not move: panel-v2 keeps ppo-nash-v1
    assert panel("panel-v2")[-1] == "policy/ppo-nash-v1"


def test_ppo_nash_v2_only_plays_legal_actions():
    player = PolicyPlayer("ppo-nash-v2")
    scenarios = open_task_set("negotiation-v1").load("lite")[:10]
    assert check_agent(player.new_agent, scenarios) == []
