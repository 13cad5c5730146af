"""The scenario model: issues, two roles with additive utilities and a BATNA.

Pure: no files, clocks or network. Task files are parsed by
:mod:`arena_bench.scenarios.tasks`, which calls :func:`scenario_from_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScenarioError

MAX_OUTCOMES = 10**6
MIN_ISSUES, MAX_ISSUES = 2, 8
MIN_OPTIONS, MAX_OPTIONS = 2, 12
WEIGHT_SUM_TOLERANCE = 1e-6

Outcome = tuple[int, ...]  # one option index per issue


@dataclass(frozen=True)
class Issue:
    name: str
    description: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    """One side's private brief."""

    name: str
    weights: tuple[float, ...]
    values: tuple[tuple[float, ...], ...]  # values[i][j]: value of option j of issue i
    batna: float
    narrative: str = ""

    def utility(self, outcome: Sequence[int]) -> float:
        return float(sum(w * v[o] for w, v, o in zip(self.weights, self.values, outcome)))

    def points(self) -> list[list[float]]:
        """The points table shown to an agent: 100 * weight * value per option."""
        return [[100.0 * w * x for x in v] for w, v in zip(self.weights, self.values)]


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    context: str
    issues: tuple[Issue, ...]
    roles: tuple[Role, Role]
    family: str = "custom"
    stratum: str = "unspecified"
    generator: Mapping[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(issue.options) for issue in self.issues)

    @property
    def n_outcomes(self) -> int:
        return math.prod(self.shape)

    @property
    def role_names(self) -> tuple[str, str]:
        return (self.roles[0].name, self.roles[1].name)

    def role_index(self, name: str) -> int:
        for i, role in enumerate(self.roles):
            if role.name == name:
                return i
        raise KeyError(f"scenario {self.id!r} has no role {name!r}; roles are {self.role_names}")

    def outcome_index(self, outcome: Sequence[int]) -> int:
        return int(np.ravel_multi_index(tuple(outcome), self.shape))

    def outcome_at(self, index: int) -> Outcome:
        return tuple(int(i) for i in np.unravel_index(index, self.shape))

    def describe_outcome(self, outcome: Sequence[int]) -> dict[str, str]:
        return {issue.name: issue.options[o] for issue, o in zip(self.issues, outcome)}

    def utilities(self, outcome: Sequence[int]) -> tuple[float, float]:
        return (self.roles[0].utility(outcome), self.roles[1].utility(outcome))


def additive_grid(
    weights: Sequence[float], values: Sequence[Sequence[float]], shape: Sequence[int]
) -> np.ndarray:
    """sum_i w_i * v_i[o_i] for every outcome, flat, in ``np.ravel_multi_index`` order.

    Built by repeated broadcasting so the summation order is fixed (issue 0 first, as in
    ``Role.utility``): the same numbers give the same bits on every platform.
    """
    u = np.zeros(1)
    for w, v, n in zip(weights, values, shape):
        u = (u[:, None] + w * np.asarray(v, dtype=float)[None, :n]).ravel()
    return u


def utility_grid(role: Role, shape: Sequence[int]) -> np.ndarray:
    """The role's utility for every outcome (see :func:`additive_grid`)."""
    return additive_grid(role.weights, role.values, shape)


