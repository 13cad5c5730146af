"""Task sets on disk (SPEC section 2): JSONL splits, a dataset card, MANIFEST.json.

A task set folder ``<name>-v<N>/`` holds ``dev.jsonl``, ``test.jsonl``, ``lite.jsonl``,
``generator.json`` (the settings that regenerate it), ``README.md`` (dataset card whose
``configs:`` let ``datasets`` and the Hub load the splits) and ``MANIFEST.json`` (sha256 of
every other file). The task set hash is the sha256 of the manifest's file table.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from .core.analysis import analyse, analysis_to_dict, compare_analysis
from .core.scenario import Scenario, ScenarioError, scenario_from_dict, scenario_to_dict
from .generator import GeneratorConfig, generate_split, lite_subset

SPLITS = ("dev", "test", "lite")
REPO_TASKS = Path(__file__).resolve().parent.parent / "tasks"


class TaskSetError(ValueError):
    """A task set is missing, altered or malformed; the message names the file and line."""


@dataclass(frozen=True)
class TaskSet:
    name: str  # e.g. "negotiation"
    version: int
    path: Path
    hash: str
    manifest: dict[str, Any]

    @property
    def full_name(self) -> str:
        return f"{self.name}-v{self.version}"

    def load(self, split: str) -> list[Scenario]:
        if split not in self.manifest["splits"]:
            raise TaskSetError(
                f"{self.full_name} has no split {split!r}; splits: {', '.join(self.manifest['splits'])}"
            )
        return [s for s, _ in read_jsonl(self.path / f"{split}.jsonl")]

    def load_with_analysis(self, split: str) -> list[tuple[Scenario, dict[str, Any]]]:
        return read_jsonl(self.path / f"{split}.jsonl")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def task_set_hash(files: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def scenario_line(scenario: Scenario) -> str:
    record = scenario_to_dict(scenario)
    record["analysis"] = analysis_to_dict(analyse(scenario))
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def read_jsonl(path: Path) -> list[tuple[Scenario, dict[str, Any]]]:
    """Scenarios and their stored analyses; errors name the file and line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TaskSetError(f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            try:
                scenario = scenario_from_dict(data)
            except ScenarioError as exc:
                raise TaskSetError(f"{path}:{lineno}: {exc}") from None
            out.append((scenario, data.get("analysis") or {}))
    return out


def dataset_card(config: GeneratorConfig, counts: dict[str, int]) -> str:
    data_files = "\n".join(f"  - split: {s}\n    path: {s}.jsonl" for s in SPLITS)
    return f"""---
license: cc-by-4.0
pretty_name: arena-bench {config.full_name}
task_categories:
- text-generation
tags:
- negotiation
- multi-issue-bargaining
- benchmark
configs:
- config_name: default
  data_files:
{data_files}
---

# arena-bench task set `{config.full_name}`

Two-party multi-issue negotiation scenarios with private additive utilities and outside
options (BATNAs). Each line of a split is one scenario with its exact outcome-space analysis
(Pareto frontier, Nash bargaining solution, Kalai-Smorodinsky point, max joint utility,
ZOPA flag, integrative potential). See the arena-bench SPEC, sections 1 and 2.

| split | scenarios | use |
| --- | --- | --- |
| dev | {counts['dev']} | development and training evaluation |
| test | {counts['test']} | the leaderboard |
| lite | {counts['lite']} | a subset of test for quick runs |

Balanced across the strata (distributive, integrative, compatible, asymmetric_batna, no_zopa)
and the families ({', '.join(config.families)}).

A published version never changes; a fix is a new version. Regenerate byte for byte with

    arena-bench tasks generate --config generator.json --out {config.full_name}

Load with `datasets`:

    datasets.load_dataset("json", data_files={{"test": "test.jsonl"}})
"""


def build_files(config: GeneratorConfig) -> dict[str, bytes]:
    """Every file of the task set, as bytes (pure apart from computation)."""
    test = generate_split(config, "test")
    splits = {"dev": generate_split(config, "dev"), "test": test, "lite": lite_subset(config, test)}
    files: dict[str, bytes] = {}
    for split, scenarios in splits.items():
        files[f"{split}.jsonl"] = "".join(scenario_line(s) + "\n" for s in scenarios).encode()
    files["generator.json"] = (json.dumps(config.to_dict(), indent=2) + "\n").encode()
    files["README.md"] = dataset_card(config, {k: len(v) for k, v in splits.items()}).encode()
    table = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    manifest = {
        "name": config.name,
        "version": config.version,
        "splits": {k: len(v) for k, v in splits.items()},
        "files": table,
        "hash": task_set_hash(table),
    }
    files["MANIFEST.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    return files


def write_atomic_dir(files: dict[str, bytes], out: Path, overwrite: bool = False) -> None:
    """Write into a temporary sibling folder, fsync, then rename: never half-written."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise TaskSetError(f"{out} already exists; pass --overwrite to replace it or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a task set is meant to be shared
    try:
        for name, data in files.items():
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    """A task set folder from a path or a name like ``negotiation-v1``."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    candidate = REPO_TASKS / str(name_or_path)
    if candidate.is_dir():
        return candidate
    known = sorted(d.name for d in REPO_TASKS.iterdir() if d.is_dir()) if REPO_TASKS.is_dir() else []
    hint = difflib.get_close_matches(str(name_or_path), known, n=1)
    msg = f"no task set {str(name_or_path)!r}"
    if hint:
        msg += f"; did you mean {hint[0]!r}?"
    msg += f" Known task sets: {', '.join(known) or 'none'} (in {REPO_TASKS}); or pass a folder path."
    raise TaskSetError(msg)


def open_task_set(name_or_path: str | os.PathLike[str], verify: bool = True) -> TaskSet:
    path = resolve(name_or_path)
    manifest_path = path / "MANIFEST.json"
    if not manifest_path.is_file():
        raise TaskSetError(f"{manifest_path} is missing: not a task set folder (regenerate it with `arena-bench tasks generate`)")
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise TaskSetError(f"{manifest_path}: malformed manifest ({exc})") from None
    if verify:
        problems = verify_hashes(path, files)
        if problems:
            raise TaskSetError(
                "task set files differ from MANIFEST.json:\n  " + "\n  ".join(problems)
                + "\nA published task set never changes: restore the files (git checkout) or make a new version."
            )
    expected = task_set_hash(files)
    if manifest.get("hash") != expected:
        raise TaskSetError(f"{manifest_path}: field 'hash' is {manifest.get('hash')!r}, the file table hashes to {expected!r}")
    return TaskSet(manifest["name"], int(manifest["version"]), path, expected, manifest)


def verify_hashes(path: Path, files: dict[str, str]) -> list[str]:
    problems = []
    for name, digest in files.items():
        f = path / name
        if not f.is_file():
            problems.append(f"{f}: missing")
        elif sha256_file(f) != digest:
            problems.append(f"{f}: sha256 differs from MANIFEST.json (the file was changed)")
    return problems


def validate_task_set(path: Path) -> list[str]:
    """Every problem found: hashes, then each scenario's rules and stored analysis, with file:line and field."""
    path = Path(path)
    problems: list[str] = []
    manifest_path = path / "MANIFEST.json"
    if not manifest_path.is_file():
        return [f"{manifest_path}: missing"]
    manifest = json.loads(manifest_path.read_text())
    problems += verify_hashes(path, manifest.get("files", {}))
    ids: dict[str, dict[str, Any]] = {}
    for split in manifest.get("splits", {}):
        f = path / f"{split}.jsonl"
        if not f.is_file():
            continue
        count = 0
        for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            count += 1
            try:
                data = json.loads(line)
                scenario = scenario_from_dict(data)
            except json.JSONDecodeError as exc:
                problems.append(f"{f}:{lineno}: not valid JSON ({exc.msg})")
                continue
            except ScenarioError as exc:
                problems.append(f"{f}:{lineno}: {exc}")
                continue
            for p in compare_analysis(data.get("analysis") or {}, analyse(scenario)):
                problems.append(f"{f}:{lineno}: scenario {scenario.id!r}: {p}")
            if split == "lite":
                if scenario.id not in ids or ids[scenario.id] != data:
                    problems.append(f"{f}:{lineno}: scenario {scenario.id!r} is not identical to a test scenario")
            elif split == "test":
                ids[scenario.id] = data
        if manifest["splits"][split] != count:
            problems.append(f"{manifest_path}: splits.{split} says {manifest['splits'][split]} scenarios, {f.name} has {count}")
    return problems


def generate_task_set(config: GeneratorConfig, out: Path, overwrite: bool = False) -> dict[str, Any]:
    files = build_files(config)
    write_atomic_dir(files, out, overwrite=overwrite)
    return json.loads(files["MANIFEST.json"])


def load_config(path: Path) -> GeneratorConfig:
    try:
        return GeneratorConfig.from_dict(json.loads(Path(path).read_text()))
    except json.JSONDecodeError as exc:
        raise TaskSetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    except (TypeError, ValueError) as exc:
        raise TaskSetError(f"{path}: {exc}") from None


def write_scenarios_jsonl(scenarios: Iterable[Scenario]) -> bytes:
    return "".join(scenario_line(s) + "\n" for s in scenarios).encode()
