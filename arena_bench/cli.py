"""The ``arena-bench`` command line: parses options into configs and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ArenaBenchError
from .versions import DEFAULT_TASK_SET, PANEL_VERSION


def fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Commands(click.Group):
    """Prints an :class:`ArenaBenchError` as one line (exit 2); anything else is a bug and keeps
    its traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArenaBenchError as exc:
            fail(str(exc))


@click.group(cls=Commands)
@click.version_option(__version__, prog_name="arena-bench")
def main() -> None:
    """arena-bench: multi-issue negotiation benchmark for language-model agents."""


# --- tasks -------------------------------------------------------------------------------


@main.group()
def tasks() -> None:
    """List, show, validate, generate and import task sets."""


@tasks.command("list")
@click.option(
    "--tasks", "task_set", default=DEFAULT_TASK_SET, show_default=True, help="Task set name or folder."
)
@click.option("--split", default=None, help="List this split's scenarios.")
@click.option("--all", "show_all", is_flag=True, help="List every split's scenarios.")
def tasks_list(task_set: str, split: str | None, show_all: bool) -> None:
    """The splits of a task set with their sizes; the scenarios of one split with --split."""
    from .scenarios.tasks import open_task_set

    ts = open_task_set(task_set)
    click.echo(f"{ts.full_name}  hash {ts.hash[:16]}  at {ts.path}")
    if not split and not show_all:
        for sp in ts.splits:
            scenarios = ts.load(sp)
            families = len({s.family for s in scenarios})
            click.echo(f"  {sp:<8} {len(scenarios):>4} scenarios, {families} families")
        click.echo(f"scenarios of one split: arena-bench tasks list --split {ts.splits[0]} (or --all)")
        return
    for sp in [split] if split else ts.splits:
        scenarios = ts.load(sp)
        click.echo(f"\n{sp}: {len(scenarios)} scenarios")
        for s in scenarios:
            click.echo(
                f"  {s.id:<10} {s.family:<17} {s.stratum:<17} {len(s.issues)} issues "
                f"{s.n_outcomes:>7} outcomes  {s.title}"
            )


@tasks.command("show")
@click.argument("scenario_id")
@click.option("--tasks", "task_set", default=DEFAULT_TASK_SET, show_default=True)
def tasks_show(scenario_id: str, task_set: str) -> None:
    """Show one scenario: issues, both briefs, points tables and its analysis."""
    from .core.analysis import analyse
    from .scenarios.tasks import open_task_set
    from .scoring.display import scenario_report

    scenario = open_task_set(task_set).find(scenario_id)
    click.echo(scenario_report(scenario, analyse(scenario)))


@tasks.command("validate")
@click.argument("path")
def tasks_validate(path: str) -> None:
    """Check hashes, scenario rules and every stored analysis of a task set (a folder or a released
    name); exit 1 listing each problem."""
    from .scenarios.tasks import resolve, validate_task_set

    path = resolve(path)

    problems = validate_task_set(path)
    if problems:
        for p in problems:
            click.echo(p)
        click.echo(f"{len(problems)} problem(s) in {path}", err=True)
        sys.exit(1)
    manifest = json.loads((path / "MANIFEST.json").read_text())
    click.echo(
        f"ok: {path} ({', '.join(f'{k} {v}' for k, v in manifest['splits'].items())}); hash {manifest['hash']}"
    )


@tasks.command("generate")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Generator settings (JSON: name, version, seed, per_cell, families, strata, ...), e.g. "
    "tasks/negotiation-v1/generator.json, the settings that made negotiation-v1 (the default).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write (must not exist unless --overwrite).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Override the seed (e.g. a secret seed for a private held-out set).",
)
@click.option(
    "--name",
    default=None,
    help="Task set name (a held-out set gets its own, e.g. negotiation-heldout-2026a).",
)
@click.option(
    "--id-prefix",
    default=None,
    help="Prefix for scenario ids, so a held-out set shares none with the public one.",
)
@click.option("--overwrite", is_flag=True, help="Replace the --out folder if it exists.")
def tasks_generate(
    config_path: Path | None,
    out: Path,
    seed: int | None,
    name: str | None,
    id_prefix: str | None,
    overwrite: bool,
) -> None:
    """Generate a task set; with a recorded config it reproduces the files byte for byte."""
    import dataclasses

    from .scenarios.generator import GeneratorConfig
    from .scenarios.tasks import generate_task_set, load_config

    config = load_config(config_path) if config_path else GeneratorConfig()
    overrides = {"seed": seed, "name": name, "id_prefix": id_prefix}
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    manifest = generate_task_set(config, out, overwrite=overwrite)
    click.echo(f"wrote {out}: {manifest['splits']}; hash {manifest['hash']}")


