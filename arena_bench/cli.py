"""The ``arena-bench`` command line: parses options into configs and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .players import PANEL_VERSION


def fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group()
@click.version_option(__version__, prog_name="arena-bench")
def main() -> None:
    """arena-bench: multi-issue negotiation benchmark for language-model agents."""


# --- tasks -------------------------------------------------------------------------------


@main.group()
def tasks() -> None:
    """List, show, validate, generate and import task sets."""


@tasks.command("list")
@click.option("--tasks", "task_set", default="negotiation-v1", show_default=True, help="Task set name or folder.")
@click.option("--split", default=None, help="Only this split.")
def tasks_list(task_set: str, split: str | None) -> None:
    """List the scenarios of a task set."""
    from .tasks import TaskSetError, open_task_set

    try:
        ts = open_task_set(task_set)
        splits = [split] if split else list(ts.manifest["splits"])
        click.echo(f"{ts.full_name}  hash {ts.hash[:16]}  at {ts.path}")
        for sp in splits:
            scenarios = ts.load(sp)
            click.echo(f"\n{sp}: {len(scenarios)} scenarios")
            for s in scenarios:
                click.echo(f"  {s.id:<10} {s.family:<17} {s.stratum:<17} {len(s.issues)} issues {s.n_outcomes:>7} outcomes  {s.title}")
    except TaskSetError as exc:
        fail(str(exc))


def find_scenario(task_set: str, scenario_id: str):
    import difflib

    from .tasks import TaskSetError, open_task_set

    ts = open_task_set(task_set)
    ids: list[str] = []
    for split in ts.manifest["splits"]:
        for scenario in ts.load(split):
            if scenario.id == scenario_id:
                return scenario
            ids.append(scenario.id)
    hint = difflib.get_close_matches(scenario_id, ids, n=1)
    raise TaskSetError(f"no scenario {scenario_id!r} in {ts.full_name}" + (f"; did you mean {hint[0]!r}?" if hint else ""))


@tasks.command("show")
@click.argument("scenario_id")
@click.option("--tasks", "task_set", default="negotiation-v1", show_default=True)
def tasks_show(scenario_id: str, task_set: str) -> None:
    """Show one scenario: issues, both briefs, points tables and its analysis."""
    from .core.analysis import analyse
    from .display import scenario_report
    from .tasks import TaskSetError

    try:
        scenario = find_scenario(task_set, scenario_id)
    except TaskSetError as exc:
        fail(str(exc))
    click.echo(scenario_report(scenario, analyse(scenario)))


@tasks.command("validate")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def tasks_validate(path: Path) -> None:
    """Check hashes, scenario rules and every stored analysis; exit 1 listing each problem."""
    from .tasks import validate_task_set

    problems = validate_task_set(path)
    if problems:
        for p in problems:
            click.echo(p)
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    manifest = json.loads((path / "MANIFEST.json").read_text())
    click.echo(f"ok: {path} ({', '.join(f'{k} {v}' for k, v in manifest['splits'].items())}); hash {manifest['hash']}")


@tasks.command("generate")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Generator settings (JSON), e.g. tasks/negotiation-v1/generator.json. Default: v1 settings.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write (must not exist unless --overwrite).")
@click.option("--seed", type=int, default=None, help="Override the seed (e.g. a secret seed for a private held-out set).")
@click.option("--overwrite", is_flag=True)
def tasks_generate(config_path: Path | None, out: Path, seed: int | None, overwrite: bool) -> None:
    """Generate a task set; with a recorded config it reproduces the files byte for byte."""
    import dataclasses

    from .generator import GeneratorConfig
    from .tasks import TaskSetError, generate_task_set, load_config

    try:
        config = load_config(config_path) if config_path else GeneratorConfig()
        if seed is not None:
            config = dataclasses.replace(config, seed=seed)
        manifest = generate_task_set(config, out, overwrite=overwrite)
    except TaskSetError as exc:
        fail(str(exc))
    click.echo(f"wrote {out}: {manifest['splits']}; hash {manifest['hash']}")


@tasks.command("import-genius")
@click.argument("domain", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("utility_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("utility_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "scenario_id", default=None, help="Scenario id (default: the domain file's stem).")
@click.option("--roles", default=None, help="Role names 'A,B' (default: from the utility file names).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append the scenario as one JSONL line to this file (default: print it).")
def tasks_import_genius(domain: Path, utility_a: Path, utility_b: Path, scenario_id: str | None,
                        roles: str | None, out: Path | None) -> None:
    """Import a GENIUS/ANAC scenario (domain XML + two utility-space XML files)."""
    from .core.analysis import analyse
    from .display import scenario_report
    from .genius import GeniusError, import_genius
    from .storage import append_line_durably
    from .tasks import scenario_line

    if roles:
        names = tuple(r.strip() for r in roles.split(","))
        if len(names) != 2 or not all(names):
            fail(f"--roles {roles!r}: give two names separated by a comma, e.g. --roles buyer,seller")
    else:
        names = (_role_from_stem(utility_a.stem, domain.stem, "a"), _role_from_stem(utility_b.stem, domain.stem, "b"))
        if names[0] == names[1]:
            names = ("a", "b")
    try:
        scenario = import_genius(
            domain.read_text(encoding="utf-8", errors="replace"),
            utility_a.read_text(encoding="utf-8", errors="replace"),
            utility_b.read_text(encoding="utf-8", errors="replace"),
            scenario_id=scenario_id or domain.stem,
            role_names=names,  # type: ignore[arg-type]
            labels=(str(domain), str(utility_a), str(utility_b)),
        )
    except GeniusError as exc:
        fail(str(exc))
    line = scenario_line(scenario)
    if out:
        append_line_durably(out, line)
        click.echo(f"appended {scenario.id} to {out}", err=True)
        click.echo(scenario_report(scenario, analyse(scenario)), err=True)
    else:
        click.echo(line)


def _role_from_stem(stem: str, domain_stem: str, fallback: str) -> str:
    import re

    words = [w for w in re.split(r"[_\-\s]+", stem.lower()) if w]
    drop = set(re.split(r"[_\-\s]+", domain_stem.lower())) | {"utility", "util", "prof", "profile", "domain"}
    kept = [w for w in words if w not in drop]
    return "_".join(kept) or fallback



# --- runs ----------------------------------------------------------------------------------


def _parse_kv(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (text or "").split(",")):
        if "=" not in part:
            fail(f"--model-args: {part!r} is not key=value")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _common_run_options(f):
    options = [
        click.option("--tasks", "task_set", default="negotiation-v1", show_default=True, help="Task set name or folder."),
        click.option("--split", default="lite", show_default=True, type=click.Choice(["dev", "test", "lite"])),
        click.option("--output-path", type=click.Path(path_type=Path), default=Path("results"), show_default=True),
        click.option("--reps", type=int, default=1, show_default=True, help="Repetitions of every cell."),
        click.option("--limit", type=int, default=None, help="Only the first N scenarios (results marked partial)."),
        click.option("--panel", "panel_version", default=PANEL_VERSION, show_default=True,
                     help="Reference panel version (panel-v1: the scripted agents only)."),
        click.option("--max-concurrency", type=int, default=32, show_default=True, help="Games in flight at once."),
        click.option("--resume", is_flag=True, help="Continue an interrupted run with the same settings."),
        click.option("--salt", type=int, default=0, show_default=True, help="Mixed into cell seeds (0 for official runs)."),
        click.option("--bootstrap", "bootstrap_replicates", type=int, default=2000, show_default=True),
        click.option("--no-progress", is_flag=True),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _execute(config, output_path: Path, resume: bool, no_progress: bool) -> None:
    from .display import scorecard
    from .evaluation import RunError, load_results, run
    from .players import UnknownPlayer
    from .tasks import TaskSetError

    try:
        run_dir = run(config, output_path, resume=resume, progress=not no_progress)
        results, _ = load_results(run_dir)
    except (RunError, TaskSetError, UnknownPlayer, ImportError, ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    click.echo(scorecard(results))
    report_note = ""
    if results["counts"]["completed"]:
        from .report import write_report

        try:
            report_note = f"\nreport:  {write_report([run_dir], run_dir / 'report', fmt='markdown', b=config.bootstrap_replicates)}"
        except Exception as exc:  # the results are written; a failed plot must not hide them
            report_note = f"\nreport:  not written ({type(exc).__name__}: {exc})"
    click.echo(f"\nresults: {run_dir / 'results.json'}\ngames:   {run_dir / 'games.jsonl'}{report_note}")
    if results["counts"]["failed"]:
        first = results["counts"]["failures"][0]["error"]
        click.echo(f"warning: {results['counts']['failed']} games failed (first: {first}); "
                   "rerun with --resume to retry them", err=True)
        sys.exit(1)


@main.command("run")
@click.option("--model", required=True,
              help="Player spec: scripted/boulware, hf/smollm2-135m, openai/gpt-4o-mini, hosted_vllm/NAME, vllm/PATH ...")
@_common_run_options
@click.option("--no-self-play", is_flag=True, help="Do not play the model against itself.")
@click.option("--opponents", default=None, help="Only these panel members, comma-separated (results marked partial).")
@click.option("--api-base", default=None, help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")
@click.option("--max-connections", type=int, default=16, show_default=True, help="Concurrent API requests.")
@click.option("--temperature", type=float, default=0.0, show_default=True)
@click.option("--max-tokens", type=int, default=300, show_default=True)
@click.option("--seed", "gen_seed", type=int, default=0, show_default=True, help="Mixed into every generation seed.")
@click.option("--structured", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Constrained decoding / JSON-schema response_format.")
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True, help="Seconds per API request.")
@click.option("--model-args", default=None, help="Backend options k=v,... (e.g. threads=2,max_batch=16,device=cuda).")
@click.option("--use-cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Replay and store model replies in this folder.")
def run_command(model: str, task_set: str, split: str, output_path: Path, reps: int, limit: int | None,
                panel_version: str, max_concurrency: int, resume: bool, salt: int, bootstrap_replicates: int,
                no_progress: bool, no_self_play: bool, opponents: str | None, api_base: str | None,
                max_connections: int, temperature: float, max_tokens: int, gen_seed: int, structured: str,
                timeout_s: float, model_args: str | None, use_cache: Path | None) -> None:
    """Play MODEL against the reference panel and itself, in both roles and move orders, on every scenario."""
    from .evaluation import RunConfig

    options: dict[str, object] = {}
    runtime: dict[str, object] = {"max_connections": max_connections}
    if not model.startswith("scripted/"):
        options = {"temperature": temperature, "max_tokens": max_tokens, "seed": gen_seed, "structured": structured,
                   "timeout_s": timeout_s, **_parse_kv(model_args)}
        if api_base:
            options["api_base"] = api_base
        if use_cache:
            runtime["use_cache"] = str(use_cache)
    # backend-only keys (threads, batch size, device) change speed, not games: keep them out of the run's identity
    for key in ("threads", "max_batch", "device", "max_retries", "retry_base_s"):
        if key in options:
            runtime[key] = options.pop(key)
    config = RunConfig(kind="evaluation", agents=(model,), tasks=task_set, split=split, panel=panel_version, reps=reps,
                       limit=limit, salt=salt, self_play=not no_self_play, max_concurrency=max_concurrency,
                       bootstrap_replicates=bootstrap_replicates,
                       opponents=tuple(o.strip() for o in opponents.split(",")) if opponents else None,
                       player_options={model: options} if options else {}, runtime_options={model: runtime})
    _execute(config, output_path, resume, no_progress)


@main.command("tournament")
@click.option("--agents", required=True, help="Comma-separated player specs; 'panel-v1' expands to the panel.")
@_common_run_options
@click.option("--no-self-play", is_flag=True)
def tournament_command(agents: str, task_set: str, split: str, output_path: Path, reps: int, limit: int | None,
                       panel_version: str, max_concurrency: int, resume: bool, salt: int, bootstrap_replicates: int,
                       no_progress: bool, no_self_play: bool) -> None:
    """Cross-play: every pair of AGENTS, both roles and move orders, on every scenario."""
    from .evaluation import RunConfig
    from .players import PANELS

    specs: list[str] = []
    for a in filter(None, (x.strip() for x in agents.split(","))):
        specs += list(PANELS[a]) if a in PANELS else [a]
    if len(specs) < 2:
        fail("--agents needs at least two players")
    config = RunConfig(kind="tournament", agents=tuple(dict.fromkeys(specs)), tasks=task_set, split=split,
                       panel=panel_version, reps=reps, limit=limit, salt=salt, self_play=not no_self_play,
                       max_concurrency=max_concurrency, bootstrap_replicates=bootstrap_replicates)
    _execute(config, output_path, resume, no_progress)


@main.command("show-game")
@click.argument("results_path", type=click.Path(exists=True, path_type=Path))
@click.argument("game_id")
def show_game(results_path: Path, game_id: str) -> None:
    """Print one game's transcript: offers, each side's utility per turn, the deal against frontier and Nash."""
    from .core.analysis import analyse
    from .display import transcript
    from .evaluation import RunError, load_results
    from .tasks import TaskSetError, open_task_set

    try:
        results, records = load_results(results_path)
        matches = [r for r in records if r["game_id"].startswith(game_id)]
        if len(matches) != 1:
            import difflib

            hint = difflib.get_close_matches(game_id, [r["game_id"] for r in records], n=1)
            fail(f"{len(matches)} games match {game_id!r}" + (f"; did you mean {hint[0]!r}?" if hint else "")
                 + " (game ids are in games.jsonl)")
        record = matches[0]
        ts = open_task_set(results["task_set"]["name"])
        scenario = next(s for s in ts.load(record["split"]) if s.id == record["scenario_id"])
    except (RunError, TaskSetError) as exc:
        fail(str(exc))
    click.echo(transcript(record, scenario, analyse(scenario)))


@main.command("power")
@click.argument("results_path", type=click.Path(exists=True, path_type=Path))
@click.option("--effect", type=float, default=0.03, show_default=True, help="Arena Score difference to detect.")
def power_command(results_path: Path, effect: float) -> None:
    """Minimum detectable difference now, and scenarios needed to detect EFFECT (alpha 0.05, power 0.8)."""
    from .aggregate import power_summary, rows_from_records, scenarios_needed
    from .evaluation import RunError, load_results

    try:
        results, records = load_results(results_path)
    except RunError as exc:
        fail(str(exc))
    rows = rows_from_records(records)
    agents = list(results["config"]["agents"])
    if results["config"]["kind"] != "evaluation":
        agents = sorted(rows["agent"].unique())
    pw = power_summary(rows[rows["agent"].isin(agents)], agents)
    click.echo(f"basis: {pw['basis']}")
    click.echo(f"scenarios: {pw['scenarios']}; SE of a paired difference: {pw['se']:.4f}; "
               f"design effect of clustering by scenario: {pw['design_effect']:.2f}")
    click.echo(f"minimum detectable difference (alpha {pw['alpha']}, power {pw['power']}): {pw['mde']:.4f}")
    click.echo(f"scenarios needed to detect {effect}: {scenarios_needed(pw, effect)}")


@main.command("report")
@click.argument("results_paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "html", "json"]), default="text", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the report and its PNG/SVG plots (default: print text only).")
@click.option("--bootstrap", "b", type=int, default=2000, show_default=True)
@click.option("--no-plots", is_flag=True)
def report_command(results_paths: tuple[Path, ...], fmt: str, out: Path | None, b: int, no_plots: bool) -> None:
    """Tables with intervals, rank intervals, paired comparisons, cross-play, breakdowns and plots
    for one or more runs on the same task set (recomputed from their game records)."""
    from .evaluation import RunError
    from .report import build, to_text, write_report

    try:
        if out is None:
            if fmt != "text":
                fail("--format markdown/html/json writes files: give --out DIR")
            click.echo(to_text(build(list(results_paths), b=b)))
            return
        path = write_report(list(results_paths), out, fmt=fmt, plots=not no_plots, b=b)
    except RunError as exc:
        fail(str(exc))
    click.echo(f"wrote {path}")


# --- training -----------------------------------------------------------------------------------


@main.command("train", context_settings={"ignore_unknown_options": True})
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="JSON file of reference_trainer.TrainConfig settings (e.g. reference_trainer/configs/default.json).")
@click.option("--device", default=None, help="cpu or cuda.")
@click.option("--out", default=None, help="Output folder (checkpoints, learning curve, exported policy).")
@click.option("--set", "overrides", multiple=True, help="Override a setting: --set iterations=50 (JSON values).")
def train_command(config_path: Path | None, device: str | None, out: str | None, overrides: tuple[str, ...]) -> None:
    """Train a negotiation policy with the bundled reference trainer (needs torch: pip install -e '.[train]')."""
    # The one place arena_bench reaches for the trainer, and only when this command runs: the
    # library itself never imports it.
    try:
        from reference_trainer.__main__ import main as trainer_main
    except ImportError as exc:
        fail(f"the trainer needs torch ({exc}); install it with: pip install torch==2.13.0 && pip install -e '.[train]'")
    argv: list[str] = []
    if config_path:
        argv += ["--config", str(config_path)]
    if device:
        argv += ["--device", device]
    if out:
        argv += ["--out", out]
    if overrides:
        argv += ["--set", *overrides]
    trainer_main(argv)


# --- results, submission, leaderboard -------------------------------------------------------


@main.command("validate-results")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--recompute/--schema-only", default=True, show_default=True,
              help="Also replay every game and recompute its outcome and metrics, as the leaderboard does.")
@click.option("--split", default=None, help="The split the leaderboard ranks (default: the run's own).")
def validate_results(path: Path, recompute: bool, split: str | None) -> None:
    """Check a run against the results schemas (and the leaderboard's recomputation); list each problem."""
    from .verify import Expected, run_files, validate_run, verify_run
    from .tasks import TaskSetError, open_task_set

    problems = validate_run(path)
    if not problems and recompute:
        results = json.loads(run_files(path)[0].read_text())
        try:
            ts = open_task_set(results["task_set"]["name"])
        except TaskSetError as exc:
            fail(str(exc))
        expected = Expected(task_hash=ts.hash, split=split or results["task_set"]["split"])
        problems, _, _ = verify_run(path, expected)
    for p in problems:
        click.echo(p)
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {path}")


@main.command("submit")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--repo", default="arena-bench/results", show_default=True, help="Hub dataset repository ORG/NAME.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write the exact bundle to this folder instead of opening a pull request.")
def submit_command(path: Path, repo: str, dry_run: Path | None) -> None:
    """Open a pull request with a run on the leaderboard's Hub dataset (token: HF_TOKEN or your login)."""
    from .submit import SubmitError, make_bundle, submit, write_bundle
    from .verify import validate_run

    problems = validate_run(path)
    if problems:
        for p in problems[:20]:
            click.echo(p, err=True)
        fail(f"{len(problems)} schema problem(s): fix them before submitting (arena-bench validate-results {path})")
    bundle = make_bundle(path)
    if dry_run:
        for f in write_bundle(bundle, dry_run):
            click.echo(f"wrote {f}")
        return
    try:
        import os

        info = submit(bundle, repo, endpoint=os.environ.get("HF_ENDPOINT"))
    except SubmitError as exc:
        fail(str(exc))
    except Exception as exc:  # network or Hub errors: say what failed; the token is never part of the message
        fail(f"submission to {repo} failed: {type(exc).__name__}: {exc}")
    verb = "already open" if info["status"] == "exists" else "opened"
    click.echo(f"pull request {verb}: {info['url']} ({info['title']})")


@main.group()
def leaderboard() -> None:
    """Build the static leaderboard site."""


@leaderboard.command("build")
@click.option("--results", "results_dir", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder laid out like the results dataset (submissions/<model>/<run>/results.json ...).")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--tasks", "task_set", default="negotiation-v1", show_default=True)
@click.option("--split", default="test", show_default=True)
@click.option("--bootstrap", "b", type=int, default=2000, show_default=True)
def leaderboard_build(results_dir: Path, out: Path, task_set: str, split: str, b: int) -> None:
    """Recompute every run, refuse what does not match, and write the site."""
    from .leaderboard import build
    from .verify import expected_for

    summary = build(results_dir, out, expected_for(task_set, split), b=b, task_set=task_set)
    for e in summary["entries"]:
        m = e["metrics"]["arena_score"]
        click.echo(f"{e['rank']:>3}. {e['model']:<32} {m['mean']:.3f} [{m['lo']:.3f}, {m['hi']:.3f}]  "
                   f"rank {e['rank_interval'][0]}-{e['rank_interval'][1]}")
    for r in summary["refused"]:
        click.echo(f"refused {r['run']}: {r['reasons'][0]}" + (f" (+{len(r['reasons']) - 1} more)" if len(r["reasons"]) > 1 else ""))
    click.echo(f"site: {out / 'index.html'}")


if __name__ == "__main__":  # pragma: no cover
    main()
