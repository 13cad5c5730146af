"""Scenario generator: realistic families with generated numbers (SPEC section 1).

Deterministic from a seed; every scenario has its own ``numpy.random.Generator`` derived
from (seed, split, index), so one scenario can be regenerated on its own. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.analysis import analyse, grids
from ..core.scenario import Issue, Role, Scenario, validate
from .families import FAMILIES, Family, IssueTemplate, item_issue

STRATA = ("distributive", "integrative", "compatible", "asymmetric_batna", "no_zopa")
SPLIT_CODES = {"dev": 1, "test": 2, "private": 3}


@dataclass(frozen=True)
class ScenarioParams:
    """The knobs of one scenario; recorded in its ``generator`` field."""

    family: str
    stratum: str
    n_issues: int
    max_options: int  # each issue gets between 2 and this many options (template permitting)
    rho: float  # correlation of the two sides' issue priorities; negative: logrolling pays
    n_compatible: int  # issues where both sides prefer the same option
    batna_factors: tuple[float, float]  # ZOPA scenarios: BATNA as a share of the egalitarian point
    zopa: bool


# The families each generator version draws from, as a literal: a family added to ``families.py``
# must never change what ``tasks generate --seed N`` writes for a released version. A new family
# joins the default in a new version.
FAMILIES_BY_VERSION: dict[int, tuple[str, ...]] = {
    1: (
        "software_renewal",
        "job_offer",
        "procurement",
        "office_lease",
        "acquisition",
        "licensing",
        "item_division",
    ),
}


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to regenerate a task set byte for byte."""

    name: str = "negotiation"
    version: int = 1
    seed: int = 20261126
    per_cell: dict[str, int] = field(default_factory=lambda: {"dev": 3, "test": 9})
    lite_per_cell: int = 1
    families: tuple[str, ...] = FAMILIES_BY_VERSION[1]
    strata: tuple[str, ...] = STRATA
    min_issues: int = 2
    max_issues: int = 6
    id_prefix: str = ""  # held-out sets get ids of their own (e.g. "h2026a-test-0003")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"generator config: unknown setting(s) {unknown}; known: {sorted(known)}")
        kwargs = dict(data)
        for key in ("families", "strata"):
            if key in kwargs:
                kwargs[key] = tuple(kwargs[key])
        config = cls(**kwargs)
        bad = [f for f in config.families if f not in FAMILIES]
        if bad:
            raise ValueError(f"generator config: unknown families {bad}; known: {sorted(FAMILIES)}")
        bad = [s for s in config.strata if s not in STRATA]
        if bad:
            raise ValueError(f"generator config: unknown strata {bad}; known: {list(STRATA)}")
        return config

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["families"], d["strata"] = list(self.families), list(self.strata)
        if not self.id_prefix:  # absent in released generator.json files, which must not change
            d.pop("id_prefix")
        return d

    @property
    def full_name(self) -> str:
        return f"{self.name}-v{self.version}"


def cells(config: GeneratorConfig, rep: int = 0) -> list[tuple[str, str]]:
    """(stratum, family) pairs that the task set balances over, for repetition ``rep``.

    A family that cannot have compatible issues (item division) is replaced in the
    compatible stratum by another family, rotating with ``rep``, so strata stay equal in size.
    """
    able = [f for f in config.families if FAMILIES[f].supports_compatible]
    out = []
    for stratum in config.strata:
        for family in config.families:
            if stratum == "compatible" and not FAMILIES[family].supports_compatible:
                family = able[rep % len(able)]
            out.append((stratum, family))
    return out


def draw_params(
    family: str, stratum: str, rng: np.random.Generator, config: GeneratorConfig
) -> ScenarioParams:
    fam = FAMILIES[family]
    n_issues = int(
        rng.integers(max(config.min_issues, 3 if stratum == "compatible" else 2), config.max_issues + 1)
    )
    n_issues = min(n_issues, len(fam.issues))
    max_options = int(rng.integers(3, 8))
    n_compatible = 0
    zopa = stratum != "no_zopa"
    low, high = 0.25, 0.55
    if stratum == "distributive":
        rho = rng.uniform(0.6, 0.95)
    elif stratum == "integrative":
        rho = rng.uniform(-0.95, -0.5)
    elif stratum == "compatible":
        rho = rng.uniform(-0.3, 0.5)
        n_compatible = int(rng.integers(1, 3 if n_issues >= 4 else 2))
    elif stratum == "asymmetric_batna":
        rho = rng.uniform(-0.5, 0.5)
    else:
        rho = rng.uniform(-0.5, 0.8)
    factors = (rng.uniform(low, high), rng.uniform(low, high))
    if stratum == "asymmetric_batna":
        strong, weak = rng.uniform(0.6, 0.8), rng.uniform(0.0, 0.15)
        factors = (strong, weak) if rng.random() < 0.5 else (weak, strong)
    return ScenarioParams(
        family=family,
        stratum=stratum,
        n_issues=n_issues,
        max_options=max_options,
        rho=round(float(rho), 3),
        n_compatible=n_compatible,
        batna_factors=(round(float(factors[0]), 3), round(float(factors[1]), 3)),
        zopa=zopa,
    )


