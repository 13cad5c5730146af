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


# --- scorecards and transcripts -----------------------------------------------------------

SCORECARD_METRICS = ("arena_score", "value", "welfare", "deal", "pareto_optimal", "invalid_rate")
EXTRA_METRICS = ("rational", "forfeit_rate", "anchor_value", "distance_to_frontier", "turns")
SHORT = {"arena_score": "Score", "value": "Value", "welfare": "Welfare", "deal": "Deal", "pareto_optimal": "Pareto",
         "rational": "Rational", "invalid_rate": "Invalid", "forfeit_rate": "Forfeit", "anchor_value": "Anchor",
         "distance_to_frontier": "Dist.frontier", "turns": "Turns"}


def _num(x: float) -> str:
    """Compact number for interval ends: 0.494 -> .494, -0.12 -> -.120."""
    text = f"{x:.3f}"
    return text.replace("0.", ".", 1) if abs(x) < 1 else text


def fmt_est(e: dict | None, width: int = 18) -> str:
    if not e or e.get("mean") is None:
        return f"{'-':>{width}}"
    lo, hi = e.get("lo"), e.get("hi")
    if lo is None or hi is None:
        return f"{e['mean']:>{width}.3f}"
    return f"{e['mean']:.3f} [{_num(lo)},{_num(hi)}]".rjust(width)


def agents_table(stats: dict, metrics=SCORECARD_METRICS) -> str:
    agents = sorted(stats["agents"], key=lambda a: stats["agents"][a]["rank"])
    name_w = max(12, *(len(a) for a in agents))
    head = f"{'#':>3} {'rank CI':>8}  {'agent':<{name_w}} {'games':>6} " + " ".join(f"{SHORT[m]:>18}" for m in metrics)
    lines = [head, "-" * len(head)]
    for a in agents:
        row = stats["agents"][a]
        lo, hi = row["rank_interval"]
        lines.append(f"{row['rank']:>3} {f'{lo}-{hi}':>8}  {a:<{name_w}} {row['games']:>6} "
                     + " ".join(fmt_est(row.get(m)) for m in metrics))
    return "\n".join(lines)


def pairs_table(stats: dict, limit: int = 40) -> str:
    pairs = sorted(stats["pairs"], key=lambda p: p["p_holm"])[:limit]
    if not pairs:
        return "(no pairs)"
    lines = [f"{'A':<28} {'B':<28} {'A-B':>8} {'95% CI':>18} {'p':>8} {'p (Holm)':>9} {'cells':>6}"]
    for p in pairs:
        ci = f"[{p['lo']:.3f},{p['hi']:.3f}]"
        lines.append(f"{p['a']:<28} {p['b']:<28} {p['diff']:>8.3f} {ci:>18} "
                     f"{p['p']:>8.4f} {p['p_holm']:>9.4f} {p['cells']:>6}")
    return "\n".join(lines)


def breakdown_table(rows: dict, title: str) -> str:
    lines = [title]
    for key, e in sorted(rows.items()):
        lines.append(f"  {key:<28} {fmt_est(e, 22)}  ({e['n']} games)")
    return "\n".join(lines)


