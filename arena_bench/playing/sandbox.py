"""Code agents from outside, run in a sandbox or not at all: ``--model agent/ORG/NAME@REVISION``.

A code agent is a Hub model repository at a pinned commit holding the program and a manifest,
``arena-agent.json``: ``{"format": "arena-agent/1", "command": ["python3", "agent.py"]}``. It
speaks the ``exec:`` protocol (one JSON observation a line in, one reply a line out), but each game
side's process runs under bubblewrap (``bwrap``, Debian's ``bubblewrap``):

- no network (a network namespace of its own, with only a loopback nobody listens on), no view of
  other processes (a PID namespace), an empty environment, no capabilities;
- read-only ``/usr`` (the system's Python and libraries) and the agent's own folder, read-only, at
  ``/agent``; a private ``/tmp``; nothing else of the host: not the task set, the run folder, the
  Hub cache, the evaluator's files or ``/etc``;
- limits on CPU seconds, address space, file size and processes, set before the program starts,
  and (when the evaluator runs as root) each process runs as an unprivileged user of its own.

Where ``bwrap`` is missing the agent is refused; it never runs unsandboxed. The manifest is data:
its command is a list of words, run without a shell, whose first word is ``python3`` or a file of
the agent's folder.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnknownPlayer
from .external import OBSERVATION_FORMAT, REPLY_TIMEOUT_S, ExecAgent

MANIFEST = "arena-agent.json"
MANIFEST_FORMAT = "arena-agent/1"
SANDBOX_VERSION = "bwrap-sandbox/1"
# ORG/NAME@40-hex commit: a Hub repository id and a pinned revision, nothing else
AGENT_NAME = re.compile(
    r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95})@(?P<rev>[0-9a-f]{40})$"
)
INTERPRETERS = {"python3": "/usr/bin/python3"}
MAX_AGENT_BYTES = 64 << 20  # an agent's whole folder
# When the evaluator runs as root, each sandboxed process runs as a user of its own from this range,
# so that the process limit (counted per user) bounds that one agent, not every agent at once.
SANDBOX_UIDS = (200_000, 100_000)
_next_uid = itertools.count()


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 600  # per game side's process
    memory_mb: int = 2048  # address space
    processes: int = 32  # the agent's own processes and threads (it runs as a user of its own)
    file_mb: int = 64  # the largest file it may write (its /tmp)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Limits:
        values = {}
        for key, default in asdict(cls()).items():
            value = options.get(f"sandbox_{key}", default)
            if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
                raise ConfigError(f"sandbox_{key}={value!r}: a positive whole number")
            values[key] = int(value)
            if values[key] < 1:
                raise ConfigError(f"sandbox_{key}={value!r}: a positive whole number")
        return cls(**values)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _system_mounts() -> list[str]:
    """``/usr`` read-only, and the top-level links into it (``/bin``, ``/lib``...) as they are here."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    return args


def sandbox_argv(bwrap: str, agent_dir: Path, command: list[str]) -> list[str]:
    return [
        bwrap,
        "--unshare-all",  # network, PID, IPC, UTS, user and cgroup namespaces of its own
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop",
        "ALL",
        *_system_mounts(),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        str(agent_dir),
        "/agent",
        "--chdir",
        "/agent",
        "--setenv",
        "PATH",
        "/usr/bin:/bin",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--",
        *command,
    ]


