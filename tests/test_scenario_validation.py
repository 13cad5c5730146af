from __future__ import annotations

import pytest

from arena_bench.core.scenario import ScenarioError, scenario_from_dict, scenario_to_dict, validate

from .conftest import make_scenario


def base_dict(logroll_scenario):
    return scenario_to_dict(logroll_scenario)


def test_round_trip(logroll_scenario):
    assert scenario_from_dict(scenario_to_dict(logroll_scenario)) == logroll_scenario


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d["roles"][0].update(weights=[0.5, 0.4]), "roles[0] ('a').weights"),
        (lambda d: d["roles"][1]["values"][1].__setitem__(0, 1.5), "roles[1] ('b').values[1][0]"),
        (lambda d: d["issues"][1].update(name="issue0"), "duplicate issue name"),
        (lambda d: d["issues"][0].update(options=["x", " X "]), "duplicate option"),
        (lambda d: d["roles"][0].update(batna=1.0), "roles[0] ('a').batna"),
        (lambda d: d["roles"][0].update(batna=-0.1), "roles[0] ('a').batna"),
        (lambda d: d["roles"].pop(), "roles"),
        (lambda d: d["issues"].pop(), "issues"),
        (lambda d: d["roles"][0].pop("weights"), "missing field 'weights'"),
    ],
)
def test_validation_names_scenario_and_field(logroll_scenario, mutate, field):
    d = base_dict(logroll_scenario)
    mutate(d)
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    assert "'hand'" in str(info.value)
    assert field in str(info.value)


def test_outcome_space_limit():
    values = tuple(tuple([0.0] * 11 + [1.0]) for _ in range(6))  # 12^6 > 10^6
    w = tuple([1 / 6] * 6)
    s = make_scenario(w, values, w, values, sid="huge")
    with pytest.raises(ScenarioError, match="at most 1000000"):
        validate(s)


def test_batna_must_be_below_best_outcome():
    s = make_scenario((0.5, 0.5), ((0, 0.5), (0, 0.5)), (0.5, 0.5), ((1, 0), (1, 0)), batnas=(0.6, 0.1))
    with pytest.raises(ScenarioError, match="not below the role's best outcome"):
        validate(s)
