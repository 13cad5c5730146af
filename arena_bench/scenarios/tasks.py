"""Task sets on disk (SPEC section 2): JSONL splits, a dataset card, MANIFEST.json.

A task set folder ``<name>-v<N>/`` holds ``dev.jsonl``, ``test.jsonl``, ``lite.jsonl``,
``generator.json`` (the settings that regenerate it), ``README.md`` (dataset card whose
``configs:`` let ``datasets`` and the Hub load the splits) and ``MANIFEST.json`` (sha256 of
every other file). The task set hash is the sha256 of the manifest's file table.

A task set is named by a released name (``tasks/`` at the top of the repository, shipped inside the
package as ``arena_bench/task_sets``),
a folder path, or a Hub dataset ``hf:ORG/NAME[@REVISION]``; each is checked against its manifest.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.analysis import analyse, analysis_to_dict, compare_analysis
from ..core.scenario import Scenario, ScenarioError, scenario_from_dict, scenario_to_dict
from ..errors import TaskSetError
from ..storage import json_lines
from .generator import GeneratorConfig, generate_split, lite_subset

SPLITS = ("dev", "test", "lite")
HUB_PREFIX = "hf:"


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

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    def load(self, split: str) -> list[Scenario]:
        if split not in self.manifest["splits"]:
            raise TaskSetError(
                f"{self.full_name} has no split {split!r}; splits: {', '.join(self.manifest['splits'])}"
            )
        return [s for s, _ in read_jsonl(self.path / f"{split}.jsonl")]

    def find(self, scenario_id: str, split: str | None = None) -> Scenario:
        """One scenario by id, in ``split`` or in any split ("did you mean" otherwise)."""
        ids: list[str] = []
        for sp in [split] if split else self.splits:
            for scenario in self.load(sp):
                if scenario.id == scenario_id:
                    return scenario
                ids.append(scenario.id)
        hint = difflib.get_close_matches(scenario_id, ids, n=1)
        raise TaskSetError(
            f"no scenario {scenario_id!r} in {self.full_name}"
            + (f" split {split}" if split else "")
            + (f"; did you mean {hint[0]!r}?" if hint else "")
        )

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
    for lineno, data in json_lines(path, TaskSetError):
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
| dev | {counts["dev"]} | development and training evaluation |
| test | {counts["test"]} | the leaderboard |
| lite | {counts["lite"]} | a subset of test for quick runs |

Balanced across the strata (distributive, integrative, compatible, asymmetric_batna, no_zopa)
and the families ({", ".join(config.families)}).

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


def packaged_task_sets() -> Path:
    """The released task sets shipped as package data (the same folder in a checkout and a wheel)."""
    from importlib import resources

    return Path(str(resources.files("arena_bench").joinpath("task_sets")))


def released_names() -> list[str]:
    root = packaged_task_sets()
    return sorted(d.name for d in root.iterdir() if (d / "MANIFEST.json").is_file()) if root.is_dir() else []


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    """A task set folder from a path, a released name like ``negotiation-v1``, or ``hf:ORG/NAME[@REV]``."""
    text = str(name_or_path)
    if text.startswith(HUB_PREFIX):
        return download_from_hub(text[len(HUB_PREFIX) :])
    p = Path(name_or_path)
    if p.is_dir():
        return p
    candidate = packaged_task_sets() / text
    if "/" not in text and candidate.is_dir():
        return candidate
    known = released_names()
    hint = difflib.get_close_matches(text, known, n=1)
    looks_like_path = "/" in text or text.startswith(".") or p.suffix
    msg = f"no folder {text!r} (it does not exist)" if looks_like_path else f"no task set {text!r}"
    if hint:
        msg += f"; did you mean {hint[0]!r}?"
    msg += (
        f" Released task sets: {', '.join(known) or 'none'}; or pass a folder path, or hf:ORG/NAME[@REVISION] "
        "for a Hub dataset."
    )
    raise TaskSetError(msg)


def download_from_hub(ref: str) -> Path:
    """``ORG/NAME[@REVISION]`` from the Hub (``HF_ENDPOINT`` is honoured) into the local cache."""
    repo, _, revision = ref.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise TaskSetError(f"hf:{ref}: write hf:ORG/NAME or hf:ORG/NAME@REVISION")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise TaskSetError(f"hf:{ref} needs huggingface_hub ({exc})") from None
    try:
        return Path(snapshot_download(repo, repo_type="dataset", revision=revision or None))
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise TaskSetError(
            f"hf:{ref}: no such dataset or revision on the Hub ({type(exc).__name__})"
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise TaskSetError(
            f"hf:{ref}: download failed ({type(exc).__name__}: {exc}); check the name, your "
            "network and HF_TOKEN"
        ) from None


def open_task_set(name_or_path: str | os.PathLike[str], verify: bool = True) -> TaskSet:
    path = resolve(name_or_path)
    manifest_path = path / "MANIFEST.json"
    if not manifest_path.is_file():
        raise TaskSetError(
            f"{manifest_path} is missing: not a task set folder (regenerate it with `arena-bench tasks generate`)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise TaskSetError(f"{manifest_path}: malformed manifest ({exc})") from None
    if verify:
        problems = verify_hashes(path, files)
        if problems:
            raise TaskSetError(
                "task set files differ from MANIFEST.json:\n  "
                + "\n  ".join(problems)
                + "\nA published task set never changes: restore the files (git checkout) or make a new version."
            )
    expected = task_set_hash(files)
    if manifest.get("hash") != expected:
        raise TaskSetError(
            f"{manifest_path}: field 'hash' is {manifest.get('hash')!r}, the file table hashes to {expected!r}"
        )
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
                    problems.append(
                        f"{f}:{lineno}: scenario {scenario.id!r} is not identical to a test scenario"
                    )
            elif split == "test":
                ids[scenario.id] = data
        if manifest["splits"][split] != count:
            problems.append(
                f"{manifest_path}: splits.{split} says {manifest['splits'][split]} scenarios, {f.name} has {count}"
            )
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


def manifest_bytes(name: str, version: int, files: dict[str, bytes], splits: dict[str, int]) -> bytes:
    table = {n: hashlib.sha256(data).hexdigest() for n, data in sorted(files.items()) if n != "MANIFEST.json"}
    manifest = {
        "name": name,
        "version": version,
        "splits": splits,
        "files": table,
        "hash": task_set_hash(table),
    }
    return (json.dumps(manifest, indent=2) + "\n").encode()


def imported_card(name: str, version: int, splits: dict[str, int]) -> str:
    data_files = "\n".join(f"  - split: {s}\n    path: {s}.jsonl" for s in splits)
    return f"""---
