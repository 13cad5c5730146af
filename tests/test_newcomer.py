"""What a new user trips on (issue 29): help that says what every option does and names every
kind of player, errors that point at the fix, a --resume that says when there is nothing to resume,
and a scorecard whose numbers read without a guide."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from arena_bench.cli import main


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name), cmd


@pytest.mark.parametrize(
    "path",
    [
        ("run",),
        ("tournament",),
        ("leaderboard", "build"),
        ("leaderboard", "evaluate-requests"),
        ("tasks", "generate"),
    ],
)
def test_every_option_of_the_main_commands_says_what_it_does(path):
    cmd = dict(_commands(main))[path]
    missing = [p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not p.help and not p.hidden]
    assert missing == [], f"{' '.join(path)}: options without help: {missing}"


def test_run_help_names_every_kind_of_player():
    text = CliRunner().invoke(main, ["run", "--help"], terminal_width=200).output
    for kind in ("scripted/", "policy/", "hf/", "openai/", "anthropic/", "vllm/", "py:", "exec:", "agent/"):
        assert kind in text, kind
    assert (
        "tasks/negotiation-v1/generator.json"
        in CliRunner().invoke(main, ["tasks", "generate", "--help"]).output
    )
    assert "evaluate-requests" in CliRunner().invoke(main, ["leaderboard", "--help"]).output


def test_errors_point_at_the_fix():
    r = CliRunner().invoke(main, ["run", "--model", "boulware"])
    assert r.exit_code == 2 and "did you mean 'scripted/boulware'" in r.output
    r = CliRunner().invoke(main, ["run", "--model", "scripted/boulware", "--tasks", "./missing/"])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = CliRunner().invoke(main, ["tasks", "validate", "negotiation-v1"])
    assert r.exit_code == 0 and r.output.startswith("ok:")
    r = CliRunner().invoke(main, ["tasks", "list"])
    assert r.exit_code == 0 and len(r.output.splitlines()) < 10 and "--split" in r.output


def test_resume_on_nothing_says_so_and_a_run_folder_is_not_an_output_path(tmp_path):
    args = ["run", "--model", "scripted/linear", "--split", "lite", "--limit", "1", "--no-progress",
            "--opponents", "scripted/boulware", "--bootstrap", "50"]  # fmt: skip
    first = CliRunner().invoke(main, [*args, "--output-path", str(tmp_path), "--resume"])
    assert first.exit_code == 0 and "note: --resume: no run with these settings" in first.output
    (run_dir,) = tmp_path.glob("*/*/results.json")
    nested = CliRunner().invoke(main, [*args, "--output-path", str(run_dir.parent), "--resume"])
    assert nested.exit_code == 2 and "is itself a run folder" in nested.output
    assert not list(run_dir.parent.glob("*/*/results.json"))  # nothing was nested inside it


def test_the_scorecard_reads_without_a_guide(tmp_path):
    r = CliRunner().invoke(
        main,
        ["run", "--model", "scripted/linear", "--split", "lite", "--limit", "1", "--no-progress", "--bootstrap", "50",
         "--opponents", "scripted/boulware", "--output-path", str(tmp_path)],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = r.output
    assert "over 1 scenario " in out and "1 scenarios" not in out
    assert "results file format arena-bench-results/1" in out
    assert "games planned 6" in out and "sides" in out and "self-play game counts twice" in out
    table = out.split("\n\n")[1].splitlines()
    for line in table[2:]:  # every column separated by at least two spaces
        assert not re.search(r"\d [\d\[]", line.split("scripted/linear", 1)[1]), line


def test_a_dry_run_without_litellm_says_how_to_get_dollars(monkeypatch):
    import importlib.util

    from arena_bench.pricing import DryRun

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "litellm" else real(name, *a)
    )
    dry = DryRun(1, 1, 10, 100, 10, 30, None, None, 50, "", 1, 1, None)
    (line,) = [x for x in dry.lines("openai/gpt-4o-mini") if x.startswith("cost")]
    assert "pip install 'arena-bench[litellm]'" in line and "-e" in line
