"""Durable file writes: atomic replace and fsynced appends."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_line_durably(path: str | os.PathLike[str], line: str) -> None:
    """Append one line and fsync, so a crash right after loses nothing that was reported written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())


def json_lines(path: str | os.PathLike[str], error: type[Exception], hint: str = ""):
    """``(line number, parsed object)`` for each non-blank line of a JSONL file (``.gz`` too).

    A line that is not JSON, or a file that cannot be read, raises ``error`` naming the file and
    line, followed by ``hint`` (what to do about it).
    """
    import gzip
    import json

    path = Path(path)
    try:
        with (
            gzip.open(path, "rt", encoding="utf-8")
            if path.suffix == ".gz"
            else open(path, encoding="utf-8") as f
        ):
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield lineno, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise error(
                        f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}){hint}"
                    ) from None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