def scorecard(results: dict) -> str:
    ts = results["task_set"]
    counts = results["counts"]
    cfg = results["config"]
    out = [
        f"arena-bench {results['arena_bench_version']}  {results['schema_version']}",
        f"task set {ts['name']} ({ts['hash'][:12]}) split {ts['split']}"
        + ("  PARTIAL (--limit): not comparable with full-split results" if results.get("partial") else ""),
        f"panel {results['panel_version']}  protocol {results['protocol_version']}  "
        f"games planned {counts['planned']}, completed {counts['completed']}, failed {counts['failed']}",
    ]
    st = results.get("statistics")
    if not st:
        out.append("no completed games")
        return "\n".join(out)
    out.append(f"95% percentile cluster-bootstrap intervals over {st['scenarios']} scenarios "
               f"(B={st['settings']['bootstrap_replicates']}, seed {st['settings']['bootstrap_seed']})")
    out += ["", agents_table(st), "", agents_table(st, EXTRA_METRICS)]
    if cfg["kind"] == "evaluation":
        model = cfg["agents"][0]
        out += ["", breakdown_table(st["crossplay"].get(model, {}), f"{model}: Arena Score by opponent")]
        out += ["", breakdown_table(st["by_stratum"].get(model, {}), f"{model}: Arena Score by stratum")]
        opp = results.get("statistics_opponents")
        if opp:
            out += ["", "The panel's side of the same games:", agents_table(opp, ("arena_score", "value", "deal"))]
    else:
        out += ["", "Paired comparisons (Arena Score; Holm-adjusted):", pairs_table(st)]
    inv = [f"{a}: {r['invalid_rate']['mean']:.3f} invalid, {r['forfeit_rate']['mean']:.3f} forfeited"
           for a, r in st["agents"].items()]
    out += ["", "Turn validity (share of own turns): " + "; ".join(inv)]
    pw = st.get("power")
    if pw and pw["mde"] != pw["mde"]:  # NaN: too few scenarios
        out.append("Minimum detectable difference: needs at least two scenarios")
    elif pw:
        out.append(f"Minimum detectable Arena Score difference (alpha {pw['alpha']}, power {pw['power']}): "
                   f"{pw['mde']:.3f} with {pw['scenarios']} scenarios [{pw['basis']}]")
    return "\n".join(out)


def transcript(record: dict, scenario: Scenario, analysis: Analysis) -> str:
    a, b = scenario.roles
    names = (a.name, b.name)
    out = [
        f"game {record['game_id']}  scenario {scenario.id} ({scenario.family}, {scenario.stratum})",
        f"{names[0]}: {record['players'][0]}   {names[1]}: {record['players'][1]}   "
        f"first mover: {names[record['first_mover']]}   seed {record['seed']}",
        f"BATNA points: {names[0]} {100 * a.batna:.1f}, {names[1]} {100 * b.batna:.1f}",
        "",
    ]
    for t in record["turns"]:
        who = names[t["role"]]
        for k, att in enumerate(t["attempts"]):
            if att.get("error"):
                out.append(f"  [turn {t['turn']:>2} {who}: attempt {k + 1} rejected: {att['error']}]")
        act = t["action"]
        if act is None:
            line = "FORFEITED (no valid reply)"
        elif act["kind"] == "propose":
            offer = tuple(act["offer"])
            ua, ub = scenario.utilities(offer)
            text = ", ".join(f"{k}={v}" for k, v in scenario.describe_outcome(offer).items())
            line = f"propose [{text}]  u=({ua:.3f}, {ub:.3f})"
        else:
            line = act["kind"].upper()
        out.append(f"{t['turn']:>3} {who:>10}: {line}")
        if t["message"]:
            out.append(f"{'':>15}\"{t['message']}\"")
    o = record["outcome"]
    out.append("")
    if o["deal"]:
        ua, ub = scenario.utilities(tuple(o["agreement"]))
        out.append(f"DEAL after {o['turns']} turns at u=({ua:.3f}, {ub:.3f}); "
                   f"Pareto-optimal: {o['pareto_optimal']}; distance to frontier {o['distance_to_frontier']:.3f}")
    else:
        out.append(f"NO DEAL ({o['end']}) after {o['turns']} turns: each side gets its BATNA")
    if analysis.nash:
        out.append(f"Nash point u=({analysis.nash.u[0]:.3f}, {analysis.nash.u[1]:.3f}); ZOPA {'yes' if analysis.zopa else 'no'}; "
                   f"frontier {len(analysis.frontier)} outcomes")
    else:
        out.append("No outcome is individually rational for both: the right result is no deal")
    for i, s in enumerate(record["sides"]):
        out.append(f"{names[i]:>10} ({s['player']}): u={s['u']:.3f} Value={s['value']:.3f} "
                   f"Arena Score={s['arena_score']:.3f} invalid turns={s['invalid_turns']} forfeited={s['forfeited_turns']}")
    out.append(f"Welfare={o['welfare']:.3f}")
    return "\n".join(out)
