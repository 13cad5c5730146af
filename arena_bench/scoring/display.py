"""Plain-text layouts for the terminal (no I/O: functions return strings)."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.analysis import Analysis
from ..core.metrics import DETAIL, HEADLINE, METRIC_BY_KEY, METRICS_VERSION, leak_detector_for
from ..core.records import GameRecord
from ..core.scenario import Scenario
from .results import Estimate, Pair, RunResults, Statistics


def points_table(scenario: Scenario) -> str:
    a, b = scenario.roles
    pa, pb = a.points(), b.points()
    width = max(len(o) for i in scenario.issues for o in i.options)
    width = min(max(width, 12), 48)
    lines = [f"{'option':<{width + 2}}  {a.name:>10}  {b.name:>10}"]
    for i, issue in enumerate(scenario.issues):
        lines.append(
            f"{issue.name}  (weight {a.name} {100 * a.weights[i]:.0f}, {b.name} {100 * b.weights[i]:.0f})"
        )
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
        f"family {scenario.family}  stratum {scenario.stratum}  issues {len(scenario.issues)}  "
        f"outcomes {analysis.n_outcomes}",
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


# --- estimates, scorecards and transcripts ------------------------------------------------------


def _num(x: float, digits: int = 3) -> str:
    """Compact number for interval ends: 0.494 -> .494, -0.12 -> -.120."""
    text = f"{x:.{digits}f}"
    return text.replace("0.", ".", 1) if abs(x) < 1 else text


def format_estimate(e: Estimate | None, style: str = "compact", digits: int = 3) -> str:
    """The one formatter of a mean with its interval.

    ``compact``: ``0.512 [.480,.540]`` (terminal tables); ``full``: ``0.512 [0.480, 0.540]``
    (reports, the site). No interval (fewer than two scenarios): the mean alone; no mean: ``-``.
    """
    if e is None or e.mean is None:
        return "-"
    if e.lo is None or e.hi is None:
        return f"{e.mean:.{digits}f}"
    if style == "compact":
        return f"{e.mean:.{digits}f} [{_num(e.lo, digits)},{_num(e.hi, digits)}]"
    return f"{e.mean:.{digits}f} [{e.lo:.{digits}f}, {e.hi:.{digits}f}]"


def format_diff(p: Pair) -> str:
    return f"{p.diff:.3f} [{p.lo:.3f}, {p.hi:.3f}]" if p.lo is not None else f"{p.diff:.3f}"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def agents_table(stats: Statistics, metrics: tuple[str, ...] = HEADLINE) -> str:
    """One row per agent; ``sides`` counts each game once per side the agent played (a self-play
    game is two sides), so it can exceed the games planned."""
    agents = stats.ranked()
    name_w = max(12, *(len(a) for a in agents))
    width = {
        m: max(
            18,
            *(len(format_estimate(stats.agents[a].get(m), digits=METRIC_BY_KEY[m].digits)) for a in agents),
        )
        for m in metrics
    }
    head = f"{'#':>3} {'rank CI':>8}  {'agent':<{name_w}}  {'sides':>6}  " + "  ".join(
        f"{METRIC_BY_KEY[m].short:>{width[m]}}" for m in metrics
    )
    lines = [head, "-" * len(head)]
    for a in agents:
        row = stats.agents[a]
        lo, hi = row.rank_interval
        cells = "  ".join(
            format_estimate(row.get(m), digits=METRIC_BY_KEY[m].digits).rjust(width[m]) for m in metrics
        )
        lines.append(f"{row.rank:>3} {f'{lo}-{hi}':>8}  {a:<{name_w}}  {row.games:>6}  " + cells)
    return "\n".join(lines)


def pairs_table(stats: Statistics, limit: int = 40) -> str:
    pairs = sorted(stats.pairs, key=lambda p: p.p_holm)[:limit]
    if not pairs:
        return "(no pairs)"
    w = max(12, *(len(p.a) for p in pairs), *(len(p.b) for p in pairs))
    lines = [f"{'A':<{w}}  {'B':<{w}}  {'A-B [95% CI]':>26}  {'p':>8}  {'p (Holm)':>9}  {'cells':>6}"]
    for p in pairs:
        lines.append(
            f"{p.a:<{w}}  {p.b:<{w}}  {format_diff(p):>26}  {p.p:>8.4f}  {p.p_holm:>9.4f}  {p.cells:>6}"
        )
    return "\n".join(lines)


def breakdown_table(rows: dict[str, Estimate], title: str) -> str:
    lines = [title]
    w = max([28, *(len(k) for k in rows)])
    for key, e in sorted(rows.items()):
        lines.append(f"  {key:<{w}}  {format_estimate(e).rjust(22)}  ({plural(e.n, 'game')})")
    return "\n".join(lines)


def power_line(st: Statistics) -> str:
    pw = st.power
    if pw.mde != pw.mde:  # NaN: too few scenarios
        return "Minimum detectable difference: needs at least two scenarios"
    return (
        f"Minimum detectable Arena Score difference (alpha {pw.alpha}, power {pw.power}): {pw.mde:.3f} "
        f"with {plural(pw.scenarios, 'scenario')} [{pw.basis}]"
    )


def scorecard(results: RunResults) -> str:
    ts = results.task_set
    counts = results.counts
    out = [
        f"arena-bench {results.arena_bench_version}  (results file format {results.schema_version})",
        f"task set {ts.name} ({ts.hash[:12]}) split {ts.split}"
        + ("  PARTIAL (--limit): not comparable with full-split results" if results.partial else ""),
        f"panel {results.panel_version}  protocol {results.protocol_version}  "
        f"games planned {counts.planned}, completed {counts.completed}, failed {counts.failed}",
    ]
    st = results.statistics
    if not st:
        out.append("no completed games")
        return "\n".join(out)
    out.append(
        f"95% percentile cluster-bootstrap intervals over {plural(st.scenarios, 'scenario')} "
        f"(B={st.settings['bootstrap_replicates']}, seed {st.settings['bootstrap_seed']})"
    )
    out += ["", agents_table(st), "", agents_table(st, DETAIL)]
    out.append("(sides: games counted once per side an agent played; a self-play game counts twice)")
    if results.config.kind == "evaluation":
        model = results.config.agents[0]
        out += ["", breakdown_table(st.crossplay.get(model, {}), f"{model}: Arena Score by opponent")]
        out += ["", breakdown_table(st.by_stratum.get(model, {}), f"{model}: Arena Score by stratum")]
        opp = results.statistics_opponents
        if opp:
            out += [
                "",
                "The panel's side of the same games:",
                agents_table(opp, ("arena_score", "value", "deal")),
            ]
    else:
        out += ["", "Paired comparisons (Arena Score; Holm-adjusted):", pairs_table(st)]
    inv = [
        f"{a}: {r['invalid_rate'].mean:.3f} invalid, {r['forfeit_rate'].mean:.3f} forfeited"
        for a, r in st.agents.items()
    ]
    out += ["", "Turn validity (share of own turns): " + "; ".join(inv), power_line(st)]
    out += diagnostics_lines(results.diagnostics, results.metrics_version)
    out += usage_lines(results)
    return "\n".join(out)


def diagnostics_rows(found: dict, metrics_version: str = METRICS_VERSION) -> list[tuple[str, str, str]]:
    """(label, estimate, one-sentence explanation) for each diagnostic a run has for one agent; the
    leak rate carries its detector's measured precision and recall (the run's own detector)."""
    from .diagnose import DIAGNOSTICS, leak_error_note

    rows = []
    for d in DIAGNOSTICS:
        if isinstance(found.get(d.key), Estimate):
            why = d.explain
            if d.key == "leak_rate":
                why += " " + leak_error_note(leak_detector_for(metrics_version))
            rows.append((d.label, format_estimate(found[d.key], "full"), why))
    for when, est in (found.get("probe_by_turn") or {}).items():
        rows.append((f"Belief: options over chance, {when}", format_estimate(est, "full"),
                     "The same score by when the probe was asked: does the agent learn as the game goes on?"))  # fmt: skip
    return rows


def diagnostics_lines(diagnostics: dict, metrics_version: str = METRICS_VERSION) -> list[str]:
    out = []
    for agent, found in diagnostics.items():
        rows = diagnostics_rows(found, metrics_version)
        if not rows:
            continue
        out += ["", f"Diagnostics for {agent} (95% intervals over scenarios):"]
        width = max(len(label) for label, _, _ in rows)
        out += [f"  {label:<{width}}  {est:<26} {why}" for label, est, why in rows]
    return out


def usage_lines(results: RunResults) -> list[str]:
    """Calls, tokens and dollars per model player, and this session's pace."""
    lines = []
    seconds = results.counts.seconds_this_session
    for spec, u in results.usage.items():
        cached = u.get("cached_tokens", 0)
        share = (
            f" ({cached / u['tokens_in']:.0%} from the provider's prompt cache)"
            if cached and u["tokens_in"]
            else ""
        )
        cost = (
            "no list price (your own server, or a model not in litellm's price map)"
            if u.get("cost_usd") is None
            else f"${u['cost_usd']:.4f} (${u['cost_per_game_usd']:.5f} a game)"
        )
        refused = f", {u['refused_calls']} refused by the server" if u.get("refused_calls") else ""
        if u.get("probe_calls"):
            refused += f"; plus {u['probe_calls']:,} belief-probe calls" + (
                f" (${u['probe_cost_usd']:.4f})" if "probe_cost_usd" in u else ""
            )
        lines.append(
            f"Usage {spec}: {u['calls']:,} calls in {u['games']:,} games{refused}; "
            f"{u['tokens_in']:,} prompt tokens{share}, {u['tokens_out']:,} completion tokens; {cost}"
        )
    played = results.counts.played_this_session
    if lines and played and seconds > 0:
        lines.append(f"This session: {played:,} games in {seconds:,.1f} s ({played / seconds:.2f} games/s)")
    return [""] + lines if lines else []