pretty_name: arena-bench {name}-v{version}
tags:
- negotiation
configs:
- config_name: default
  data_files:
{data_files}
---

# arena-bench task set `{name}-v{version}`

Scenarios imported with `arena-bench tasks import-genius`; each line stores its exact analysis.
Splits: {", ".join(f"{s} ({n})" for s, n in splits.items())}. Run it with `arena-bench run --tasks PATH --split SPLIT`.
"""


def add_scenario(scenario: Scenario, folder: Path, split: str = "test") -> dict[str, Any]:
    """Add one scenario to the task set folder ``folder`` (made if missing), manifest included.

    The folder's name gives the task set's name and version (``mine-v1``; ``-v1`` if none).
    A changed folder is refused (its manifest must match), a repeated id too; the folder is
    rewritten atomically, so it is never half-written.
    """
    import re

    folder = Path(folder)
    if (folder / "MANIFEST.json").is_file():
        ts = open_task_set(folder)
        name, version = ts.name, ts.version
        files = {n: (folder / n).read_bytes() for n in ts.manifest["files"]}
        for sp in ts.splits:
            if any(s.id == scenario.id for s in ts.load(sp)):
                raise TaskSetError(
                    f"{folder / (sp + '.jsonl')}: already has a scenario {scenario.id!r}; give another --id"
                )
    elif folder.exists() and any(folder.iterdir()):
        raise TaskSetError(
            f"{folder} exists and is not a task set (no MANIFEST.json); choose an empty or new folder"
        )
    else:
        m = re.fullmatch(r"(.+)-v(\d+)", folder.name)
        name, version = (m.group(1), int(m.group(2))) if m else (folder.name, 1)
        files = {}
    if not re.fullmatch(r"[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*", name):
        raise TaskSetError(f"{folder}: a task set name uses letters, digits, '_', '.' and '-' only")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", split):
        raise TaskSetError(f"--split {split!r}: use letters, digits, '_', '.' and '-' only")
    key = f"{split}.jsonl"
    files[key] = files.get(key, b"") + (scenario_line(scenario) + "\n").encode()
    splits = {
        n[:-6]: sum(1 for line in d.splitlines() if line.strip())
        for n, d in files.items()
        if n.endswith(".jsonl")
    }
    files["README.md"] = imported_card(name, version, splits).encode()
    files["MANIFEST.json"] = manifest_bytes(name, version, files, splits)
    write_atomic_dir(files, folder, overwrite=True)
    return json.loads(files["MANIFEST.json"])


def import_genius_files(
    domain: Path, utility_a: Path, utility_b: Path, scenario_id: str | None = None, roles: str | None = None
) -> Scenario:
    """A scenario from GENIUS/ANAC files (``roles``: ``"buyer,seller"``; default from the file names)."""
    from .genius import import_genius, role_names

    if roles:
        names = tuple(r.strip() for r in roles.split(","))
        if len(names) != 2 or not all(names):
            raise TaskSetError(
                f"--roles {roles!r}: give two names separated by a comma, e.g. --roles buyer,seller"
            )
    else:
        names = role_names((Path(utility_a).stem, Path(utility_b).stem), Path(domain).stem)
    texts = []
    for f in (domain, utility_a, utility_b):
        try:
            texts.append(Path(f).read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            raise TaskSetError(f"{f}: cannot be read ({exc.strerror})") from None
    return import_genius(
        *texts,
        scenario_id=scenario_id or Path(domain).stem,
        role_names=names,  # type: ignore[arg-type]
        labels=(str(domain), str(utility_a), str(utility_b)),
    )
