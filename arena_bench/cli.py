"""The ``arena-bench`` command line: parses options into configs and calls the library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__


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
    from .tasks import TaskSetError, open_task_set

    ts = open_task_set(task_set)
    for split in ts.manifest["splits"]:
        for scenario, stored in ts.load_with_analysis(split):
            if scenario.id == scenario_id:
                return scenario
    import difflib

    ids = [s.id for sp in ts.manifest["splits"] for s in ts.load(sp)]
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


if __name__ == "__main__":  # pragma: no cover
    main()
