"""Runs an evaluation or a tournament end to end: plan cells, play them into the durable store,
compute every statistic once from the stored games, write the results file atomically.

Reading runs back is ``arena_bench.scoring.results``'s job.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .config import DEFAULT_CONCURRENCY, RunConfig
from .core.metrics import METRICS_VERSION
from .core.protocol import PROTOCOL_VERSION
from .core.stats import bootstrap_counts
from .errors import ArenaBenchError, ConfigError, RunError
from .planning import Plan, page_slug, plan, run_dir_for, slug
from .playing.players import make_player
from .playing.runner import GameStore, RunStats, run_plan
from .pricing import estimate
from .provenance import environment, git_hash
from .scenarios.tasks import open_task_set
from .scoring.aggregate import evaluate, rows_from_records
from .scoring.diagnose import run_diagnostics
from .scoring.results import Counts, Run, RunResults, TaskSetRef, usage_by_player
from .storage import write_atomic

__all__ = ["RunConfig", "RunError", "page_slug", "plan", "run", "run_dir_for", "slug"]


def _fingerprints(players: dict[str, Any]) -> dict[str, str]:
    """The sha256 of each player that is a file (an exported policy, a Python agent file)."""
    out = {}
    for spec, p in players.items():
        digest = p.describe().get("sha256")
        if digest:
            out[spec] = digest
    return out


def _check_same_files(run_dir: Path, fingerprints: dict[str, str]) -> None:
    """A run folder's stored games were played by the files that played them: resuming with another
    file under the same name (a retrained policy at the same path, say) would mix two players' games
    under one name, so it is refused. Runs from before ``players.json`` are read from their results."""
    stored: dict[str, str] = {}
    try:
        if (run_dir / "players.json").exists():
            stored = json.loads((run_dir / "players.json").read_text(encoding="utf-8"))
        elif (run_dir / "results.json").exists():
            players = json.loads((run_dir / "results.json").read_text(encoding="utf-8")).get("players", {})
            stored = {s: d["sha256"] for s, d in players.items() if isinstance(d, dict) and d.get("sha256")}
    except (OSError, ValueError, AttributeError) as e:
        raise RunError(
            f"{run_dir}: cannot read which files played its stored games ({e}); delete the folder to start over"
        ) from None
    for spec, digest in fingerprints.items():
        was = stored.get(spec)
        if was and was != digest:
            raise RunError(changed_file_message(run_dir, spec, was, digest))


def changed_file_message(run_dir: Path, spec: str, was: str, now: str) -> str:
    """One message with both ways out, so that neither --resume nor a plain rerun sends a user in a
    circle: the stored games were played by another version of the file, and cannot be mixed."""
    return (
        f"{run_dir} holds games of {spec} played by another version of its file (sha256 {was[:12]}..., now "
        f"{now[:12]}...); they cannot be mixed with the new file's games. Delete {run_dir} to start over, or "
        "pass --output-path NEW_FOLDER to keep both"
    )


def _edited_file(run_dir: Path, specs: list[str]) -> str | None:
    """Why a plain rerun must not say "pass --resume": a file player changed since the stored games."""
    import hashlib as _hashlib

    try:
        stored = json.loads((run_dir / "players.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for spec in specs:
        path = spec[3:].rsplit(":", 1)[0] if spec.startswith("py:") else None
        if path is None or spec not in stored or not Path(path).is_file():
            continue
        now = _hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if now != stored[spec]:
            return changed_file_message(run_dir, spec, stored[spec], now)
    return None


def check_output_path(config: RunConfig, output_path: Path, resume: bool) -> str | None:
    """Refuse an output path that is itself a run folder (a run would nest inside it); a note when
    --resume finds nothing to resume (the run starts fresh, and says so)."""
    output_path = Path(output_path)
    if any((output_path / name).is_file() for name in ("results.json", "games.jsonl", "config.json")):
        try:
            held = json.loads((output_path / "config.json").read_text()).get("agents", ["?"])
        except (OSError, ValueError, AttributeError):
            held = ["?"]
        raise ConfigError(
            f"--output-path {output_path} is itself a run folder (of {', '.join(map(str, held))}); pass the folder "
            f"that holds run folders instead, e.g. --output-path {output_path.parent.parent}"
        )
    if resume:
        ts = open_task_set(config.tasks)
        run_dir = run_dir_for(config, output_path, ts.hash)
        if not (run_dir / "games.jsonl").exists():
            return f"note: --resume: no run with these settings in {output_path} yet ({run_dir}); starting it"
    return None


def run(config: RunConfig, output_path: Path, resume: bool = False, progress: bool = True) -> Run:
    """Play every planned game that is not stored yet, then write the results; returns the run
    with its games and statistics in memory (nothing is read back)."""
    planned = plan(config)
    ts, specs = planned.task_set, planned.specs
    run_dir = run_dir_for(config, output_path, ts.hash)
    games_path = run_dir / "games.jsonl"
    if games_path.exists() and not resume:
        raise RunError(
            _edited_file(run_dir, specs)
            or f"{run_dir} already holds a run with these settings; pass --resume to continue it "
            "(finished games are kept) or delete the folder to start over"
        )
    # made before anything is written, so a bad name or a missing package leaves no trace
    players = {
        s: make_player(s, {**config.player_options.get(s, {}), **config.runtime_options.get(s, {})})
        for s in specs
    }
    budgets = _budgets(config, players)
    fingerprints = _fingerprints(players)
    _check_same_files(run_dir, fingerprints)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(run_dir / "players.json", json.dumps(fingerprints, indent=2, sort_keys=True) + "\n")
    store = GameStore(games_path)
    spend_path = run_dir / "spend.json"
    # what earlier sessions of this run spent counts too, games they left unfinished included
    spent_before = json.loads(spend_path.read_text()) if spend_path.exists() and resume else {}
    for spec, limit in budgets.items():
        stored = sum(
            float(side.usage.get("cost_usd", 0.0))
            for r in store.records
            for i, side in enumerate(r.sides)
            if r.players[i] == spec
        )
        players[spec].budget = limit
        limit.spent_usd = max(stored, float(spent_before.get(spec, 0.0)))
    for p in players.values():  # the Batch API keeps its batch ids and answers in the run folder
        attach = getattr(getattr(p, "backend", None), "attach", None)
        if attach is not None:
            attach(run_dir)
    _check_context(planned, players)
    try:
        write_atomic(run_dir / "config.json", json.dumps(config.identity(), indent=2, default=str) + "\n")
        for reason in store.rejected:
            print(
                f"note: {reason}; moved to games.rejected.jsonl, that game is played again", file=sys.stderr
            )
        stats = asyncio.run(run_plan(planned, players, store, progress))
    finally:
        store.close()
        if budgets:
            write_atomic(
                spend_path, json.dumps({s: b.spent_usd for s, b in budgets.items()}, indent=2) + "\n"
            )
        for p in players.values():
            close = getattr(p, "close", None)
            if close:
                close()
    results = build_results(planned, stats, players, store.records, _previous_counts(run_dir, stats))
    try:
        results.save(run_dir)
    except OSError as exc:  # a full disk: the games are safe in games.jsonl; --resume writes this again
        raise RunError(
            f"cannot write {run_dir / 'results.json'} ({os.strerror(exc.errno) if exc.errno else exc}); "
            f"{len(store.records)} games are stored in {run_dir}: free space, then --resume"
        ) from None
    if stats.stopped:
        raise RunError(
            f"{stats.stopped}: {len(store.records)} of {stats.planned} games are stored in {run_dir}; "
            "continue with the same command and --resume"
        ) from stats.stop_error
    return Run(run_dir, results, store.records)


def _budgets(config: RunConfig, players: dict[str, Any]) -> dict[str, Any]:
    """``--budget-usd`` per model, checked before anything is written: it needs a price."""
    from .models.base import LLMPlayer, SpendLimit
    from .models.openai_backend import list_prices

    out = {}
    for spec, runtime in config.runtime_options.items():
        if runtime.get("budget_usd") is None:
            continue
        player = players[spec]
        if not isinstance(player, LLMPlayer):
            raise ConfigError(f"--budget-usd: {spec} makes no paid calls")
        prices = getattr(player.backend, "prices", None) or list_prices(spec)
        if prices is None:
            raise ConfigError(
                f"--budget-usd: no list price is known for {spec} (a server under --api-base is priced at "
                "nothing); leave --budget-usd out"
            )
        out[spec] = SpendLimit(float(runtime["budget_usd"]), prices)
    return out


def _check_context(planned: Plan, players: dict[str, Any]) -> None:
    """Warn when a server's context window cannot hold the longest prompt the protocol makes:
    the turns that overflow will be refused and counted as forfeits."""
    windows = {}
    for spec, player in players.items():
        backend = getattr(player, "backend", None)
        if hasattr(backend, "context_windows"):
            windows[spec] = {b: w for b, w in backend.context_windows().items() if w}
    if not any(windows.values()):
        return
    longest = estimate(planned.config, sample=4, planned=planned).longest_prompt_tokens
    for spec, per_server in windows.items():
        for base, window in per_server.items():
            need = longest + players[spec].settings.max_tokens
            if need > window:
                print(
                    f"warning: {spec} at {base} has a context window of {window} tokens; the longest prompt "
                    f"of this split is about {longest} tokens plus {players[spec].settings.max_tokens} for the "
                    "reply (a repair adds more). Turns that do not fit are refused by the server and counted "
                    "as forfeits; start the server with a longer context (vLLM: --max-model-len) or lower "
                    "--max-tokens",
                    file=sys.stderr,
                )


def _previous_counts(run_dir: Path, stats: RunStats) -> Counts | None:
    """The counts of the session before this one, when this one resumed a stored run (for the run's
    time over all sessions); None when there is no readable earlier results file."""
    if not stats.skipped_done or not (run_dir / "results.json").is_file():
        return None
    try:
        return RunResults.from_dict(json.loads((run_dir / "results.json").read_text(encoding="utf-8"))).counts
    except (ArenaBenchError, ValueError):
        return None


def build_results(
    planned: Plan, stats: RunStats, players: dict[str, Any], records, previous: Counts | None = None
) -> RunResults:
    config, ts = planned.config, planned.task_set
    results = RunResults(
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        arena_bench_version=__version__,
        git_hash=git_hash(),
        protocol_version=PROTOCOL_VERSION,
        metrics_version=METRICS_VERSION,
        task_set=TaskSetRef(ts.full_name, ts.hash, config.split, ts.manifest["splits"][config.split]),
        panel_version=config.panel,
        partial=config.partial,
        config=config,
        players={spec: p.describe() for spec, p in players.items()},
        seeds={
            "cell_seed": "sha256(task_set, scenario, first_mover, rep, salt)",
            "salt": config.salt,
            "bootstrap_seed": config.bootstrap_seed,
        },
        counts=Counts(
            planned=stats.planned,
            completed=len(records),
            failed=stats.failed,
            failures=stats.failures[:50],
            played_this_session=stats.completed,
            resumed_from_store=stats.skipped_done,
            seconds_this_session=round(stats.seconds, 3),
            engine=stats.engine,
            # an earlier file without these counted its own session only: a lower bound
            sessions=1 + ((previous.sessions or 1) if previous else 0),
            seconds_all_sessions=round(
                stats.seconds
                + ((previous.seconds_all_sessions or previous.seconds_this_session) if previous else 0),
                3,
            ),
        ),
        environment=environment(),
        usage=usage_by_player(records),
    )
    if records:
        scenarios = {s.id: s for s in planned.scenarios}
        rows = rows_from_records(records, scenarios)
        agents = config.evaluated_agents(rows["agent"].unique())
        # one bootstrap draw over the scenarios, shared by the model's table and the panel's side
        weights = bootstrap_counts(
            rows["scenario_id"].nunique(),
            config.bootstrap_replicates,
            np.random.default_rng(config.bootstrap_seed),
        )
        results.statistics = evaluate(rows, agents, seed=config.bootstrap_seed, weights=weights)
        if config.kind == "evaluation":
            # the opponents' side of the same games, so a scorecard can show how the panel fared
            results.statistics_opponents = evaluate(
                rows[rows["agent"] != config.agents[0]], None, seed=config.bootstrap_seed, weights=weights
            )
        results.diagnostics = run_diagnostics(rows, agents, weights, records, scenarios)
    return results


# --- settings from the command line -----------------------------------------------------------


def parse_model_args(text: str | None) -> dict[str, str]:
    """``k=v,k=v`` from ``--model-args``."""
    out: dict[str, str] = {}
    for part in filter(None, (text or "").split(",")):
        if "=" not in part:
            raise ConfigError(f"--model-args: {part!r} is not key=value")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def evaluation_config(
    model: str,
    *,
    model_args: str | None = None,
    api_base: str | list[str] | None = None,
    max_connections: int = 16,
    budget_usd: float | None = None,
    batch: bool = False,
    temperature: float = 0.0,
    max_tokens: int = 300,
    gen_seed: int = 0,
    structured: str = "auto",
    timeout_s: float = 60.0,
    use_cache: Path | None = None,
    no_self_play: bool = False,
    opponents: str | None = None,
    **common: Any,
) -> RunConfig:
    """The config of ``arena-bench run``: MODEL against the panel (and itself)."""
    for option, value in (("--max-connections", max_connections), ("--max-tokens", max_tokens)):
        if value < 1:
            raise ConfigError(f"{option} must be at least 1, got {value}")
    for option, value in (("--temperature", temperature), ("--timeout", timeout_s)):
        if not value >= 0:
            raise ConfigError(f"{option} must be 0 or more, got {value}")
    options: dict[str, Any] = {}
    if isinstance(api_base, (list, tuple)):  # --api-base given several times: replicas of one model
        api_base = list(dict.fromkeys(api_base)) or None
        if api_base and len(api_base) == 1:
            api_base = api_base[0]
    if not model.startswith("scripted/"):
        options = {
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": gen_seed,
            "structured": structured,
            "timeout_s": timeout_s,
            **parse_model_args(model_args),
        }
        if api_base:
            options["api_base"] = api_base
    runtime: dict[str, Any] = {"max_connections": max_connections}
    if budget_usd is not None:
        runtime["budget_usd"] = budget_usd
    if batch:
        if model.split("/")[0] not in ("openai", "anthropic"):
            raise ConfigError(
                f"--batch: batches are reached through openai/ (OpenAI Batch API) and anthropic/ "
                f"(Message Batches) models, not {model}"
            )
        runtime["batch"] = True
        if common.get("max_concurrency") is None:
            common["max_concurrency"] = 1_000_000  # every open game takes its turn in each batch
    if use_cache and not model.startswith("scripted/"):
        runtime["use_cache"] = str(use_cache)
    from .models import RUNTIME_KEYS

    for key in RUNTIME_KEYS:
        if key in options:
            runtime[key] = options.pop(key)
    chosen = tuple(o.strip() for o in opponents.split(",") if o.strip()) if opponents else None
    # games in flight follow the connection limit unless set: a game has one call in flight at a time
    if common.get("max_concurrency") is None:
        common["max_concurrency"] = max(DEFAULT_CONCURRENCY, max_connections)
    elif common["max_concurrency"] < max_connections and not model.startswith("scripted/"):
        print(
            f"note: --max-concurrency {common['max_concurrency']} games in flight allow at most that many of "
            f"the {max_connections} connections (--max-connections) to be busy",
            file=sys.stderr,
        )
    return RunConfig(
        kind="evaluation",
        agents=(model,),
        self_play=not no_self_play,
        opponents=chosen,
        player_options={model: options} if options else {},
        runtime_options={model: runtime},
        **common,
    )


def tournament_config(agents: str, *, no_self_play: bool = False, **common: Any) -> RunConfig:
    """The config of ``arena-bench tournament``: every pair of AGENTS (a panel name expands)."""
    from .playing.players import PANELS

    specs: list[str] = []
    for a in filter(None, (x.strip() for x in agents.split(","))):
        specs += list(PANELS[a]) if a in PANELS else [a]
    specs = list(dict.fromkeys(specs))
    if common.get("max_concurrency") is None:
        common["max_concurrency"] = DEFAULT_CONCURRENCY
    if len(specs) < 2:
        raise ConfigError("--agents needs at least two players")
    return RunConfig(kind="tournament", agents=tuple(specs), self_play=not no_self_play, **common)


def run_with_report(
    config: RunConfig, output_path: Path, resume: bool = False, progress: bool = True
) -> tuple[Run, str]:
    """Run, then write the markdown report from the run in memory (its statistics reused).

    Returns the run and a line about the report: a failed plot must not hide the results.
    """
    played = run(config, output_path, resume=resume, progress=progress)
    if not played.games:
        return played, ""
    from .scoring.report import write_report

    try:
        path = write_report([played], played.path / "report", fmt="markdown", b=config.bootstrap_replicates)
        return played, f"report:  {path}"
    except Exception as exc:  # noqa: BLE001 - the results are written; say why the report is not
        return played, f"report:  not written ({type(exc).__name__}: {exc})"