def validate(scenario: Scenario) -> None:
    """Raise :class:`ScenarioError` naming the scenario and field for the first rule broken."""
    sid = scenario.id

    def fail(where: str, what: str) -> None:
        raise ScenarioError(f"scenario {sid!r}, {where}: {what}")

    n = len(scenario.issues)
    if not MIN_ISSUES <= n <= MAX_ISSUES:
        fail("issues", f"has {n} issues; a scenario needs {MIN_ISSUES} to {MAX_ISSUES}")
    seen: set[str] = set()
    for i, issue in enumerate(scenario.issues):
        where = f"issues[{i}] ({issue.name!r})"
        if not issue.name.strip():
            fail(f"issues[{i}].name", "is empty")
        if issue.name in seen:
            fail(where, f"duplicate issue name {issue.name!r}")
        seen.add(issue.name)
        k = len(issue.options)
        if not MIN_OPTIONS <= k <= MAX_OPTIONS:
            fail(f"{where}.options", f"has {k} options; an issue needs {MIN_OPTIONS} to {MAX_OPTIONS}")
        normalised = [" ".join(o.split()).casefold() for o in issue.options]
        if len(set(normalised)) != k:
            dup = next(o for o in issue.options if normalised.count(" ".join(o.split()).casefold()) > 1)
            fail(
                f"{where}.options", f"duplicate option {dup!r} (options must differ beyond case and spacing)"
            )
        if any(not o.strip() for o in issue.options):
            fail(f"{where}.options", "has an empty option")
    if scenario.n_outcomes > MAX_OUTCOMES:
        fail("issues", f"outcome space has {scenario.n_outcomes} outcomes; v1 allows at most {MAX_OUTCOMES}")
    if len(scenario.roles) != 2:
        fail("roles", f"has {len(scenario.roles)} roles; a scenario has exactly 2")
    if scenario.roles[0].name == scenario.roles[1].name:
        fail("roles", f"both roles are named {scenario.roles[0].name!r}")
    for r, role in enumerate(scenario.roles):
        where = f"roles[{r}] ({role.name!r})"
        if len(role.weights) != n:
            fail(f"{where}.weights", f"has {len(role.weights)} weights for {n} issues")
        if len(role.values) != n:
            fail(f"{where}.values", f"has {len(role.values)} rows for {n} issues")
        for i, w in enumerate(role.weights):
            if not (math.isfinite(w) and w >= 0):
                fail(f"{where}.weights[{i}]", f"weight {w} must be a finite number >= 0")
        total = sum(role.weights)
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            fail(f"{where}.weights", f"weights sum to {total:.6f}; they must sum to 1")
        for i, (row, issue) in enumerate(zip(role.values, scenario.issues)):
            if len(row) != len(issue.options):
                fail(
                    f"{where}.values[{i}]",
                    f"has {len(row)} values for {len(issue.options)} options of {issue.name!r}",
                )
            for j, x in enumerate(row):
                if not (math.isfinite(x) and 0.0 <= x <= 1.0):
                    fail(f"{where}.values[{i}][{j}]", f"value {x} is outside [0, 1]")
        if not (math.isfinite(role.batna) and 0.0 <= role.batna < 1.0):
            fail(f"{where}.batna", f"BATNA {role.batna} is outside [0, 1)")
        best = sum(w * max(v) for w, v in zip(role.weights, role.values))
        if best <= role.batna:
            fail(f"{where}.batna", f"BATNA {role.batna} is not below the role's best outcome ({best:.6f})")


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Build and validate a scenario from its JSON form (the task-file line)."""
    sid = str(data.get("id", "<no id>"))
    try:
        issues = tuple(
            Issue(
                name=str(x["name"]),
                description=str(x.get("description", "")),
                options=tuple(str(o) for o in x["options"]),
            )
            for x in data["issues"]
        )
        roles = tuple(
            Role(
                name=str(r["name"]),
                weights=tuple(float(w) for w in r["weights"]),
                values=tuple(tuple(float(v) for v in row) for row in r["values"]),
                batna=float(r["batna"]),
                narrative=str(r.get("narrative", "")),
            )
            for r in data["roles"]
        )
        scenario = Scenario(
            id=sid,
            title=str(data.get("title", "")),
            context=str(data.get("context", "")),
            issues=issues,
            roles=roles,  # type: ignore[arg-type]
            family=str(data.get("family", "custom")),
            stratum=str(data.get("stratum", "unspecified")),
            generator=dict(data.get("generator", {})),
        )
    except KeyError as exc:
        raise ScenarioError(f"scenario {sid!r}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario {sid!r}: malformed field ({exc})") from None
    validate(scenario)
    return scenario


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    return {
        "id": scenario.id,
        "family": scenario.family,
        "stratum": scenario.stratum,
        "title": scenario.title,
        "context": scenario.context,
        "issues": [
            {"name": i.name, "description": i.description, "options": list(i.options)}
            for i in scenario.issues
        ],
        "roles": [
            {
                "name": r.name,
                "weights": list(r.weights),
                "values": [list(v) for v in r.values],
                "batna": r.batna,
                "narrative": r.narrative,
            }
            for r in scenario.roles
        ],
        "generator": dict(scenario.generator),
    }