@tasks.command("import-human")
@click.argument("dataset", type=click.Choice(["casino", "dealornodeal"]))
@click.argument("path")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="The task set folder to write (made here)."
)
@click.option("--name", default=None, help="Task set name with version (default: human-DATASET-v1).")
@click.option("--overwrite", is_flag=True, help="Replace the --out folder if it exists.")
def tasks_import_human(dataset: str, path: str, out: Path, name: str | None, overwrite: bool) -> None:
    """Import human-human negotiations (CaSiNo, Deal or No Deal) from PATH (a folder of the upstream
    files, one file, or hf:ORG/NAME for a dataset repository holding them) as a runnable task set with
    each dialogue's outcome in human_outcomes.jsonl, the dataset's license beside it."""
    from .scenarios.humans import import_human

    folder = Path(path)
    if path.startswith("hf:"):
        from huggingface_hub import snapshot_download

        try:
            folder = Path(snapshot_download(path[3:], repo_type="dataset"))
        except Exception as exc:  # noqa: BLE001 - Hub and network errors have no common base
            fail(f"{path}: cannot be fetched from the Hub ({type(exc).__name__}); pass a local copy instead")
    elif not folder.exists():
        fail(f"{path}: no such file or folder")
    done = import_human(dataset, folder, out, overwrite=overwrite, name=name)
    m, checks = done["manifest"], done["checks"]
    for split, n in m["splits"].items():
        click.echo(f"  {split:<6} {n:>5} scenarios, {done['dialogues'][split]:>5} dialogues")
    click.echo(
        f"recorded points reproduced: {checks['matched']} of {checks['checked']}\n"
        f"wrote {out} ({m['name']}-v{m['version']}, hash {m['hash'][:16]}); run it with: "
        f"arena-bench run --tasks {out} --split test; humans: arena-bench humans rows {out}"
    )


