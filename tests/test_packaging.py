"""The built wheel works away from the repository, as a `pip install arena-bench` user has it:
task sets, site assets and policies come from the package, and an installed plugin package
adds a player through the ``arena_bench.players`` entry point."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "tiny-arena-plugin"
version = "0.1"

[project.entry-points."arena_bench.players"]
tiny = "tiny_arena_plugin:make_player"
"""

PLUGIN_MODULE = '''
from arena_bench.arrays.registry import ScriptedPlayer


class TinyPlayer(ScriptedPlayer):
    """A plugin provider: tiny/<strategy> plays that scripted strategy under its own name."""

    def __init__(self, name):
        super().__init__(name)
        self.spec = f"tiny/{name}"


def make_player(name, options):
    return TinyPlayer(name)
'''


def _sh(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A new venv holding only the built wheel (its dependencies come from this test environment's
    site-packages through a .pth line, so nothing is downloaded and the checkout is not on the path)."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = _sh(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp / "dist")], tmp
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("arena_bench-*.whl")
    venv = tmp / "venv"
    made = _sh([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    purelib = Path(
        _sh([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp).stdout.strip()
    )
    (purelib / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = _sh(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)], tmp
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    return venv, env


def test_the_wheel_runs_tasks_a_run_and_the_leaderboard_away_from_the_repository(fresh_venv, tmp_path):
    venv, env = fresh_venv
    cli = str(venv / "bin" / "arena-bench")
    where = _sh(
        [str(venv / "bin" / "python"), "-c", "import arena_bench; print(arena_bench.__file__)"], tmp_path, env
    )
    assert str(venv) in where.stdout and str(REPO) not in where.stdout

    listed = _sh([cli, "tasks", "list", "--split", "lite"], tmp_path, env)
    assert listed.returncode == 0 and "lite: 35 scenarios" in listed.stdout and str(venv) in listed.stdout

    ran = _sh(
        [
            cli,
            "run",
            "--model",
            "scripted/boulware",
            "--split",
            "lite",
            "--limit",
            "2",
            "--no-progress",
            "--bootstrap",
            "100",
        ],
        tmp_path,
        env,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    (results,) = (tmp_path / "results").glob("*/*/results.json")
    data = json.loads(results.read_text())
    # boulware is in panel-v2, so its self-play game is its game against that member: 8 others x 2 roles + 1
    assert data["counts"]["completed"] == data["counts"]["planned"] == 2 * 2 * (8 * 2 + 1)
    assert data["git_hash"] is None  # an installed package has no repository to ask

    built = _sh(
        [
            cli,
            "leaderboard",
            "build",
            "--results",
            "results",
            "--out",
            "site",
            "--split",
            "lite",
            "--bootstrap",
            "100",
        ],
        tmp_path,
        env,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    assert (tmp_path / "site" / "app.js").stat().st_size > 0 and (
        tmp_path / "site" / "style.css"
    ).stat().st_size > 0
    assert "partial split" in built.stdout  # a --limit run is listed as refused, with its reason


def test_an_installed_plugin_package_adds_a_provider(fresh_venv, tmp_path):
    venv, env = fresh_venv
    pkg = tmp_path / "plugin"
    (pkg / "tiny_arena_plugin").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (pkg / "tiny_arena_plugin" / "__init__.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    installed = _sh(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "-q",
            str(pkg),
        ],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    ran = _sh(
        [
            str(venv / "bin" / "arena-bench"),
            "run",
            "--model",
            "tiny/linear",
            "--limit",
            "1",
            "--opponents",
            "scripted/boulware",
            "--no-progress",
            "--bootstrap",
            "50",
        ],
        tmp_path,
        env,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "tiny/linear" in ran.stdout
    unknown = _sh(
        [str(venv / "bin" / "arena-bench"), "run", "--model", "tinny/linear", "--limit", "1"], tmp_path, env
    )
    assert unknown.returncode == 2 and "did you mean 'tiny/linear'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
