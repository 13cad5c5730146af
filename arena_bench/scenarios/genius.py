"""Import scenarios in the GENIUS XML format used by the ANAC competitions.

A domain file lists the issues and their options; one utility-space file per side gives
issue weights, option evaluations and a reservation value. Real files have quirks:
``number_of_issues="0"``, option values with trailing spaces, evaluations that are not
normalised (GENIUS divides each issue's evaluations by that issue's largest), weights that
sum to 1.00005 (normalised here) and a ``discount_factor`` (recorded, not applied:
arena-bench has no discounting). Parsing takes XML text, so this module does no I/O.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from ..core.scenario import Issue, Role, Scenario, ScenarioError, validate
from ..errors import GeniusError

WEIGHT_SUM_SLACK = 0.01  # weights further than this from 1 are an error, not a rounding quirk


def _number(text: str | None, where: str) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise GeniusError(f"{where} is {text!r}, not a number") from None


def _parse(text: str, label: str) -> ET.Element:
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise GeniusError(f"{label}: not well-formed XML ({exc})") from None


def _issues(root: ET.Element, label: str) -> list[ET.Element]:
    issues = root.findall(".//issue")
    if not issues:
        raise GeniusError(f"{label}: no <issue> elements found")
    for issue in issues:
        kind = issue.get("type") or issue.get("etype") or "discrete"
        if kind != "discrete":
            raise GeniusError(
                f"{label}: issue {issue.get('name')!r} is {kind!r}; only discrete issues can be imported "
                "(discretise integer or real issues first)"
            )
    return issues


def _items(issue: ET.Element) -> list[ET.Element]:
    return issue.findall("item")


def parse_domain(text: str, label: str = "domain") -> list[Issue]:
    out = []
    for issue in _issues(_parse(text, label), label):
        name = (issue.get("name") or "").strip()
        options = tuple((item.get("value") or "").strip() for item in _items(issue))
        if not name:
            raise GeniusError(f"{label}: an <issue> has no name")
        if not options or any(not o for o in options):
            raise GeniusError(f"{label}: issue {name!r} has an item with no value")
        description = (issue.get("description") or "").strip()
        out.append(Issue(name=name, description=description, options=options))
    return out


def parse_utility(
    text: str, issues: list[Issue], label: str
) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...], float, float | None]:
    """(weights, values, reservation, discount_factor) for the domain's issues, normalised."""
    root = _parse(text, label)
    by_name = {(i.get("name") or "").strip(): i for i in _issues(root, label)}
    weights_by_index = {w.get("index"): w.get("value") for w in root.findall(".//weight")}
    weights, values = [], []
    for issue in issues:
        elem = by_name.get(issue.name)
        if elem is None:
            raise GeniusError(f"{label}: no <issue name={issue.name!r}> (the domain file has it)")
        raw_weight = weights_by_index.get(elem.get("index"))
        if raw_weight is None:
            raise GeniusError(f"{label}: no <weight index={elem.get('index')!r}> for issue {issue.name!r}")
        try:
            weights.append(float(raw_weight))
        except ValueError:
            raise GeniusError(
                f"{label}: weight of issue {issue.name!r} is {raw_weight!r}, not a number"
            ) from None
        evaluations = {}
        for item in _items(elem):
            value = (item.get("value") or "").strip()
            try:
                evaluations[value] = float(item.get("evaluation", ""))
            except ValueError:
                raise GeniusError(
                    f"{label}: issue {issue.name!r}, item {value!r}: "
                    f"evaluation {item.get('evaluation')!r} is not a number"
                ) from None
        missing = [o for o in issue.options if o not in evaluations]
        if missing:
            raise GeniusError(f"{label}: issue {issue.name!r} has no evaluation for {missing}")
        row = [evaluations[o] for o in issue.options]
        if min(row) < 0:
            raise GeniusError(f"{label}: issue {issue.name!r} has a negative evaluation")
        top = max(row)
        values.append(tuple(x / top for x in row) if top > 0 else tuple(0.0 for _ in row))
    total = sum(weights)
    if abs(total - 1.0) > WEIGHT_SUM_SLACK:
        raise GeniusError(f"{label}: weights sum to {total:.5f}, not 1; check the <weight> elements")
    weights = [w / total for w in weights]
    reservation_elem = root.find(".//reservation")
    reservation = (
        _number(reservation_elem.get("value", "0"), f"{label}: <reservation value>")
        if (reservation_elem is not None)
        else 0.0
    )
    discount_elem = root.find(".//discount_factor")
    discount = (
        _number(discount_elem.get("value"), f"{label}: <discount_factor value>")
        if discount_elem is not None and discount_elem.get("value")
        else None
    )
    return tuple(weights), tuple(values), reservation, discount


def import_genius(
    domain_xml: str,
    utility_a_xml: str,
    utility_b_xml: str,
    *,
    scenario_id: str,
    role_names: tuple[str, str] = ("a", "b"),
    title: str = "",
    labels: tuple[str, str, str] = ("domain", "utility A", "utility B"),
) -> Scenario:
    issues = parse_domain(domain_xml, labels[0])
    roles = []
    meta: dict[str, Any] = {"source": "genius", "discount_factor": [], "files": list(labels)}
    for name, text, label in zip(role_names, (utility_a_xml, utility_b_xml), labels[1:]):
        weights, values, reservation, discount = parse_utility(text, issues, label)
        meta["discount_factor"].append(discount)
        narrative = (
            f"You are {name}. Your points for each option are in your table; "
            f"walking away is worth {100 * reservation:g} points."
        )
        roles.append(Role(name=name, weights=weights, values=values, batna=reservation, narrative=narrative))
    context = "Issues: " + "; ".join(f"{i.name} ({', '.join(i.options)})" for i in issues)
    scenario = Scenario(
        id=scenario_id,
        title=title or scenario_id,
        context=context,
        issues=tuple(issues),
        roles=(roles[0], roles[1]),
        family="genius",
        stratum="imported",
        generator=meta,
    )
    try:
        validate(scenario)
    except ScenarioError as exc:
        raise GeniusError(f"imported scenario is invalid: {exc}") from None
    return scenario


def role_names(utility_stems: tuple[str, str], domain_stem: str) -> tuple[str, str]:
    """Role names from the utility files' names, minus the domain's words (``laptop_buyer_utility``
    in domain ``laptop`` gives ``buyer``); ``a``/``b`` when nothing distinguishes them."""
    import re

    drop = set(re.split(r"[_\-\s]+", domain_stem.lower())) | {"utility", "util", "prof", "profile", "domain"}
    names = []
    for stem, fallback in zip(utility_stems, ("a", "b")):
        kept = [w for w in re.split(r"[_\-\s]+", stem.lower()) if w and w not in drop]
        names.append("_".join(kept) or fallback)
    return (names[0], names[1]) if names[0] != names[1] else ("a", "b")
