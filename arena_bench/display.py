"""Plain-text layouts for the terminal (no I/O: functions return strings)."""

from __future__ import annotations

from .core.analysis import Analysis
from .core.scenario import Scenario


def points_table(scenario: Scenario) -> str:
    a, b = scenario.roles
    pa, pb = a.points(), b.points()
    width = max(len(o) for i in scenario.issues for o in i.options)
    width = min(max(width, 12), 48)
    lines = [f"{'option':<{width + 2}}  {a.name:>10}  {b.name:>10}"]
    for i, issue in enumerate(scenario.issues):
        lines.append(f"{issue.name}  (weight {a.name} {100 * a.weights[i]:.0f}, {b.name} {100 * b.weights[i]:.0f})")
        for j, option in enumerate(issue.options):
            lines.append(f"  {option[:width]:<{width}}  {pa[i][j]:>10.1f}  {pb[i][j]:>10.1f}")
    lines.append(f"{'no deal (BATNA)':<{width + 2}}  {100 * a.batna:>10.1f}  {100 * b.batna:>10.1f}")
    return "\n".join(lines)


def describe_point(scenario: Scenario, label: str, point) -> str:
    if point is None:
        return f"{label}: none"
    offer = ", ".join(f"{k}={v}" for k, v in scenario.describe_outcome(point.outcome).items())
    return f"{label}: u=({point.u[0]:.3f}, {point.u[1]:.3f})  [{offer}]"


def scenario_report(scenario: Scenario, analysis: Analysis) -> str:
    a, b = scenario.roles
    out = [
        f"{scenario.id}  {scenario.title}",
        f"family {scenario.family}  stratum {scenario.stratum}  issues {len(scenario.issues)}  outcomes {analysis.n_outcomes}",
        "",
        "Public context:",
        "  " + scenario.context,
        "",
        f"Private brief of {a.name}:",
        "  " + a.narrative,
        "",
        f"Private brief of {b.name}:",
        "  " + b.narrative,
        "",
        "Points (100 x utility):",
        points_table(scenario),
        "",
        f"Analysis: ZOPA {'yes' if analysis.zopa else 'no'}; Pareto frontier {len(analysis.frontier)} outcomes; "
        f"integrative potential {analysis.integrative_potential:.3f}",
        "  " + describe_point(scenario, "Nash", analysis.nash),
        "  " + describe_point(scenario, "Kalai-Smorodinsky", analysis.kalai_smorodinsky),
        "  " + describe_point(scenario, "max joint", analysis.max_joint),
        "  " + describe_point(scenario, "split down the middle", analysis.split),
    ]
    return "\n".join(out)