def _limit_and_drop(limits: Limits, uid: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        mem = limits.memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        size = limits.file_mb << 20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.geteuid() == 0:  # the process limit counts per user: a user of its own, away from root's
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec


def read_manifest(folder: Path) -> list[str]:
    """The command inside the sandbox, from the agent's manifest (refused unless it is plain data)."""
    path = folder / MANIFEST
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 16_384:
            raise ConfigError(f"a code agent needs a small {MANIFEST} at the top of its repository")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ConfigError(f"{MANIFEST} is not valid JSON") from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ConfigError(f"{MANIFEST}: 'format' must be {MANIFEST_FORMAT!r}")
    unknown = set(data) - {"format", "command", "language", "description"}
    if unknown:
        raise ConfigError(f"{MANIFEST}: unknown fields {sorted(unknown)}")
    command = data.get("command")
    if (
        not isinstance(command, list)
        or not 1 <= len(command) <= 16
        or not all(isinstance(w, str) and 0 < len(w) <= 200 and "\x00" not in w for w in command)
    ):
        raise ConfigError(f"{MANIFEST}: 'command' must be a list of 1 to 16 words")
    first = command[0]
    if first in INTERPRETERS:
        return [INTERPRETERS[first], *command[1:]]
    rel = Path(first)
    if rel.is_absolute() or ".." in rel.parts or not (folder / rel).is_file():
        raise ConfigError(
            f"{MANIFEST}: the command's first word must be one of {sorted(INTERPRETERS)} or a file of the agent"
        )
    return [f"/agent/{rel.as_posix()}", *command[1:]]


def private_copy(source: Path) -> Path:
    """The agent's files copied (links resolved inside the folder only) into a fresh folder that
    the sandboxed user can read and nobody else writes: the Hub cache itself is never mounted."""
    total = 0
    files = []
    root = source.resolve()
    for path in sorted(source.rglob("*")):
        if path.is_symlink():
            target = path.resolve()
            if not (target == root or root in target.parents or _in_hub_blobs(target, source)):
                raise ConfigError("a code agent's files may not link outside its repository")
        if path.is_file():
            total += path.stat().st_size
            files.append(path)
    if total > MAX_AGENT_BYTES:
        raise ConfigError(f"a code agent's repository is larger than {MAX_AGENT_BYTES >> 20} MiB")
    dest = Path(tempfile.mkdtemp(prefix="arena-agent-"))
    os.chmod(dest, 0o755)
    for path in files:
        rel = path.relative_to(source)
        if rel.parts[0] == ".git":
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        shutil.copyfile(path, target)  # contents only: no mode bits or owner from outside
        os.chmod(target, 0o755 if os.access(path, os.X_OK) else 0o644)
    for folder in [dest, *[p for p in dest.rglob("*") if p.is_dir()]]:
        os.chmod(folder, 0o755)
    return dest


def _in_hub_blobs(target: Path, snapshot: Path) -> bool:
    """Hub snapshots are links into the repository's own ``blobs/`` folder."""
    repo_root = snapshot.resolve().parent.parent  # .../models--org--name/snapshots/<rev>
    return (repo_root / "blobs") in target.parents


def fetch_agent(repo: str, revision: str) -> Path:
    """The repository at that commit (from the Hub, or its local cache)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo, revision=revision, repo_type="model"))
    except Exception as exc:  # noqa: BLE001 - Hub and network errors have no common base
        raise UnknownPlayer(
            f"agent/{repo}@{revision} cannot be fetched from the Hub ({type(exc).__name__})"
        ) from None


class SandboxedPlayer:
    def __init__(self, name: str, options: dict[str, Any]):
        m = AGENT_NAME.match(name)
        if not m:
            raise UnknownPlayer(
                f"agent/{name!r}: a code agent is agent/ORG/NAME@COMMIT (a Hub repository at a 40-hex revision)"
            )
        self.repo, self.revision = m["repo"], m["rev"]
        self.spec = f"agent/{name}"
        self.bwrap = bwrap_path()
        if self.bwrap is None:
            raise UnknownPlayer(
                f"{self.spec}: code agents run only inside bubblewrap, which is not installed "
                "(apt-get install bubblewrap); they are never run unsandboxed"
            )
        self.limits = Limits.from_options(options)
        self.timeout_s = float(options.get("timeout_s", REPLY_TIMEOUT_S))
        self.folder = private_copy(fetch_agent(self.repo, self.revision))
        self.command = read_manifest(self.folder)

    def launch(self, command: list[str]) -> tuple[list[str], Callable[[], None]]:
        uid = SANDBOX_UIDS[0] + next(_next_uid) % SANDBOX_UIDS[1]
        return sandbox_argv(self.bwrap, self.folder, command), _limit_and_drop(self.limits, uid)

    def new_agent(self, role_index: int, seed: int) -> ExecAgent:
        return ExecAgent(self.command, self.timeout_s, launcher=self.launch, label=self.spec)

    def describe(self) -> dict[str, Any]:
        digest = hashlib.sha256()
        for path in sorted(self.folder.rglob("*")):
            if path.is_file():
                digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0" + path.read_bytes())
        return {
            "spec": self.spec,
            "kind": "sandboxed-agent",
            "repository": self.repo,
            "revision": self.revision,
            "files_sha256": digest.hexdigest(),
            "observation_format": OBSERVATION_FORMAT,
            "sandbox": SANDBOX_VERSION,
            "limits": asdict(self.limits),
        }

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def agent_player(provider: str, name: str, options: dict[str, Any]) -> SandboxedPlayer:
    return SandboxedPlayer(name, options)