def _integer_weights(z: np.ndarray, total: int = 100) -> np.ndarray:
    """Softmax of z as integer points summing to ``total``, each at least 2 (largest remainder)."""
    p = np.exp(z - z.max())
    p = p / p.sum()
    raw = 2 + p * (total - 2 * len(z))
    points = np.floor(raw).astype(int)
    short = total - points.sum()
    order = np.argsort(-(raw - points), kind="stable")
    points[order[:short]] += 1
    return points


def _shape_values(n: int, rng: np.random.Generator) -> np.ndarray:
    """Increasing values from 0 to 1 over n ordered options: linear, concave or convex."""
    power = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    return np.linspace(0.0, 1.0, n) ** power


def _subset(options: tuple[str, ...], k: int) -> tuple[str, ...]:
    idx = np.unique(np.round(np.linspace(0, len(options) - 1, k)).astype(int))
    return tuple(options[i] for i in idx)


def _describe_priorities(issues: list[Issue], points: np.ndarray) -> str:
    order = np.argsort(-points, kind="stable")
    top = [i for i in order if points[i] == points[order[0]]]
    names = [issues[i].name.replace("_", " ") for i in top]
    if len(top) == 1:
        text = f"What matters most to you is {names[0]}."
    else:
        text = f"What matters most to you, equally, are {', '.join(names[:-1])} and {names[-1]}."
    rest = [i for i in order if i not in top]
    if len(rest) >= 2 and points[rest[-1]] < points[rest[0]]:
        low = [i for i in rest if points[i] == points[rest[-1]]]
        text += " You care least about " + " and ".join(issues[i].name.replace("_", " ") for i in low) + "."
    return text


def _narrative(
    fam: Family,
    role_idx: int,
    role_name: str,
    other: str,
    issues: list[Issue],
    values: list[np.ndarray],
    points: np.ndarray,
    batna_points: int,
) -> str:
    lines = [f"You are the {role_name} negotiating with the {other}.", _describe_priorities(issues, points)]
    prefs = []
    for issue, v in zip(issues, values):
        best, worst = issue.options[int(np.argmax(v))], issue.options[int(np.argmin(v))]
        prefs.append(f"on {issue.name.replace('_', ' ')} you prefer {best!r} and least want {worst!r}")
    lines.append("In short: " + "; ".join(prefs) + ".")
    lines.append(
        f"If there is no deal you will {fam.batna_story[role_idx]}, which is worth {batna_points} points to you."
    )
    return " ".join(lines)


def _set_batnas(
    ua: np.ndarray, ub: np.ndarray, params: ScenarioParams, rng: np.random.Generator
) -> tuple[float, float]:
    """BATNAs in whole points (multiples of 0.01)."""
    if params.zopa:
        # Share of the egalitarian outcome (max of the smaller utility); strictly below it, so
        # that outcome is strictly better than no deal for both and a ZOPA exists.
        e = int(np.argmax(np.minimum(ua, ub)))
        ba = math.floor(100 * params.batna_factors[0] * ua[e]) / 100
        bb = math.floor(100 * params.batna_factors[1] * ub[e]) / 100
        return min(ba, math.ceil(100 * ua[e]) / 100 - 0.01), min(bb, math.ceil(100 * ub[e]) / 100 - 0.01)
    # No ZOPA: A's BATNA at a share of its best; B's just above the best B can get among
    # outcomes A would prefer to no deal.
    for _ in range(100):
        ba = math.ceil(100 * rng.uniform(0.4, 0.75) * ua.max()) / 100
        above = ub[ua > ba]
        floor_b = float(above.max()) if above.size else 0.0
        bb = math.ceil(100 * (floor_b + rng.uniform(0.01, 0.06))) / 100
        if bb < ub.max() - 0.01 and ba < ua.max() - 0.01:
            return ba, bb
    raise RuntimeError("could not place BATNAs without a ZOPA")  # pragma: no cover - needs a degenerate space