@dataclass(frozen=True)
class TranscriptLine:
    turn: int
    role: int
    who: str  # role name and player
    act: str  # what the turn did, offers with both utilities
    message: str
    rejected: tuple[str, ...]  # errors of the replies re-asked this turn


def transcript_lines(record: GameRecord, scenario: Scenario) -> list[TranscriptLine]:
    """One game turn by turn: the structure that the terminal and the site both render."""
    names = scenario.role_names
    lines = []
    for t in record.turns:
        a = t.action
        if a is None:
            act = "FORFEITED (no valid reply)"
        elif a.kind == "propose":
            ua, ub = scenario.utilities(a.offer)
            text = ", ".join(f"{k}={v}" for k, v in scenario.describe_outcome(a.offer).items())
            act = f"propose [{text}]  u=({ua:.3f}, {ub:.3f})"
        else:
            act = a.kind.upper()
        lines.append(
            TranscriptLine(
                t.turn, t.role, f"{names[t.role]} ({record.players[t.role]})", act, t.message, tuple(t.errors)
            )
        )
    return lines


def result_line(record: GameRecord) -> str:
    o = record.outcome
    if o.deal:
        return (
            f"DEAL after {o.turns} turns at u=({record.sides[0].u:.3f}, {record.sides[1].u:.3f}); "
            f"Pareto-optimal: {o.pareto_optimal}; distance to frontier {o.distance_to_frontier:.3f}; "
            f"Welfare={o.welfare:.3f}"
        )
    return f"NO DEAL ({o.end}) after {o.turns} turns: each side gets its BATNA; Welfare={o.welfare:.3f}"


