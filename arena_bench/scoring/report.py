"""Reports from one or more results: text, markdown, HTML or JSON, with PNG and SVG plots.

Every number is recomputed from the per-game records of the given runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.analysis import analyse
from ..core.metrics import METRIC_BY_KEY, METRICS
from ..core.records import GameRecord
from ..core.scenario import Scenario
from ..core.stats import DEFAULT_SEED
from ..errors import ResultsError
from ..storage import write_atomic
from ..templates import render
from .aggregate import entry_agents, entry_rows, evaluate
from .display import (
    agents_table,
    breakdown_table,
    diagnostics_rows,
    format_diff,
    format_estimate,
    pairs_table,
    power_line,
)
from .results import Run, Statistics, TaskSetRef, load_run


@dataclass
class Report:
    runs: list[Run]
    task_set: TaskSetRef
    partial: bool
    statistics: Statistics
    agents: list[str]  # the entries, in the order given
    recomputed: bool  # False: the statistics are the single run's own, as stored

    @property
    def records(self) -> list[GameRecord]:
        return [g for run in self.runs for g in run.games]


def combine(runs: list[Run]) -> list[Run]:
    """Runs on the same task set and split, or an error naming the one that differs."""
    for run in runs[1:]:
        first = runs[0].results.task_set
        if run.results.task_set.hash != first.hash:
            raise ResultsError(
                f"{run.path}: task set hash {run.results.task_set.hash[:12]} differs from "
                f"{first.hash[:12]}; reports combine runs of one task set"
            )
        if run.results.task_set.split != first.split:
            raise ResultsError(
                f"{run.path}: split {run.results.task_set.split!r} differs from {first.split!r}"
            )
    return runs


def build(runs: list[Run | Path], b: int = 2000, seed: int | None = None, recompute: bool = False) -> Report:
    """The report's numbers. One run whose stored statistics used the same settings is not
    bootstrapped again (unless ``recompute``); several runs are scored together, each entry on
    its own games."""
    runs = combine([r if isinstance(r, Run) else load_run(r) for r in runs])
    seed = DEFAULT_SEED if seed is None else seed
    agents = entry_agents(runs)
    stored = runs[0].results.statistics if len(runs) == 1 else None
    reuse = (
        stored is not None
        and not recompute
        and stored.settings.get("bootstrap_replicates") == b
        and stored.settings.get("bootstrap_seed") == seed
        and list(stored.agents) == agents
    )
    # the rows (a pass over every game) only when the statistics are computed here
    stats = stored if reuse else evaluate(entry_rows(runs)[0], agents, b=b, seed=seed)
    return Report(
        runs,
        runs[0].results.task_set,
        any(r.results.partial for r in runs),
        stats,
        agents,
        recomputed=not reuse,
    )


# --- text formats ---------------------------------------------------------------------------

SCORED = tuple(m for m in METRICS if m.group != "diagnostic")  # the main tables; diagnostics have their own


def _diagnostics(rep: Report) -> dict[str, list[tuple[str, str, str]]]:
    """Each entry's diagnostics from its own run (as stored: they need the scenarios' private truth)."""
    out = {}
    for run in rep.runs:
        for agent, found in run.results.diagnostics.items():
            if agent in rep.agents and agent not in out:
                rows = diagnostics_rows(found, run.results.metrics_version)
                if rows:
                    out[agent] = rows
    return out


def to_text(rep: Report) -> str:
    st = rep.statistics
    out = [
        f"arena-bench report: {rep.task_set.name} split {rep.task_set.split}, {st.scenarios} scenarios"
        + (" (PARTIAL)" if rep.partial else ""),
        "",
        agents_table(st),
        "",
        "Paired comparisons (Arena Score, Holm-adjusted):",
        pairs_table(st),
    ]
    for agent in rep.agents:
        out += ["", breakdown_table(st.by_stratum.get(agent, {}), f"{agent}: by stratum")]
    out += ["", power_line(st)]
    return "\n".join(out)


def _est(e, key: str | None = None) -> str:
    return format_estimate(e, "full", METRIC_BY_KEY[key].digits if key else 3)


def to_markdown(rep: Report, images: dict[str, str] | None = None) -> str:
    st = rep.statistics
    agents = st.ranked()
    lines = [
        f"# arena-bench report: {rep.task_set.name} / {rep.task_set.split}",
        "",
        f"{st.scenarios} scenarios; 95% percentile cluster-bootstrap intervals (B = "
        f"{st.settings['bootstrap_replicates']}, seed {st.settings['bootstrap_seed']})"
        + ("; **partial split**" if rep.partial else "")
        + ".",
        "",
    ]
    head = ["rank", "rank 95% CI", "agent", "games"] + [m.label for m in SCORED]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in agents:
        r = st.agents[a]
        lo, hi = r.rank_interval
        lines.append(
            "| "
            + " | ".join(
                [str(r.rank), f"{lo}-{hi}", f"`{a}`", str(r.games)]
                + [_est(r.get(m.key), m.key) for m in SCORED]
            )
            + " |"
        )
    if st.pairs:
        lines += [
            "",
            "## Paired comparisons (Arena Score)",
            "",
            "| A | B | A - B [95% CI] | p | p (Holm) | cells |",
            "|---|---|---|---|---|---|",
        ]
        for p in sorted(st.pairs, key=lambda p: p.p_holm):
            lines.append(f"| `{p.a}` | `{p.b}` | {format_diff(p)} | {p.p:.4f} | {p.p_holm:.4f} | {p.cells} |")
    lines += ["", "## Cross-play (Arena Score of row agent against column opponent)", ""]
    opponents = sorted({o for a in agents for o in st.crossplay.get(a, {})})
    lines += [
        "| agent | " + " | ".join(f"`{o}`" for o in opponents) + " |",
        "|---|" + "---|" * len(opponents),
    ]
    for a in agents:
        cells = [_est(st.crossplay[a].get(o)) if o in st.crossplay.get(a, {}) else "" for o in opponents]
        lines.append(f"| `{a}` | " + " | ".join(cells) + " |")
    for title, table in (("stratum", st.by_stratum), ("family", st.by_family)):
        groups = sorted({g for a in agents for g in table.get(a, {})})
        lines += [
            "",
            f"## Arena Score by {title}",
            "",
            "| agent | " + " | ".join(groups) + " |",
            "|---|" + "---|" * len(groups),
        ]
        for a in agents:
            lines.append(f"| `{a}` | " + " | ".join(_est(table[a].get(g)) for g in groups) + " |")
    diag = _diagnostics(rep)
    if diag:
        lines += [
            "",
            "## Diagnostics",
            "",
            "| agent | diagnostic | estimate [95% CI] | what it means |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{a}` | {label} | {est} | {why} |" for a, rows in diag.items() for label, est, why in rows
        ]
    lines += ["", "## Metrics", ""] + [f"- **{m.label}** (`{m.key}`): {m.definition}." for m in METRICS]
    lines += ["", "## Power", "", power_line(st)]
    if images:
        lines += ["", "## Plots", ""] + [f"![{name}]({path})" for name, path in images.items()]
    return "\n".join(lines) + "\n"


def to_html(rep: Report, images: dict[str, str] | None = None) -> str:
    """A self-contained page from ``templates/report.html`` (Jinja2, every value escaped)."""
    st = rep.statistics
    rows = []
    for a in st.ranked():
        r = st.agents[a]
        lo, hi = r.rank_interval
        cells = [_est(r.get(m.key), m.key) for m in SCORED]
        rows.append({"rank": r.rank, "low": lo, "high": hi, "agent": a, "games": r.games, "cells": cells})
    return render(
        "report.html",
        task_set=rep.task_set.name,
        split=rep.task_set.split,
        scenarios=st.scenarios,
        replicates=st.settings["bootstrap_replicates"],
        partial=rep.partial,
        metrics=SCORED,
        rows=rows,
        pairs=[
            {"a": p.a, "b": p.b, "diff": format_diff(p), "p": p.p, "p_holm": p.p_holm}
            for p in sorted(st.pairs, key=lambda p: p.p_holm)
        ],  # fmt: skip
        diagnostics=[
            {"agent": a, "label": label, "estimate": est, "why": why}
            for a, rows_ in _diagnostics(rep).items()
            for label, est, why in rows_
        ],  # fmt: skip
        power=power_line(st),
        images=list((images or {}).items()),
    )


# --- plots ------------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scores(st: Statistics, out: Path) -> list[Path]:
    plt = _plt()
    agents = st.ranked()
    mean = np.array([st.agents[a]["arena_score"].mean for a in agents], dtype=float)
    # no interval (fewer than two scenarios): draw the point alone
    lo = np.array([_or(st.agents[a]["arena_score"].lo, m) for a, m in zip(agents, mean)], dtype=float)
    hi = np.array([_or(st.agents[a]["arena_score"].hi, m) for a, m in zip(agents, mean)], dtype=float)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(agents) + 1.2))
    y = np.arange(len(agents))[::-1]
    ax.errorbar(mean, y, xerr=[mean - lo, hi - mean], fmt="o", color="#1f5f8b", capsize=3)
    ax.set_yticks(y, agents)
    ax.set_xlabel("Arena Score (95% cluster-bootstrap CI)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out / "scores", plt)


def plot_crossplay(st: Statistics, out: Path) -> list[Path]:
    plt = _plt()
    agents = st.ranked()
    opponents = sorted({o for a in agents for o in st.crossplay.get(a, {})})
    m = np.full((len(agents), len(opponents)), np.nan)
    for i, a in enumerate(agents):
        for j, o in enumerate(opponents):
            e = st.crossplay.get(a, {}).get(o)
            if e and e.mean is not None:
                m[i, j] = e.mean
    fig, ax = plt.subplots(figsize=(1.0 * len(opponents) + 3, 0.5 * len(agents) + 2))
    im = ax.imshow(m, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(opponents)), [o.split("/")[-1] for o in opponents], rotation=45, ha="right")
    ax.set_yticks(range(len(agents)), agents)
    for i in range(len(agents)):
        for j in range(len(opponents)):
            if not np.isnan(m[i, j]):
                ax.text(
                    j,
                    i,
                    f"{m[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if m[i, j] < 0.5 else "black",
                )
    fig.colorbar(im, ax=ax, label="Arena Score (row vs column)")
    ax.set_title("Cross-play")
    fig.tight_layout()
    return _save(fig, out / "crossplay", plt)


def plot_value_welfare(st: Statistics, out: Path) -> list[Path]:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5))
    for a, r in st.agents.items():
        v, w = r["value"], r["welfare"]
        ax.errorbar(
            v.mean,
            w.mean,
            xerr=[[v.mean - _or(v.lo, v.mean)], [_or(v.hi, v.mean) - v.mean]],
            yerr=[[w.mean - _or(w.lo, w.mean)], [_or(w.hi, w.mean) - w.mean]],
            fmt="o",
            capsize=2,
        )
        ax.annotate(a.split("/")[-1], (v.mean, w.mean), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("Value (own share of possible gain)")
    ax.set_ylabel("Welfare (Nash product / max)")
    ax.grid(alpha=0.3)
    ax.set_title("Value against Welfare")
    fig.tight_layout()
    return _save(fig, out / "value_welfare", plt)


def plot_offer_trace(record: GameRecord, scenario: Scenario, out: Path) -> list[Path]:
    """One game's offers in the (u_A, u_B) plane, against the Pareto frontier and the Nash point."""
    plt = _plt()
    a = analyse(scenario)
    fig, ax = plt.subplots(figsize=(6, 6))
    if scenario.n_outcomes <= 20000:
        from ..core.analysis import grids

        ua, ub = grids(scenario)
        ax.scatter(ua, ub, s=4, color="#dddddd", label="outcomes")
    f = np.array([p.u for p in a.frontier])
    ax.plot(f[:, 0], f[:, 1], "-", color="#444444", lw=1, label="Pareto frontier")
    ax.axvline(scenario.roles[0].batna, color="#999999", ls=":", lw=1)
    ax.axhline(scenario.roles[1].batna, color="#999999", ls=":", lw=1)
    colors = ("#1f77b4", "#d62728")
    for role in (0, 1):
        pts = [
            scenario.utilities(t.action.offer)
            for t in record.turns
            if t.role == role and t.action is not None and t.action.kind == "propose"
        ]
        if pts:
            p = np.array(pts)
            ax.plot(
                p[:, 0],
                p[:, 1],
                "o-",
                color=colors[role],
                ms=4,
                lw=1,
                alpha=0.8,
                label=f"{scenario.roles[role].name} offers ({record.players[role]})",
            )
    if a.nash:
        ax.plot(*a.nash.u, "*", color="gold", ms=16, mec="black", label="Nash point")
    if record.outcome.deal:
        ax.plot(*scenario.utilities(record.outcome.agreement), "s", color="green", ms=10, label="deal")
    ax.set_xlabel(f"u_{scenario.roles[0].name}")
    ax.set_ylabel(f"u_{scenario.roles[1].name}")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(f"{scenario.id}: game {record.game_id[:8]}")
    fig.tight_layout()
    return _save(fig, out / f"offers_{record.game_id[:8]}", plt)


