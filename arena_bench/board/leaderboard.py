"""The static leaderboard site, built from a folder laid out like a snapshot of the results
dataset (``submissions/<model>/<run-id>/results.json`` and ``games.jsonl[.gz]``; baselines
likewise). Every number is recomputed from the game records; refused runs are listed with
their reasons. The site ships its own script and styles (no CDN) and renders submission
strings with textContent only.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from ..core.metrics import HEADLINE, METRIC_BY_KEY, METRICS, leak_detector_for
from ..core.records import GameRecord
from ..errors import ArenaBenchError
from ..planning import page_slug
from ..playing.players import PANELS
from ..scoring.aggregate import entry_rows, evaluate
from ..scoring.display import diagnostics_rows, format_estimate, result_line, transcript_lines
from ..scoring.results import Run
from ..storage import write_atomic
from ..templates import render
from ..versions import DEFAULT_TASK_SET
from .verify import Expected, verify_run

SPACE_README = """---
title: arena-bench leaderboard
emoji: 🤝
colorFrom: blue
colorTo: green
sdk: static
app_file: index.html
pinned: false
---

The arena-bench leaderboard: structured multi-issue negotiation between language-model agents.
Built by `arena-bench leaderboard build`; every number is recomputed from the per-game records.
"""


def find_runs(folder: Path) -> list[Path]:
    return sorted(p.parent for p in Path(folder).rglob("results.json"))


def _recorded_split(path: Path) -> str | None:
    try:
        return json.loads((path / "results.json").read_text())["task_set"]["split"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None  # unreadable: verification names the problem


def collect(
    folder: Path, expected: Expected, other_splits: tuple[str, ...] | None = None, cache: Path | None = None
) -> tuple[list[Run], list[dict[str, Any]]]:
    """Verified runs of EXPECTED's split, and the refused ones with reasons. A run of another split
    is left to that split's table when it is in OTHER_SPLITS (None: every split has its own table)."""
    accepted, refused = [], []
    for path in find_runs(folder):
        parts = path.relative_to(folder).parts
        if (
            len(parts) > 1
            and parts[0] == "baselines"
            and parts[1] in PANELS
            and parts[1] != expected.panel_version
        ):
            continue  # another panel's baselines: that panel's board (``build --panel``)
        split = _recorded_split(path)
        if split is not None and split != expected.split:
            if other_splits is None or split in other_splits:
                continue
            refused.append({"run": str(path.relative_to(folder)),
                            "reasons": [f"played on split {split!r}; this table is {expected.split!r} "
                                        f"(build with --also-split {split} for a table of its own)"]})  # fmt: skip
            continue
        try:
            reasons, run = verify_run(path, expected, cache=cache)
        except ArenaBenchError as exc:  # an unreadable submission is refused, not fatal to the build
            refused.append({"run": str(path.relative_to(folder)), "reasons": [str(exc)]})
            continue
        except (RecursionError, MemoryError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # whatever a hostile file does to a reader it reaches: that run is refused, the build goes on
            refused.append(
                {
                    "run": str(path.relative_to(folder)),
                    "reasons": [
                        f"cannot be read as a run ({type(exc).__name__}); check it with validate-results"
                    ],
                }
            )
            continue
        if reasons or run is None:
            refused.append({"run": str(path.relative_to(folder)), "reasons": reasons[:10]})
            continue
        accepted.append(run)
    accepted, dropped = one_run_per_model(accepted, folder)
    return accepted, refused + dropped


HUMANS_AGGREGATE = "humans (all people)"

# A run dated before the project existed, or after the build, has a forged date: its date cannot
# decide which of two runs under one name is the first.
EARLIEST_RUN = "2026-01-01"


def _date_problem(run: Run) -> str | None:
    from datetime import datetime, timedelta, timezone

    created = run.results.created_at
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
    except ValueError:
        return f"created_at {created!r} is not a date"
    if when < datetime.fromisoformat(EARLIEST_RUN).replace(tzinfo=timezone.utc):
        return f"created_at {created} is before arena-bench existed"
    if when > datetime.now(timezone.utc) + timedelta(days=1):
        return f"created_at {created} is in the future"
    return None


def one_run_per_model(runs: list[Run], folder: Path) -> tuple[list[Run], list[dict[str, Any]]]:
    """One row per model name: a model's first run (by date, then path) owns its row, and a later
    run under the same name is refused naming both, unless its results say ``"replaces": PATH`` of
    the run it supersedes (that one is then set aside). Runs with forged dates are refused."""
    refused = []
    dated = []
    for run in runs:
        problem = _date_problem(run)
        if problem:
            refused.append({"run": _rel(run, folder), "reasons": [problem]})
        else:
            dated.append(run)
    replaced = {}
    for run in dated:
        target = _replaces(run)
        if target:
            replaced[target] = _rel(run, folder)
    kept, owner = [], {}
    for run in sorted(dated, key=lambda r: (r.results.created_at, str(r.path))):
        rel = _rel(run, folder)
        if rel in replaced:
            refused.append({"run": rel, "reasons": [f"replaced by {replaced[rel]}"]})
            continue
        taken = [(a, owner[a]) for a in run.evaluated_agents() if a in owner]
        if taken:
            agent, first = taken[0]
            refused.append(
                {
                    "run": rel,
                    "reasons": [
                        f"{agent!r} already has a row from {first}; a second run under the same name is refused "
                        f'(this run: {rel}) unless its results.json says "replaces": "{first}"'
                    ],
                }
            )
            continue
        for agent in run.evaluated_agents():
            owner[agent] = rel
        kept.append(run)
    return kept, refused


def _rel(run: Run, folder: Path) -> str:
    try:
        return str(Path(run.path).relative_to(folder))
    except ValueError:
        return str(run.path)


def _replaces(run: Run) -> str | None:
    try:
        value = json.loads((Path(run.path) / "results.json").read_text(encoding="utf-8")).get("replaces")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def provenance(run: Run, folder: Path) -> str:
    """Who produced a row: the maintainers (a baseline they ran) or the submitter (self-reported:
    the panel's moves are replay-verified, the model's own moves cannot be)."""
    return "maintainers" if _rel(run, folder).split("/", 1)[0] == "baselines" else "self-reported"


def _entries_rows(runs: list[Run]) -> tuple[pd.DataFrame, list[str], dict[str, Run]]:
    """Each entry's own rows (see ``aggregate.entry_rows``); a model in several runs keeps its earliest."""
    ordered = sorted(runs, key=lambda r: (r.results.created_at, str(r.path)))
    rows, agents = entry_rows(ordered)
    owner: dict[str, Run] = {}
    for r in ordered:
        for agent in r.evaluated_agents():
            owner.setdefault(agent, r)
    return rows, agents, owner


def _transcript(record: GameRecord, scenario) -> dict[str, Any]:
    lines = []
    for line in transcript_lines(record, scenario):
        suffix = ""
        if line.rejected:
            n = len(line.rejected)
            suffix = f"  [{n} rejected repl{'y' if n == 1 else 'ies'}: {line.rejected[0]}]"
        lines.append({"text": f"{line.turn + 1}. {line.who} {line.act}{suffix}", "message": line.message})
    return {
        "title": f"{scenario.id}: {scenario.title} — game {record.game_id}",
        "lines": lines,
        "result": result_line(record),
    }


def _page(template: str, title: str, data: dict[str, Any], depth: int = 0, **context: Any) -> str:
    """A site page from its template; DATA goes in a JSON script block that app.js reads."""

    payload = (
        json.dumps(data, ensure_ascii=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )  # no "<", ">" or "&" is left, so the block cannot be closed early: safe inside <script>
    return render(template, title=title, prefix="../" * depth, payload=Markup(payload), **context)


BUILD_STAMP = ".build-key.json"


def build_key(expected: Expected, task_set: str, sources: list[Path], options: dict[str, Any]) -> str:
    """A hash of everything a site is built from: every file under SOURCES (folders or files), the
    OPTIONS, the task set, and the builder's own source (a new arena-bench rebuilds). Equal keys: the
    same site."""
    from .. import __version__
    from ..scenarios.tasks import open_task_set
    from .verify import VERIFIER_VERSION

    h = hashlib.sha256(
        json.dumps([__version__, VERIFIER_VERSION, repr(expected), task_set, options], default=str).encode()
    )
    h.update(open_task_set(task_set).hash.encode())
    package = Path(__file__).resolve().parents[1]  # the whole arena_bench package: any change rebuilds
    inputs = [
        (package, p)
        for p in sorted(package.rglob("*"))
        if p.suffix in (".py", ".js", ".css", ".html", ".json")
    ]
    for folder in map(Path, sources):
        files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        inputs += [(folder, p) for p in files]
    for base, path in inputs:
        h.update(str(path.relative_to(base) if path != base else path.name).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def build(
    results_folder: Path,
    out: Path,
    expected: Expected,
    b: int = 2000,
    task_set: str = DEFAULT_TASK_SET,
    samples: int = 3,
    heldout: Path | None = None,
    extra_splits: tuple[str, ...] = (),
    humans: tuple[Path, ...] = (),
    cache: Path | None = None,
) -> dict[str, Any]:
    from ..scenarios.tasks import open_task_set

    out = Path(out)
    key = None
    if cache is not None:  # nothing new since the site in OUT was built: it is up to date as it is
        sources = [results_folder, *humans, *([heldout] if heldout else [])]
        options = {"b": b, "samples": samples, "extra_splits": list(extra_splits)}
        key = build_key(expected, task_set, sources, options)
        stamp = out / BUILD_STAMP
        if stamp.is_file():
            try:
                saved = json.loads(stamp.read_text())
            except ValueError:
                saved = {}
            if saved.get("key") == key and (out / "index.html").is_file():
                return {**saved["summary"], "up_to_date": True}
    runs, refused = collect(results_folder, expected, tuple(extra_splits), cache=cache)
    tmp = out.with_name(f".{out.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "models").mkdir(parents=True)
    for name in ("app.js", "style.css"):
        (tmp / name).write_text(resources.files("arena_bench").joinpath(f"site/{name}").read_text())
    (tmp / "README.md").write_text(SPACE_README)

    rows, agents, owner = _entries_rows(runs)
    people = [a for a in agents if a.startswith("human/")]
    if people:  # every person's games pooled: how people do, beside each person's own row
        pooled = rows[rows["agent"].isin(people)].copy()
        pooled["agent"] = HUMANS_AGGREGATE
        rows = pd.concat([rows, pooled], ignore_index=True)
        agents = [*agents, HUMANS_AGGREGATE]
    stats = evaluate(rows, agents, b=b) if agents else None
    from .heldout import model_settings

    ts = open_task_set(task_set)
    scenarios = {s.id: s for s in ts.load(expected.split)}
    entries = []
    stats_dict = stats.to_dict() if stats else {}
    if stats:
        for agent in stats.ranked():
            row = stats_dict["agents"][agent]
            if agent == HUMANS_AGGREGATE:
                entries.append(
                    {
                        "model": agent,
                        "page": "",
                        "rank": row["rank"],
                        "rank_interval": row["rank_interval"],
                        "games": row["games"],
                        "metrics": {c: row[c] for c in HEADLINE},
                        "source": "human",
                        "settings": (),
                        "people": len(people),
                    }
                )
                continue
            entries.append(
                {
                    "model": agent,
                    "page": f"{page_slug(agent)}.html",
                    "rank": row["rank"],
                    "rank_interval": row["rank_interval"],
                    "games": row["games"],
                    "metrics": {c: row[c] for c in HEADLINE},
                    "source": "human"
                    if agent.startswith("human/")
                    else provenance(owner[agent], results_folder),
                    "settings": model_settings(owner[agent].config.player_options.get(agent, {})),
                }
            )
    heldout_sets = None
    if heldout is not None:  # the maintainers' held-out scores beside the public ones
        from .heldout import contamination, match_heldout, read_heldout

        scores = read_heldout(heldout)
        for entry in entries:
            h = match_heldout(entry["model"], entry["settings"], scores)
            if h is not None:
                entry["heldout"] = {"mean": h.mean, "lo": h.lo, "hi": h.hi, "se": h.se}
                entry["contamination"] = contamination(entry["metrics"]["arena_score"], h)
        sets = sorted({f"{h.task_set}/{h.split}" for h in scores})
        heldout_sets = ", ".join(sets) or "-"
    opponents = sorted({o for a in agents for o in (stats.crossplay.get(a, {}) if stats else {})})
    strata = sorted({s for a in agents for s in (stats.by_stratum.get(a, {}) if stats else {})})
    data = {
        "columns": [
            {"key": c, "label": METRIC_BY_KEY[c].label, "definition": METRIC_BY_KEY[c].definition}
            for c in HEADLINE
        ],
        "entries": entries,
        "opponents": opponents,
        "crossplay": stats_dict.get("crossplay", {}),
        "strata": strata,
        "by_stratum": stats_dict.get("by_stratum", {}),
        "heldout": heldout is not None,
        "empty_note": (
            f"No run on split {expected.split} has been accepted yet"
            + (
                f"; the {', '.join(extra_splits)} table{'s' if len(extra_splits) > 1 else ''} below"
                if extra_splits
                else ""
            )
            + ". Refused runs are listed at the end with their reasons."
        ),
    }
    split_tables, split_entries = [], {}
    for split in extra_splits:  # before the index: their refused runs are listed with the main table's
        table, found, split_refused = _split_table(
            results_folder, tmp, task_set, split, b, samples, expected.panel_version, cache
        )
        split_tables.append(table)
        split_entries[split] = found
        refused += [{**r, "split": split} for r in split_refused]
    (tmp / "index.html").write_text(
        _page(
            "site_index.html", "arena-bench leaderboard", data,
            task_set=ts.full_name, task_hash=ts.hash[:12], split=expected.split, panel=expected.panel_version,
            protocol=expected.protocol_version, b=b, heldout_sets=heldout_sets,
            split_tables=[Markup(t) for t in split_tables], humans=Markup(humans_section(humans)), refused=refused,
        )
    )  # fmt: skip

    for entry in entries:
        if entry["model"] != HUMANS_AGGREGATE:
            _model_page(tmp, entry, owner[entry["model"]], stats, scenarios, b, samples)
    write_atomic(
        tmp / "leaderboard.json",
        json.dumps(
            {
                "entries": entries,
                "refused": refused,
                "statistics": stats_dict or None,
                "splits": split_entries,
            },
            indent=1,
            default=str,
        ),
    )
    if out.exists():
        shutil.rmtree(out)
    summary = {"entries": entries, "refused": refused, "splits": split_entries}
    if key is not None:
        (tmp / BUILD_STAMP).write_text(json.dumps({"key": key, "summary": summary}, default=str))
    tmp.rename(out)
    _RUN_ROWS.clear()  # the memo serves one build: let its runs' games go
    return summary


def _model_page(
    tmp: Path, entry: dict, run: Run, stats, scenarios: dict, b: int, samples: int, split: str = ""
) -> None:
    """One entry's page: metrics, opponents, diagnostics, settings, an offer trace, and transcripts
    of its best and worst game (by its Arena Score) and of its longest deals."""
    from ..scoring.report import pick_showcase_game, plot_offer_trace

    agent = entry["model"]
    mine = [r for r in run.games if agent in r.players and r.scenario_id in scenarios]

    def score(r: GameRecord) -> float:
        return max(r.sides[i].arena_score for i in (0, 1) if r.players[i] == agent)

    labelled: list[tuple[str, GameRecord]] = []
    if mine:
        best = max(mine, key=lambda r: (score(r), r.game_id))
        worst = min(mine, key=lambda r: (score(r), r.game_id))
        labelled = [("Best game", best), ("Worst game", worst)]
    rest = sorted(mine, key=lambda r: (not r.outcome.deal, -len(r.turns), r.game_id))
    shown = {g.game_id for _, g in labelled}
    labelled += [("Sample", r) for r in rest if r.game_id not in shown][: max(0, samples - 2)]
    transcripts = []
    for label, r in labelled:
        t = _transcript(r, scenarios[r.scenario_id])
        t["title"] = f"{label} (Arena Score {score(r):.3f}): {t['title']}"
        transcripts.append(t)
    folder = tmp / "models"
    plot = None
    game = pick_showcase_game(run.games, agent)
    if game and game.scenario_id in scenarios:
        pngs = plot_offer_trace(
            game, scenarios[game.scenario_id], folder / (page_slug(agent) + (f"-{split}" if split else ""))
        )
        plot = str(pngs[0].relative_to(folder))
    row = stats.agents[agent]
    diagnostics = diagnostics_rows(_entry_diagnostics(run, agent, scenarios, b), run.results.metrics_version)
    (folder / entry["page"]).write_text(
        _page(
            "site_model.html",
            f"{agent} - arena-bench",
            {"transcripts": transcripts},
            depth=1,
            agent=agent,
            split=split,
            rank=entry["rank"],
            rank_low=entry["rank_interval"][0],
            rank_high=entry["rank_interval"][1],
            metrics=[
                {"label": m.label, "definition": m.definition, "value": _parts(row.get(m.key), m.digits)}
                for m in METRICS
                if row.get(m.key) is not None
            ],
            opponents=[
                {"name": o, "score": _parts(e), "games": e.n}
                for o, e in sorted(stats.crossplay.get(agent, {}).items())
            ],
            diagnostics=[{"label": label, "estimate": est, "why": why} for label, est, why in diagnostics],
            settings=Markup(_settings_rows(run, agent)),
            plot=plot,
        )
    )


def _split_table(
    folder: Path,
    tmp: Path,
    task_set: str,
    split: str,
    b: int,
    samples: int,
    panel: str,
    cache: Path | None = None,
) -> tuple[str, list[dict], list[dict]]:
    """A table of the runs on another split (e.g. ``lite``, where a small model runs on a CPU), each
    entry recomputed and verified like the main table, with its wall time and pace, and a page."""
    from ..scenarios.tasks import open_task_set
    from .verify import expected_for

    runs, refused = collect(
        folder, expected_for(task_set, split, panel), cache=cache
    )  # other splits: their own tables
    if not runs:
        return render("site_split.html", split=split, rows=[], metrics=[]), [], refused
    rows, agents, owner = _entries_rows(runs)
    stats = evaluate(rows, agents, b=b)
    scenarios = {s.id: s for s in open_task_set(task_set).load(split)}
    entries, body = [], []
    for agent in stats.ranked():
        r = stats.agents[agent]
        run = owner[agent]
        counts = run.results.counts
        pace = (
            f"{counts.played_this_session / counts.seconds_this_session:.2f}"
            if counts.seconds_this_session and counts.played_this_session
            else "-"
        )
        # a run resumed from a file that did not count sessions: its time is the last session's, at least
        known = counts.sessions is not None or not counts.resumed_from_store
        wall = (
            counts.seconds_all_sessions
            if counts.seconds_all_sessions is not None
            else counts.seconds_this_session
        )
        sessions = counts.sessions if counts.sessions is not None else (1 if known else None)
        entry = {
            "model": agent,
            "page": f"{page_slug(agent)}-{split}.html",
            "rank": r.rank,
            "rank_interval": list(r.rank_interval),
            "games": r.games,
            "metrics": {c: r.get(c).to_dict() for c in HEADLINE if r.get(c) is not None},
            "wall_s": wall,
            "sessions": sessions,
            "games_per_s": None if pace == "-" else float(pace),
        }
        entries.append(entry)
        _model_page(tmp, entry, run, stats, scenarios, b, samples, split)
        body.append(
            {
                "rank": r.rank,
                "low": r.rank_interval[0],
                "high": r.rank_interval[1],
                "page": entry["page"],
                "agent": agent,
                "cells": [_parts(r.get(c), METRIC_BY_KEY[c].digits) for c in HEADLINE],
                "games": r.games,
                "wall": f"{wall:,.0f}{'' if known else ' (last session)'}",
                "sessions": sessions if known else "2+",
                "pace": pace,
            }
        )
    table = render("site_split.html", split=split, rows=body, metrics=[METRIC_BY_KEY[c] for c in HEADLINE])
    return table, entries, refused


# the rows of the runs whose pages this build is writing: a round robin's every entry reads the same
# run, whose rows (every metric of every game) would otherwise be computed once per page
_RUN_ROWS: list[tuple[Run, dict, list[GameRecord], pd.DataFrame]] = []


def _run_rows(run: Run, scenarios: dict) -> tuple[list[GameRecord], pd.DataFrame | None]:
    for held, held_scenarios, games, rows in _RUN_ROWS:
        if held is run and held_scenarios is scenarios:
            return games, rows
    from ..scoring.aggregate import rows_from_records

    games = [r for r in run.games if r.scenario_id in scenarios]
    rows = (
        rows_from_records(games, scenarios, leak_detector_for(run.results.metrics_version)) if games else None
    )
    _RUN_ROWS[:] = [(run, scenarios, games, rows), *_RUN_ROWS][:2]
    return games, rows


def _entry_diagnostics(run: Run, agent: str, scenarios: dict, b: int) -> dict:
    """The entry's diagnostics from its own games (never the submitted numbers)."""
    import numpy as np

    from ..core.stats import DEFAULT_SEED, bootstrap_counts
    from ..scoring.diagnose import run_diagnostics

    games, rows = _run_rows(run, scenarios)
    if rows is None:
        return {}
    weights = bootstrap_counts(rows["scenario_id"].nunique(), b, np.random.default_rng(DEFAULT_SEED))
    return run_diagnostics(rows, [agent], weights, games, scenarios).get(agent, {})


def _settings_rows(run: Run, agent: str) -> str:
    """What the submitter chose freely (generation settings, backend): shown, not ranked. A nested
    object is one ``key: value`` line each (wrapped, never cut mid-key), so a long backend
    description cannot stretch the table past the page."""
    chosen = dict(run.config.player_options.get(agent, {}))
    described = run.results.players.get(agent, {})
    for key in ("kind", "prompt_version", "structured_active", "backend"):
        if key in described:
            chosen.setdefault(key, described[key])
    settings = [
        {"key": str(k), "text": None if isinstance(v, dict) else _short(v),
         "lines": [(str(a), _short(b)) for a, b in sorted(v.items(), key=lambda kv: str(kv[0]))]
         if isinstance(v, dict) else None}
        for k, v in sorted(chosen.items())
    ]  # fmt: skip
    return render("site_settings.html", settings=settings)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _parts(e, digits: int = 3) -> tuple[str, str]:
    """An estimate as (mean, interval) text, for a template to lay out."""
    mean, _, interval = format_estimate(e, "full", digits).partition(" ")
    return mean, interval


def humans_section(files: tuple[Path, ...]) -> str:
    """The "Humans" section: human-human reference rows (``humans rows --json``) and agents compared
    with humans on the same scenarios (``humans compare --json``), each with its source and license."""
    if not files:
        return ""
    from ..scenarios.humans import COMPARED, DATASETS, HUMAN_METRICS
    from ..scoring.results import Estimate

    labels = {"deal": "Deal rate", "pareto": "Pareto-optimal (of deals)", "joint": "Joint points / best"}
    found = []
    for path in files:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            found.append({"path": str(path), "error": type(exc).__name__})
            continue
        dataset = str(
            data.get("dataset") or str(data.get("task_set", "")).removeprefix("human-").rsplit("-v", 1)[0]
        )
        meta = DATASETS.get(dataset, {})
        source = f"{meta.get('citation', dataset)}; license {meta.get('license', '?')}" + (
            "" if meta.get("commercial", True) else " (non-commercial)"
        )
        reference = comparisons = None
        if "splits" in data:
            reference = [
                {"split": split, "dialogues": int(row["dialogues"]), "scenarios": int(row["scenarios"]),
                 "cells": [_parts(Estimate.from_dict(row["metrics"][k])) for k, _, _ in HUMAN_METRICS]}
                for split, row in data["splits"].items()
            ]  # fmt: skip
        if "comparisons" in data:
            comparisons = [
                {"agent": c["agent"], "subset": bool(c.get("partial")), "which": which,
                 "scenarios": int(row["scenarios"]), "games": int(row["games"]),
                 "cells": [_parts(Estimate.from_dict(row["difference"][k])) for k in COMPARED]}
                for c in data["comparisons"]
                for which, row in c["rows"].items()
            ]  # fmt: skip
        found.append(
            {"error": None, "name": str(data.get("task_set", "?")), "split": str(data.get("split", "")),
             "source": source, "reference": reference, "comparisons": comparisons}
        )  # fmt: skip
    return render(
        "site_humans.html",
        files=found,
        reference_columns=[(label, why) for _, label, why in HUMAN_METRICS],
        compared_columns=[labels[k] for k in COMPARED],
    )