def generate_scenario(scenario_id: str, params: ScenarioParams, rng: np.random.Generator) -> Scenario:
    fam = FAMILIES[params.family]
    a_name, b_name = fam.roles
    subject = fam.subjects[int(rng.integers(len(fam.subjects)))]

    # Choose the issues (template order kept, so the headline issue comes first).
    pick = np.sort(rng.choice(len(fam.issues), size=params.n_issues, replace=False))
    templates: list[IssueTemplate] = []
    for i in pick:
        t = fam.issues[int(i)]
        if params.family == "item_division":
            count = int(rng.integers(1, min(params.max_options, 5)))
            t = item_issue(t.name, count, fam.roles)
        else:
            k = int(
                rng.integers(
                    min(2 if params.max_options < 4 else 3, len(t.options)),
                    min(params.max_options, len(t.options)) + 1,
                )
            )
            t = IssueTemplate(t.name, t.description, _subset(t.options, k), t.a_up)
        templates.append(t)
    issues = [Issue(t.name, t.description or f"How the {t.name} are divided.", t.options) for t in templates]

    n = len(issues)
    compatible = (
        set(rng.choice(n, size=params.n_compatible, replace=False).tolist()) if params.n_compatible else set()
    )

    cov = np.array([[1.0, params.rho], [params.rho, 1.0]])
    z = rng.multivariate_normal(np.zeros(2), cov, size=n, method="cholesky") * 0.9
    weights_pts = [_integer_weights(z[:, 0]), _integer_weights(z[:, 1])]

    values: list[list[np.ndarray]] = [[], []]
    for i, t in enumerate(templates):
        k = len(t.options)
        if params.family == "item_division":
            up = np.linspace(0.0, 1.0, k)  # items are worth the same each: linear in the count
            va, vb = up, up[::-1]
        else:
            va = _shape_values(k, rng)
            if not t.a_up:
                va = va[::-1]
            # B prefers the opposite end on a conflicting issue, A's end on a compatible one.
            b_up = t.a_up if i in compatible else not t.a_up
            vb = _shape_values(k, rng)
            if not b_up:
                vb = vb[::-1]
        values[0].append(va)
        values[1].append(vb)

    roles: list[Role] = []
    point_tables: list[list[np.ndarray]] = []
    for r in range(2):
        pts = [np.round(w * v).astype(int) for w, v in zip(weights_pts[r], values[r])]
        point_tables.append(pts)
        roles.append(
            Role(
                name=fam.roles[r],
                weights=tuple(float(w) / 100 for w in weights_pts[r]),
                values=tuple(tuple(float(p) / float(w) for p in row) for row, w in zip(pts, weights_pts[r])),
                batna=0.0,
                narrative="",
            )
        )

    draft = Scenario(scenario_id, "", "", tuple(issues), (roles[0], roles[1]))
    ua, ub = grids(draft)
    batnas = _set_batnas(ua, ub, params, rng)

    final_roles = []
    for r in range(2):
        narrative = _narrative(
            fam,
            r,
            fam.roles[r],
            fam.roles[1 - r],
            issues,
            point_tables[r],
            weights_pts[r],
            int(round(100 * batnas[r])),
        )
        final_roles.append(
            Role(roles[r].name, roles[r].weights, roles[r].values, round(batnas[r], 2), narrative)
        )

    fmt = {
        "subject": subject,
        "a": a_name,
        "b": b_name,
        "a_cap": a_name.capitalize(),
        "b_cap": b_name.capitalize(),
    }
    issue_lines = " ".join(f"{x.name.replace('_', ' ').capitalize()}: {x.description}" for x in issues)
    scenario = Scenario(
        id=scenario_id,
        title=fam.title.format(**fmt),
        context=fam.context.format(**fmt) + f" The issues on the table: {issue_lines}",
        issues=tuple(issues),
        roles=(final_roles[0], final_roles[1]),
        family=params.family,
        stratum=params.stratum,
        generator={
            **asdict(params),
            "batna_factors": list(params.batna_factors),
            "compatible_issues": sorted(issues[i].name for i in compatible),
        },
    )
    validate(scenario)
    if analyse(scenario).zopa != params.zopa:  # pragma: no cover - guarded by construction
        raise RuntimeError(f"scenario {scenario_id}: ZOPA is not {params.zopa} as requested")
    return scenario


def scenario_rng(config: GeneratorConfig, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config.seed, SPLIT_CODES[split], index]))


def generate_split(config: GeneratorConfig, split: str, per_cell: int | None = None) -> list[Scenario]:
    """Scenarios of one split, balanced: ``per_cell`` per (stratum, family) cell."""
    per_cell = config.per_cell[split] if per_cell is None else per_cell
    out: list[Scenario] = []
    index = 0
    for rep in range(per_cell):
        for stratum, family in cells(config, rep):
            rng = scenario_rng(config, split, index)
            params = draw_params(family, stratum, rng, config)
            out.append(generate_scenario(f"{config.id_prefix}{split}-{index:04d}", params, rng))
            index += 1
    return out


def lite_subset(config: GeneratorConfig, test: list[Scenario]) -> list[Scenario]:
    """The first ``lite_per_cell`` test scenarios of every cell (test is generated cell by cell)."""
    n_cells = len(cells(config))
    return test[: n_cells * config.lite_per_cell]
