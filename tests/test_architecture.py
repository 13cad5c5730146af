"""The architecture step (issue 28): no import cycles, each code and rule defined once, a scripted
agent as one registry entry with a shipped conformance check, generator families as a literal."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from arena_bench.agents import scripted as ref
from arena_bench.arrays import strategies as arr
from arena_bench.arrays.registry import SCRIPTED, ScriptedEntry
from arena_bench.cli import main
from arena_bench.playing.conformance import check_scripted
from arena_bench.scenarios.generator import FAMILIES_BY_VERSION, GeneratorConfig
from arena_bench.scenarios.tasks import open_task_set

ROOT = Path(__file__).resolve().parents[1]


def structure():
    spec = importlib.util.spec_from_file_location("structure", ROOT / "benchmarks" / "structure.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["structure"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_no_import_cycles_and_each_code_defined_once():
    s = structure()
    files = sorted(
        p for pkg in s.PACKAGES for p in (ROOT / pkg).rglob("*.py") if "__pycache__" not in p.parts
    )
    modules = {s.module_name(ROOT, p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        for target, _ in s.imports(ROOT, path, modules):
            graph.setdefault(s.module_name(ROOT, path), set()).add(target)
    assert s.cycles(graph) == []
    where = s.definitions(ROOT, files, ("PROPOSE", "ACCEPT", "WALK", "END_ACCEPTED", "MAX_ISSUES", "MAX_OPTIONS",
                                        "nash_potential", "REWARDS"))  # fmt: skip
    assert {k: len(v) for k, v in where.items()} == dict.fromkeys(where, 1), where


def test_the_cycle_finder_finds_a_cycle():
    s = structure()
    assert s.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", ["boulware", "micro", "hardheaded"])
def test_check_agent_passes_a_shipped_agent(name):
    result = CliRunner().invoke(main, ["check-agent", name, "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "conforms" in result.output


class ConcedesEarly(arr.TimeBased):
    """An array form that does not match its entry's parameters: it concedes early whatever ``e`` says."""

    def __init__(self, games, seats, seeds, e):
        super().__init__(games, seats, seeds, e=2.0)


def test_check_agent_catches_an_array_form_that_plays_differently(monkeypatch):
    entry = ScriptedEntry("mismatched", "a broken entry", ref.TimeBased, ConcedesEarly, {"e": 0.2})
    monkeypatch.setitem(SCRIPTED, "mismatched", entry)
    scenarios = open_task_set("negotiation-v1").load("lite")[:2]
    problems = check_scripted("mismatched", scenarios, ["scripted/linear"])
    assert any("differ" in p for p in problems), problems
    result = CliRunner().invoke(main, ["check-agent", "scripted/mismatched", "--limit", "2"])
    assert result.exit_code == 1 and "does not conform" in result.output


def test_every_scripted_agent_is_one_entry_with_both_forms_where_it_has_an_array_form():
    for name, entry in SCRIPTED.items():
        assert entry.name == name and entry.description
        agent = entry.new_agent(0, 1)
        assert isinstance(agent, ref.ScriptedAgent)
    assert {n for n, e in SCRIPTED.items() if e.array is None} == {"injector", "boulware-quiet"}


def test_a_new_family_does_not_change_what_a_released_generator_version_draws(monkeypatch):
    from arena_bench.scenarios import families

    released = json.loads((ROOT / "tasks" / "negotiation-v1" / "generator.json").read_text())["families"]
    assert list(FAMILIES_BY_VERSION[1]) == released
    monkeypatch.setitem(families.FAMILIES, "space_station", families.FAMILIES["job_offer"])
    assert GeneratorConfig().families == tuple(released)


def test_one_numpy_forward_its_rowwise_form_is_each_games_own_call_to_the_bit():
    """The array engine's batched forward is policy.forward's rowwise form: each row's logits equal a
    one-game call exactly (so array play is the reference agent's), and the plain batched form agrees
    to rounding."""
    import numpy as np

    from arena_bench.agents.policy import MAX_ISSUES, MAX_OPTIONS, forward, load_policy

    params = load_policy("ppo-nash-v2").params
    rng = np.random.default_rng(7)
    n, d_tok = 9, params["tok1.w"].shape[0]
    d_glob = params["ctx.w"].shape[0] - params["tok2.w"].shape[1]
    tokens = rng.normal(size=(n, MAX_ISSUES, d_tok))
    glob = rng.normal(size=(n, d_glob))
    issue_mask = (np.arange(MAX_ISSUES)[None, :] < rng.integers(2, MAX_ISSUES + 1, n)[:, None]).astype(float)
    opt_mask = np.repeat(issue_mask[:, :, None], MAX_OPTIONS, axis=2) * (
        rng.random((n, 1, MAX_OPTIONS)) < 0.8
    )
    can = rng.random(n) < 0.5
    tl, ol = forward(params, tokens, glob, issue_mask, opt_mask, can, rowwise=True)
    for k in range(n):
        one = forward(params, tokens[k : k + 1], glob[k : k + 1], issue_mask[k : k + 1], opt_mask[k : k + 1],
                      can[k : k + 1])  # fmt: skip
        assert np.array_equal(tl[k : k + 1], one[0]) and np.array_equal(ol[k : k + 1], one[1])
    plain = forward(params, tokens, glob, issue_mask, opt_mask, can)
    assert np.allclose(tl, plain[0], atol=1e-9) and np.allclose(ol, plain[1], atol=1e-9)
    assert (tl[~can, 1] == -1e9).all()  # accepting with nothing to accept stays masked
