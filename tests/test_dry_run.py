"""``run --dry-run``: the price before spending, computed from the real prompt templates; nothing is
called and nothing is written."""

from __future__ import annotations

import re

from click.testing import CliRunner

from arena_bench.cli import main
from arena_bench.evaluation import evaluation_config
from arena_bench.planning import plan


def test_dry_run_prices_a_known_model_and_writes_nothing(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "openai/gpt-4o-mini",
            "--split",
            "lite",
            "--dry-run",
            "--output-path",
            str(tmp_path / "out"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "nothing was called" in r.output and not (tmp_path / "out").exists()
    cells = plan(evaluation_config("openai/gpt-4o-mini", split="lite")).cells
    assert f"games: {len(cells)} " in r.output
    calls = int(re.search(r"model calls: about ([\d,]+)", r.output).group(1).replace(",", ""))
    assert 2 * len(cells) < calls < 20 * len(cells)  # a few turns per game, never more than max_turns
    cost, most = (
        float(x.replace(",", ""))
        for x in re.search(r"cost: about \$([\d.,]+), at most \$([\d.,]+)", r.output).groups()
    )
    assert 0 < cost < most
    assert re.search(r"longest prompt: about [\d,]+ tokens", r.output)


def test_dry_run_says_when_the_price_is_unknown(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "run",
            "--model",
            "openai/my-local-model",
            "--api-base",
            "http://127.0.0.1:9/v1",
            "--limit",
            "2",
            "--dry-run",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "cost: unknown" in r.output