def _or(x, default):
    return default if x is None else x


def _save(fig, stem: Path, plt) -> list[Path]:
    """PNG and SVG of ``fig``, byte for byte the same for the same figure (no date, fixed SVG ids), each
    written to a temporary file and renamed."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with plt.rc_context({"svg.hashsalt": "arena-bench"}):
        for ext in ("png", "svg"):
            path = stem.with_suffix(f".{ext}")
            tmp = path.with_name(path.name + ".tmp")
            fig.savefig(tmp, dpi=110, format=ext, metadata={"Date": None} if ext == "svg" else None)
            tmp.replace(path)
            paths.append(path)
    plt.close(fig)
    return paths


def plot_probe_by_turn(rep: Report, out: Path) -> list[Path]:
    """Belief-probe accuracy (preferred options, minus chance) by when the probe was asked."""
    series = {
        agent: found["probe_by_turn"]
        for run in rep.runs
        for agent, found in run.results.diagnostics.items()
        if found.get("probe_by_turn")
    }
    if not series:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for k, (agent, by_turn) in enumerate(series.items()):
        labels = list(by_turn)
        x = np.arange(len(labels)) + 0.08 * k
        mean = np.array([_or(by_turn[t].mean, np.nan) for t in labels])
        lo = np.array([_or(by_turn[t].lo, np.nan) for t in labels])
        hi = np.array([_or(by_turn[t].hi, np.nan) for t in labels])
        ax.errorbar(x, mean, yerr=[mean - lo, hi - mean], marker="o", capsize=3, label=agent)
        ax.set_xticks(np.arange(len(labels)), labels)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("preferred-option accuracy\nminus chance")
    ax.set_title("What the agent believes the other side wants, by turn")
    ax.legend(fontsize=7)
    return _save(fig, out / "probe_by_turn", plt)


def pick_showcase_game(records: list[GameRecord], agent: str) -> GameRecord | None:
    """A deal by ``agent`` with several offers: the most informative trace to draw."""
    mine = [r for r in records if agent in r.players]
    mine.sort(key=lambda r: (not r.outcome.deal, -len(r.turns), r.game_id))
    return mine[0] if mine else None


def write_report(
    runs: list[Run | Path],
    out: Path,
    fmt: str = "markdown",
    plots: bool = True,
    b: int = 2000,
    recompute: bool = False,
) -> Path:
    from ..scenarios.tasks import TaskSetError, open_task_set

    rep = build(runs, b=b, recompute=recompute)
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, str] = {}
    if plots:
        st = rep.statistics
        for name, fn in (
            ("Arena Score with intervals", plot_scores),
            ("Cross-play", plot_crossplay),
            ("Value against Welfare", plot_value_welfare),
        ):
            images[name] = fn(st, out)[0].name
        probe_plot = plot_probe_by_turn(rep, out)
        if probe_plot:
            images["Belief-probe accuracy by turn"] = probe_plot[0].name
        game = pick_showcase_game(rep.records, rep.agents[0])
        if game:
            try:
                scenario = open_task_set(rep.runs[0].config.tasks).find(game.scenario_id, game.split)
                images[f"Offers of game {game.game_id[:8]}"] = plot_offer_trace(game, scenario, out)[0].name
            except TaskSetError as exc:  # the trace is a nicety; the tables must still be written
                images[f"(offer trace unavailable: {exc})"] = ""
    if fmt == "json":
        path = out / "report.json"
        data = {
            "runs": [str(r.path) for r in rep.runs],
            "task_set": rep.task_set.__dict__,
            "partial": rep.partial,
            "agents": rep.agents,
            "statistics": rep.statistics.to_dict(),
        }
        write_atomic(path, json.dumps(data, indent=2, default=str))
    elif fmt == "html":
        path = out / "report.html"
        write_atomic(path, to_html(rep, {k: v for k, v in images.items() if v}))
    elif fmt == "markdown":
        path = out / "report.md"
        write_atomic(path, to_markdown(rep, {k: v for k, v in images.items() if v}))
    else:
        path = out / "report.txt"
        write_atomic(path, to_text(rep))
    return path