def transcript(record: GameRecord, scenario: Scenario, analysis: Analysis) -> str:
    a, b = scenario.roles
    names = (a.name, b.name)
    out = [
        f"game {record.game_id}  scenario {scenario.id} ({scenario.family}, {scenario.stratum})",
        f"{names[0]}: {record.players[0]}   {names[1]}: {record.players[1]}   "
        f"first mover: {names[record.first_mover]}   seed {record.seed}",
        f"BATNA points: {names[0]} {100 * a.batna:.1f}, {names[1]} {100 * b.batna:.1f}",
        "",
    ]
    for line in transcript_lines(record, scenario):
        for k, error in enumerate(line.rejected):
            out.append(f"  [turn {line.turn:>2} {names[line.role]}: reply {k + 1} rejected: {error}]")
        out.append(f"{line.turn:>3} {names[line.role]:>10}: {line.act}")
        if line.message:
            out.append(f'{"":>15}"{line.message}"')
    out += ["", result_line(record)]
    if analysis.nash:
        out.append(
            f"Nash point u=({analysis.nash.u[0]:.3f}, {analysis.nash.u[1]:.3f}); ZOPA "
            f"{'yes' if analysis.zopa else 'no'}; frontier {len(analysis.frontier)} outcomes"
        )
    else:
        out.append("No outcome is individually rational for both: the right result is no deal")
    for i, s in enumerate(record.sides):
        out.append(
            f"{names[i]:>10} ({s.player}): u={s.u:.3f} Value={s.value:.3f} "
            f"Arena Score={s.arena_score:.3f} invalid turns={s.invalid_turns} forfeited={s.forfeited_turns}"
        )
    return "\n".join(out)