@tasks.command("import-genius")
@click.argument("domain", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("utility_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("utility_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "scenario_id", default=None, help="Scenario id (default: the domain file's stem).")
@click.option("--roles", default=None, help="Role names 'A,B' (default: from the utility file names).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="A task set folder to add the scenario to (made if missing, manifest included: runnable with "
    "run --tasks DIR), or a .jsonl file to append its line to. Default: print the line.",
)
@click.option("--split", default="test", show_default=True, help="The split of --out DIR that receives it.")
def tasks_import_genius(
    domain: Path,
    utility_a: Path,
    utility_b: Path,
    scenario_id: str | None,
    roles: str | None,
    out: Path | None,
    split: str,
) -> None:
    """Import a GENIUS/ANAC scenario (domain XML + two utility-space XML files)."""
    from .core.analysis import analyse
    from .scenarios.tasks import add_scenario, import_genius_files, scenario_line
    from .scoring.display import scenario_report
    from .storage import append_line_durably

    scenario = import_genius_files(domain, utility_a, utility_b, scenario_id, roles)
    if out is None:
        click.echo(scenario_line(scenario))
        return
    if out.suffix == ".jsonl":
        append_line_durably(out, scenario_line(scenario))
        click.echo(f"appended {scenario.id} to {out}", err=True)
    else:
        manifest = add_scenario(scenario, out, split)
        click.echo(
            f"added {scenario.id} to {out} (split {split}); splits {manifest['splits']}, hash "
            f"{manifest['hash'][:16]}; run it with: arena-bench run --tasks {out} --split {split}",
            err=True,
        )
    click.echo(scenario_report(scenario, analyse(scenario)), err=True)


# --- runs ----------------------------------------------------------------------------------


def _common_run_options(f):
    options = [
        click.option(
            "--tasks",
            "task_set",
            default=DEFAULT_TASK_SET,
            show_default=True,
            help="Task set: a released name, a folder, or hf:ORG/NAME[@REVISION].",
        ),
        click.option(
            "--split", default="lite", show_default=True, help="A split of the task set (dev, test, lite)."
        ),
        click.option(
            "--output-path",
            type=click.Path(path_type=Path),
            default=Path("results"),
            show_default=True,
            help="The folder that holds run folders: each run writes OUTPUT/<model>/<split>-<settings hash>/.",
        ),
        click.option(
            "--reps",
            type=click.IntRange(min=1),
            default=1,
            show_default=True,
            help="Repetitions of every cell.",
        ),
        click.option(
            "--limit",
            type=click.IntRange(min=1),
            default=None,
            help="Only the first N scenarios (results marked partial).",
        ),
        click.option(
            "--panel",
            "panel_version",
            default=PANEL_VERSION,
            show_default=True,
            help="Reference panel version (panel-v1: the scripted agents only).",
        ),
        click.option(
            "--max-concurrency",
            type=click.IntRange(min=1),
            default=None,
            help="Games in flight at once (default: 32, or --max-connections where that is larger).",
        ),
        click.option("--resume", is_flag=True, help="Continue an interrupted run with the same settings."),
        click.option(
            "--engine",
            type=click.Choice(["auto", "array", "reference"]),
            default="auto",
            show_default=True,
            help="array: every game of a batch at once as array operations (panel-v2's members and shipped "
            "policies), the same records many times faster; reference: the one-game loop; auto: array when "
            "every player has an array form and no probe is asked.",
        ),
        click.option(
            "--messages",
            type=click.Choice(["on", "off"]),
            default="on",
            show_default=True,
            help="off: each side sees only actions and offers, no free text (the offers-only ablation; pair it "
            "with the normal run: arena-bench diagnose language ON OFF).",
        ),
        click.option(
            "--probe",
            is_flag=True,
            help="Ask agents in a side channel, after their 2nd and 5th turns and at the end, what they believe "
            "the other side values (issue ranking, preferred options, BATNA); scored against the truth.",
        ),
        click.option(
            "--salt",
            type=int,
            default=0,
            show_default=True,
            help="Mixed into cell seeds (0 for official runs).",
        ),
        click.option(
            "--bootstrap",
            "bootstrap_replicates",
            type=click.IntRange(min=1),
            default=2000,
            show_default=True,
            help="Cluster-bootstrap replicates (over scenarios) for every interval.",
        ),
        click.option("--no-progress", is_flag=True, help="No progress bar (for logs and CI)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _execute(config, output_path: Path, resume: bool, no_progress: bool) -> None:
    from .evaluation import check_output_path, run_with_report
    from .scoring.display import scorecard

    note = check_output_path(config, output_path, resume)
    if note:
        click.echo(note, err=True)

    played, report_note = run_with_report(config, output_path, resume=resume, progress=not no_progress)
    results = played.results
    click.echo(scorecard(results))
    click.echo(
        f"\nresults: {played.path / 'results.json'}\ngames:   {played.path / 'games.jsonl'}"
        + (f"\n{report_note}" if report_note else "")
    )
    if results.counts.failed:
        first = results.counts.failures[0]["error"]
        click.echo(
            f"warning: {results.counts.failed} games failed (first: {first}); "
            "rerun with --resume to retry them",
            err=True,
        )
        sys.exit(1)


def _split_common(kwargs: dict) -> tuple[dict, Path, bool, bool]:
    """The run options every command shares: (RunConfig fields, output path, resume, no progress)."""
    output_path, resume, no_progress = (
        kwargs.pop("output_path"),
        kwargs.pop("resume"),
        kwargs.pop("no_progress"),
    )
    kwargs["tasks"] = kwargs.pop("task_set")
    kwargs["panel"] = kwargs.pop("panel_version")
    return kwargs, output_path, resume, no_progress


@main.command("run")
@click.option(
    "--model",
    required=True,
    help="Player spec: scripted/boulware, policy/ppo-nash-v2, hf/smollm2-135m, openai/gpt-4o-mini, "
    'anthropic/NAME, hosted_vllm/NAME, vllm/PATH, py:FILE.py:CLASS, exec:"COMMAND" (a program in its own '
    "process), agent/ORG/NAME@COMMIT (a sandboxed code agent from the Hub), or a plugin's PROVIDER/NAME.",
)
@_common_run_options
@click.option("--no-self-play", is_flag=True, help="Do not play the model against itself.")
@click.option(
    "--opponents", default=None, help="Only these panel members, comma-separated (results marked partial)."
)
@click.option(
    "--api-base",
    multiple=True,
    help="Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Give it once per replica "
    "of the model: calls spread over the healthy ones, and a server that dies has its calls retried on the others.",
)
@click.option(
    "--budget-usd",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop cleanly before the model's spend could pass this many dollars (list prices); --resume continues.",
)
@click.option(
    "--max-connections",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Concurrent API requests.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Sampling temperature.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Most tokens a reply may take (the reply JSON needs under 120).",
)
@click.option(
    "--seed", "gen_seed", type=int, default=0, show_default=True, help="Mixed into every generation seed."
)
@click.option(
    "--structured",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Constrained decoding / JSON-schema response_format.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds per API request.",
)
@click.option(
    "--model-args", default=None, help="Backend options k=v,... (e.g. threads=2,max_batch=16,device=cuda)."
)
@click.option(
    "--use-cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Replay and store model replies in this folder.",
)
@click.option(
    "--batch",
    is_flag=True,
    help="The OpenAI Batch API (openai/) or Anthropic's Message Batches (anthropic/) at half price: every open "
    "game's turn goes into one batch, polled until done "
    "(--model-args batch_poll_s=30); resumable.",
)
@click.option("--dry-run", is_flag=True, help="Print games, calls, tokens and the price; call nothing.")
def run_command(**kwargs) -> None:
    """Play MODEL against the reference panel and itself, in both roles and move orders, on every scenario."""
    from .evaluation import evaluation_config

    dry_run = kwargs.pop("dry_run")
    common, output_path, resume, no_progress = _split_common(kwargs)
    config = evaluation_config(**common)
    if dry_run:
        from .pricing import estimate

        click.echo("\n".join(estimate(config).lines(config.agents[0])))
        return
    _execute(config, output_path, resume, no_progress)


@main.command("tournament")
@click.option(
    "--agents", required=True, help="Comma-separated player specs; 'panel-v1' expands to the panel."
)
@_common_run_options
@click.option("--no-self-play", is_flag=True, help="Do not play each agent against itself.")
def tournament_command(**kwargs) -> None:
    """Cross-play: every pair of AGENTS, both roles and move orders, on every scenario."""
    from .evaluation import tournament_config

    common, output_path, resume, no_progress = _split_common(kwargs)
    _execute(tournament_config(**common), output_path, resume, no_progress)


@main.command("play")
@click.option(
    "--handle",
    required=True,
    help="The name your games are recorded under (human/HANDLE); nothing else is kept.",
)
@click.option(
    "--tasks",
    "task_set",
    default=DEFAULT_TASK_SET,
    show_default=True,
    help="Task set: a released name or a folder.",
)
@click.option("--split", default="lite", show_default=True, help="The split to play.")
@click.option(
    "--panel", "panel_version", default=PANEL_VERSION, show_default=True, help="The panel you play against."
)
@click.option(
    "--opponents", default=None, help="Only these panel members, comma-separated (results marked partial)."
)
@click.option(
    "--opponent",
    default=None,
    help="Play one other player instead of the panel (policy/ppo-nash-v2, openai/..., any spec).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Only the first N scenarios (results marked partial).",
)
@click.option("--output-path", type=click.Path(path_type=Path), default=Path("results"), show_default=True,
              help="The folder that holds run folders.")  # fmt: skip
@click.option("--resume", is_flag=True, help="Continue an earlier session with the same settings.")
@click.option(
    "--port", type=click.IntRange(min=0, max=65535), default=8765, show_default=True, help="The page's port."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address (0.0.0.0 on a Space).")
def play_command(
    handle, task_set, split, panel_version, opponents, opponent, limit, output_path, resume, port, host
) -> None:
    """Negotiate in your browser against the panel (or one player), in the benchmark's own protocol:
    you see what a language model is told, plus the points of the offer you build. Your games are an
    ordinary run of human/HANDLE: verified, resumable and submittable like any other."""
    from .evaluation import evaluation_config, run_dir_for, tournament_config
    from .playing.play import CHANNELS, HANDLE, INTERFACE_VERSION, Channel, play, serve
    from .scenarios.tasks import open_task_set

    if not HANDLE.match(handle):
        fail(f"--handle {handle!r}: 1 to 40 letters, digits, '.', '_' or '-'")
    spec = f"human/{handle}"
    common = dict(
        tasks=task_set, split=split, panel=panel_version, limit=limit, max_concurrency=1, engine="reference"
    )
    if opponent:
        config = tournament_config(agents=f"{spec},{opponent}", no_self_play=True, **common)
        from dataclasses import replace

        config = replace(
            config, player_options={**config.player_options, spec: {"interface": INTERFACE_VERSION}}
        )
    else:
        config = evaluation_config(
            spec,
            model_args=f"interface={INTERFACE_VERSION}",
            no_self_play=True,
            opponents=opponents,
            **common,
        )
    channel = CHANNELS[handle] = Channel(handle)
    folder = run_dir_for(config, output_path, open_task_set(task_set).hash)
    httpd = serve(channel, str(folder), port, host)
    click.echo(
        f"open http://{host}:{httpd.server_address[1]}/ to play as {spec}; games go to {folder}", err=True
    )
    try:
        played = play(config, output_path, channel, resume=resume)
        click.echo(f"results: {played.path / 'results.json'} ({len(played.games)} games)")
    finally:
        import time

        time.sleep(1.0)  # the page's last poll sees the end
        httpd.shutdown()


@main.command("show-game")
@click.argument("results_path", type=click.Path(exists=True, path_type=Path))
@click.argument("game_id")
def show_game(results_path: Path, game_id: str) -> None:
    """Print one game's transcript: offers, each side's utility per turn, the deal against frontier and Nash."""
    from .core.analysis import analyse
    from .scenarios.tasks import open_task_set
    from .scoring.display import transcript
    from .scoring.results import load_run

    played = load_run(results_path)
    record = played.find_game(game_id)
    ts = open_task_set(played.config.tasks)
    if ts.hash != played.results.task_set.hash:
        fail(
            f"task set {played.config.tasks} has hash {ts.hash[:12]}, but {results_path} was played on "
            f"{played.results.task_set.hash[:12]}; pass the run's own task set folder"
        )
    scenario = ts.find(record.scenario_id, record.split)
    click.echo(transcript(record, scenario, analyse(scenario)))


@main.command("check-agent")
@click.argument("name")
@click.option("--split", default="lite", show_default=True, help="The split whose scenarios it plays.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=5, show_default=True, help="First N scenarios only."
)
@click.option("--panel", "panel_version", default="panel-v2", show_default=True,
              help="Its opponents: this panel's members that have an array form.")  # fmt: skip
def check_agent_command(name: str, split: str, limit: int, panel_version: str) -> None:
    """Check a scripted agent (NAME or scripted/NAME): it never plays an illegal action without saying
    why, and its array form writes the same game records as its reference form, byte for byte."""
    from .arrays import array_capable
    from .playing.conformance import check_scripted
    from .playing.players import panel
    from .scenarios.tasks import open_task_set

    name = name.removeprefix("scripted/")
    scenarios = open_task_set(DEFAULT_TASK_SET).load(split)[:limit]
    opponents = [m for m in panel(panel_version) if array_capable(m)]
    problems = check_scripted(name, scenarios, opponents)
    if problems:
        click.echo(f"scripted/{name} does not conform:")
        for p in problems:
            click.echo(f"  - {p}")
        sys.exit(1)
    click.echo(
        f"scripted/{name} conforms: legal play on {len(scenarios)} {split} scenarios, and the same records from "
        f"both engines against {len(opponents)} opponents of {panel_version} and itself"
    )


@main.group("diagnose")
def diagnose_group() -> None:
    """Diagnostics that compare runs (each run's own are in its scorecard and results)."""


@diagnose_group.command("language")
@click.argument("on_path", type=click.Path(exists=True, path_type=Path))
@click.argument("off_path", type=click.Path(exists=True, path_type=Path))
@click.option("--bootstrap", "b", type=click.IntRange(min=1), default=2000, show_default=True)
def diagnose_language(on_path: Path, off_path: Path, b: int) -> None:
    """Does language help? Pair a run with its --messages off twin cell by cell: Value with messages
    minus offers only, per agent, with a cluster-bootstrap interval over scenarios."""
    import numpy as np

    from .core.stats import DEFAULT_SEED, bootstrap_counts
    from .scoring.aggregate import rows_from_records
    from .scoring.diagnose import DIAGNOSTIC_BY_KEY, language_effect
    from .scoring.display import format_estimate
    from .scoring.results import load_run

    on, off = load_run(on_path), load_run(off_path)
    if on.config.messages != "on" or off.config.messages != "off":
        fail(f"{on_path} must be a normal run and {off_path} its --messages off twin (got messages "
             f"{on.config.messages!r} and {off.config.messages!r})")  # fmt: skip
    if on.results.task_set.hash != off.results.task_set.hash or on.config.split != off.config.split:
        fail("the two runs must use the same task set and split")
    if on.config.salt != off.config.salt:
        fail("the two runs must use the same --salt, so that their cells (and seeds) pair up")
    rows_on, rows_off = rows_from_records(on.games), rows_from_records(off.games)
    agents = on.evaluated_agents()
    n = len(set(rows_on["scenario_id"]) | set(rows_off["scenario_id"]))
    weights = bootstrap_counts(n, b, np.random.default_rng(DEFAULT_SEED))
    found = language_effect(rows_on, rows_off, agents, weights)
    click.echo(DIAGNOSTIC_BY_KEY["language_effect"].explain)
    for agent in agents:
        est = found.get(agent)
        click.echo(f"{agent}: {format_estimate(est, 'full') if est else 'no shared cells'}"
                   + (f" over {est.n} paired games, {est.scenarios} scenarios" if est else ""))  # fmt: skip


@main.command("power")
@click.argument("results_path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--effect",
    type=click.FloatRange(min=0, min_open=True),
    default=0.03,
    show_default=True,
    help="Arena Score difference to detect.",
)
def power_command(results_path: Path, effect: float) -> None:
    """Minimum detectable difference now, and scenarios needed to detect EFFECT (alpha 0.05, power 0.8)."""
    from .scoring.aggregate import power_for_run
    from .scoring.results import load_run

    pw = power_for_run(load_run(results_path))
    click.echo(f"basis: {pw.basis}")
    if pw.mde != pw.mde:  # NaN
        fail("power needs games on at least two scenarios")
    click.echo(
        f"scenarios: {pw.scenarios}; SE of a paired difference: {pw.se:.4f}; "
        f"design effect of clustering by scenario: {pw.design_effect:.2f}"
    )
    click.echo(f"minimum detectable difference (alpha {pw.alpha}, power {pw.power}): {pw.mde:.4f}")
    click.echo(f"scenarios needed to detect {effect}: {pw.scenarios_needed(effect)}")


@main.command("report")
@click.argument("results_paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "html", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the report and its PNG/SVG plots (default: print text only).",
)
@click.option("--bootstrap", "b", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option("--recompute", is_flag=True, help="Bootstrap again even where a run's stored statistics fit.")
@click.option("--no-plots", is_flag=True)
def report_command(
    results_paths: tuple[Path, ...], fmt: str, out: Path | None, b: int, recompute: bool, no_plots: bool
) -> None:
    """Tables with intervals, rank intervals, paired comparisons, cross-play, breakdowns and plots
    for one or more runs on the same task set (a single run's stored statistics are reused)."""
    from .scoring.report import build, to_text, write_report

    if out is None:
        if fmt != "text":
            fail("--format markdown/html/json writes files: give --out DIR")
        click.echo(to_text(build(list(results_paths), b=b, recompute=recompute)))
        return
    click.echo(
        f"wrote {write_report(list(results_paths), out, fmt=fmt, plots=not no_plots, b=b, recompute=recompute)}"
    )


@main.command("metrics")
def metrics_command() -> None:
    """The metric table (markdown): every registered metric, its direction and definition."""
    from .core.metrics import metrics_markdown

    click.echo(metrics_markdown())


# --- training -----------------------------------------------------------------------------------


@main.command("train", context_settings={"ignore_unknown_options": True})
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="JSON file of reference_trainer.TrainConfig settings (e.g. reference_trainer/configs/default.json).",
)
@click.option("--device", default=None, help="cpu or cuda.")
@click.option("--out", default=None, help="Output folder (checkpoints, learning curve, exported policy).")
@click.option(
    "--set", "overrides", multiple=True, help="Override a setting: --set iterations=50 (JSON values)."
)
@click.option(
    "--push-to-hub",
    "push_to_hub",
    default=None,
    metavar="ORG/NAME",
    help="Upload the trained language model (model/ and its card) to this Hub repository (LM configs).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted language-model run on the same --out from its SFT and RL checkpoints.",
)
def train_command(
    config_path: Path | None,
    device: str | None,
    out: str | None,
    overrides: tuple[str, ...],
    push_to_hub: str | None,
    resume: bool,
) -> None:
    """Train a negotiation policy with the bundled reference trainer (needs torch: pip install 'arena-bench[train]')."""
    # The one place arena_bench reaches for the trainer, and only when this command runs: the
    # library itself never imports it.
    try:
        from reference_trainer.__main__ import main as trainer_main
    except ImportError as exc:
        fail(
            f"the trainer needs torch ({exc}); install it with: pip install torch==2.13.0 && pip install 'arena-bench[train]'"
        )
    argv: list[str] = []
    if config_path:
        argv += ["--config", str(config_path)]
    if device:
        argv += ["--device", device]
    if out:
        argv += ["--out", out]
    if overrides:
        argv += ["--set", *overrides]
    if push_to_hub:
        argv += ["--push-to-hub", push_to_hub]
    if resume:
        argv += ["--resume"]
    trainer_main(argv)


@main.command("exploit")
@click.option(
    "--target", required=True, help="The fixed agent to exploit: scripted/NAME or policy/NAME-OR-PATH."
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="TrainConfig JSON for the best response (default: about 10 minutes on a 2-core CPU, array environment).",
)
@click.option(
    "--split", default="dev", show_default=True, help="Where the best response and the panel meet the target."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Only the first N scenarios of the split."
)
@click.option("--panel", "panel_version", default=PANEL_VERSION, show_default=True)
@click.option("--out", default=None, help="Output folder (default: runs/exploit-<target>).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    help="Override a training setting: --set iterations=20 (JSON values).",
)
def exploit_command(
    target: str,
    config_path: Path | None,
    split: str,
    limit: int | None,
    panel_version: str,
    out: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Train a best response against TARGET and report how much more it gets than the panel's best
    against TARGET (paired over the same cells; needs torch: pip install 'arena-bench[train]')."""
    try:
        from reference_trainer.__main__ import parse_overrides
        from reference_trainer.exploit import config_for, exploit, table
    except ImportError as exc:
        fail(
            f"exploit trains a policy and needs torch ({exc}); install it with: "
            "pip install torch==2.13.0 && pip install 'arena-bench[train]'"
        )
    changes = parse_overrides(overrides)
    if out:
        changes["out"] = out
    try:
        cfg = config_for(target, config_path, changes)
        result = exploit(target, cfg, split=split, limit=limit, panel_version=panel_version, log=click.echo)
    except ValueError as exc:
        fail(str(exc))
    click.echo(table(result))
    click.echo(f"written: {Path(cfg.out) / 'exploit.json'}")


# --- results, submission, leaderboard -------------------------------------------------------


@main.command("validate-results")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--recompute/--schema-only",
    default=True,
    show_default=True,
    help="Also replay every game and recompute its outcome and metrics, as the leaderboard does.",
)
@click.option("--split", default=None, help="The split the leaderboard ranks (default: the run's own).")
def validate_results(path: Path, recompute: bool, split: str | None) -> None:
    """Check a run against the results schemas (and the leaderboard's recomputation); list each problem."""
    from .board.verify import validate_and_verify

    problems = validate_and_verify(path, split, recompute)
    for p in problems:
        click.echo(p)
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {path}")


@main.command("submit")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--repo", default="arena-bench/results", show_default=True, help="Hub dataset repository ORG/NAME."
)
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the exact bundle to this folder instead of opening a pull request.",
)
def submit_command(path: Path, repo: str, dry_run: Path | None) -> None:
    """Open a pull request with a run on the leaderboard's Hub dataset (token: HF_TOKEN or your login)."""
    from .board.submit import make_bundle, submit, write_bundle
    from .board.verify import validate_and_verify

    problems = validate_and_verify(path)  # the leaderboard's own checks, panel replay included
    if problems:
        for p in problems[:20]:
            click.echo(p, err=True)
        fail(
            f"{len(problems)} problem(s) the leaderboard would refuse: fix them before submitting "
            f"(arena-bench validate-results {path})"
        )
    bundle = make_bundle(path)
    if dry_run:
        for f in write_bundle(bundle, dry_run):
            click.echo(f"wrote {f}")
        return
    info = submit(bundle, repo)
    verb = "already open" if info["status"] == "exists" else "opened"
    click.echo(f"pull request {verb}: {info['url']} ({info['title']})")


@main.group()
def humans() -> None:
    """Human reference rows, and agents compared with humans on the same scenarios."""


@humans.command("rows")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--split", default=None, help="Only this split (default: every split).")
@click.option(
    "--bootstrap", "b", type=click.IntRange(min=1), default=2000, show_default=True, help="Replicates."
)
@click.option(
    "--json", "json_out", type=click.Path(path_type=Path), default=None, help="Also write them here."
)
def humans_rows(folder: Path, split: str | None, b: int, json_out: Path | None) -> None:
    """The board's metrics over the human dialogues of an imported set (95% intervals over scenarios)."""
    from .scenarios.humans import HUMAN_METRICS, human_rows, read_outcomes
    from .scenarios.tasks import open_task_set
    from .scoring.display import format_estimate
    from .scoring.results import Estimate as ResultsEstimate
    from .storage import write_atomic

    ts = open_task_set(folder)
    outcomes = read_outcomes(folder)
    table = {}
    for sp in [split] if split else ts.splits:
        scenarios = {s.id: s for s in ts.load(sp)}
        mine = [o for o in outcomes if o.split == sp]
        rows = human_rows(mine, scenarios, b=b)
        table[sp] = {
            "dialogues": len(mine),
            "scenarios": len(scenarios),
            "metrics": {k: ResultsEstimate.of(e).to_dict() for k, e in rows.items()},
        }
        click.echo(f"{ts.full_name} {sp}: {len(mine)} human dialogues on {len(scenarios)} scenarios")
        for key, label, _ in HUMAN_METRICS:
            click.echo(f"  {label:<30} {format_estimate(ResultsEstimate.of(rows[key]), 'full')}")
    if json_out:
        write_atomic(
            json_out,
            json.dumps({"task_set": ts.full_name, "hash": ts.hash, "splits": table}, indent=1) + "\n",
        )


@humans.command("compare")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--split", default="test", show_default=True, help="The split the runs played.")
@click.option(
    "--bootstrap", "b", type=click.IntRange(min=1), default=2000, show_default=True, help="Replicates."
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the table here (for leaderboard build --humans).",
)
def humans_compare(folder: Path, runs: tuple, split: str, b: int, json_out: Path | None) -> None:
    """Agents' games on an imported human set against the humans' dialogues of the same scenarios,
    paired by scenario: deal rate, Pareto-optimal share of deals, joint efficiency. Humans negotiated
    in free text and the agents in this benchmark's protocol: outcomes are compared, not process."""
    from .scenarios.humans import COMPARED, DATASETS, compare_with_humans, read_outcomes
    from .scenarios.tasks import open_task_set
    from .scoring.display import format_estimate
    from .scoring.results import Estimate as ResultsEstimate
    from .scoring.results import load_run
    from .storage import write_atomic

    ts = open_task_set(folder)
    scenarios = {s.id: s for s in ts.load(split)}
    outcomes = [o for o in read_outcomes(folder) if o.split == split]
    dataset = outcomes[0].dataset if outcomes else "?"
    report = {"task_set": ts.full_name, "hash": ts.hash, "split": split, "dataset": dataset,
              "license": DATASETS.get(dataset, {}).get("license"), "comparisons": []}  # fmt: skip
    click.echo(
        f"{ts.full_name} {split}: agents against {len(outcomes)} human dialogues, paired by scenario "
        "(agent minus humans; humans negotiated in free text, agents in the protocol: outcomes, not process)"
    )
    for path in runs:
        if Path(path).is_file() and Path(path).name.startswith("games.jsonl"):
            # an interrupted run's games (no results file yet): its non-panel players, marked partial
            from .playing.players import PANELS
            from .scoring.results import read_games

            games = read_games(Path(path))
            if any(g.task_hash != ts.hash or g.split != split for g in games):
                fail(f"{path}: games of another task set or split than {ts.full_name}/{split}")
            members = {m for panel in PANELS.values() for m in panel}
            agents = sorted({p for g in games for p in g.players} - members)
            partial = True
        else:
            run = load_run(path)
            if run.results.task_set.hash != ts.hash or run.results.task_set.split != split:
                fail(
                    f"{path}: played {run.results.task_set.name}/{run.results.task_set.split}, not {ts.full_name}/{split}"
                )
            games, agents, partial = run.games, run.evaluated_agents(), run.results.partial
        for agent in agents:
            found = compare_with_humans(outcomes, scenarios, games, agent, b=b)
            entry = {"agent": agent, "run": str(path), "partial": partial, "rows": {}}
            for label, row in found["rows"].items():
                cells = "  ".join(
                    f"{k} {format_estimate(ResultsEstimate.of(row['difference'][k]), 'full')}"
                    for k in COMPARED
                )
                click.echo(f"  {agent:<28} {label:<10} {row['scenarios']:>4} scen.  {cells}")
                entry["rows"][label] = {
                    "scenarios": row["scenarios"],
                    "games": row["games"],
                    **{
                        part: {k: ResultsEstimate.of(e).to_dict() for k, e in row[part].items()}
                        for part in ("agent", "humans", "difference")
                    },
                }
            report["comparisons"].append(entry)
    if json_out:
        write_atomic(json_out, json.dumps(report, indent=1) + "\n")


@main.group()
def leaderboard() -> None:
    """Build the static leaderboard site, and run the maintainers' held-out evaluator."""


@leaderboard.command("evaluate-requests")
@click.option(
    "--requests", "requests_repo", required=True, help="The requests dataset on the Hub (ORG/NAME)."
)
@click.option(
    "--tasks",
    "tasks_path",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The held-out task set folder (kept private; its manifest hash is published).",
)
@click.option("--results", "results_repo", required=True, help="The results dataset on the Hub (ORG/NAME).")
@click.option("--split", default="test", show_default=True, help="The held-out set's split to play.")
@click.option(
    "--output-path",
    type=click.Path(path_type=Path),
    default=Path("heldout-runs"),
    show_default=True,
    help="Where each request's run folder and the evaluator's own log (evaluator.log) are kept.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="The maintainers' evaluator config (arena-bench-evaluator/1): open providers with their base URL "
    "and key variable, open weights, code-agent sandbox limits, time limits. Without it only shipped agents "
    "are evaluated.",
)
def evaluate_requests_command(
    requests_repo: str, tasks_path: Path, results_repo: str, split: str, output_path: Path, config_path
) -> None:
    """The maintainers' evaluator: run every pending request on the held-out set, each alone and
    within the config's limits, push the verified results and mark each request FINISHED or FAILED
    with a fixed reason."""
    from .board.heldout import evaluate_requests, load_evaluator_config

    config = load_evaluator_config(config_path)
    done = evaluate_requests(
        requests_repo, tasks_path, results_repo, split, output_path, log=click.echo, config=config
    )
    click.echo(
        f"{len(done)} request(s) evaluated; "
        f"{sum(d['status'] == 'FINISHED' for d in done)} finished, {sum(d['status'] == 'FAILED' for d in done)} failed"
    )


@leaderboard.command("build")
@click.option(
    "--results",
    "results_dir",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder laid out like the results dataset (submissions/<model>/<run>/results.json ...).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site to.",
)
@click.option(
    "--tasks",
    "task_set",
    default=DEFAULT_TASK_SET,
    show_default=True,
    help="The board's task set: runs on another (by hash) are refused.",
)
@click.option("--split", default="test", show_default=True, help="The split of the main table.")
@click.option(
    "--bootstrap",
    "b",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Cluster-bootstrap replicates for every interval and rank interval.",
)
@click.option(
    "--heldout",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Held-out results as evaluate-requests pushed them (a snapshot of the results dataset): shown "
    "beside the public scores, with a contamination flag.",
)
@click.option(
    "--also-split",
    "also_splits",
    multiple=True,
    help="Another split with a table of its own below the main one (e.g. lite, where small local models run).",
)
@click.option(
    "--panel",
    "panel_version",
    default=PANEL_VERSION,
    show_default=True,
    help="The board's panel: runs against another panel are refused, and baselines/<other panel>/ is left "
    "to that panel's board.",
)
@click.option(
    "--humans",
    "humans_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A Humans section: the JSON of `humans rows --json` or `humans compare --json` (give it once per file).",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path.home() / ".cache" / "arena-bench" / "verify",
    show_default=True,
    help="Verdicts of earlier builds, keyed by each run's file hashes, the board's settings and the verifier's "
    "version: an unchanged accepted run is not replayed again. --no-cache replays everything.",
)
@click.option("--no-cache", is_flag=True, help="Replay every run, whatever the cache holds.")
def leaderboard_build(
    results_dir: Path,
    out: Path,
    task_set: str,
    split: str,
    b: int,
    heldout: Path | None,
    also_splits: tuple,
    panel_version: str,
    humans_files: tuple,
    cache_dir: Path,
    no_cache: bool,
) -> None:
    """Recompute every run, refuse what does not match, and write the site."""
    from .board.leaderboard import build
    from .board.verify import expected_for
    from .scoring.display import format_estimate
    from .scoring.results import Estimate

    summary = build(
        results_dir,
        out,
        expected_for(task_set, split, panel_version),
        b=b,
        task_set=task_set,
        heldout=heldout,
        extra_splits=tuple(s for s in also_splits if s != split),
        humans=tuple(humans_files),
        cache=None if no_cache else cache_dir,
    )
    if summary.get("up_to_date"):
        click.echo(
            f"{out} is up to date: no input file, option or arena-bench source changed (--no-cache rebuilds)"
        )
    for e in summary["entries"]:
        score = format_estimate(Estimate.from_dict(e["metrics"]["arena_score"]), "full")
        extra = ""
        if "heldout" in e:
            gap = e["contamination"]
            extra = f"  held-out {format_estimate(Estimate.from_dict({**e['heldout'], 'n': 0}), 'full')}" + (
                "  CONTAMINATION?" if gap["flag"] else ""
            )
        click.echo(
            f"{e['rank']:>3}. {e['model']:<32} {score:<24} rank "
            f"{e['rank_interval'][0]}-{e['rank_interval'][1]}{extra}"
        )
    for name, found in summary.get("splits", {}).items():
        for e in found:
            score = format_estimate(Estimate.from_dict(e["metrics"]["arena_score"]), "full")
            click.echo(f"[{name}] {e['rank']:>3}. {e['model']:<32} {score:<24} {e['games']} games")
    for r in summary["refused"]:
        click.echo(
            f"refused {r['run']}: {r['reasons'][0]}"
            + (f" (+{len(r['reasons']) - 1} more)" if len(r["reasons"]) > 1 else "")
        )
    click.echo(f"site: {out / 'index.html'}")


if __name__ == "__main__":  # pragma: no cover
    main()
