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


def json_lines(
    path: str | os.PathLike[str],
    error: type[Exception],
    hint: str = "",
    *,
    max_line_bytes: int | None = None,
    max_total_bytes: int | None = None,
    max_lines: int | None = None,
):
    """``(line number, parsed object)`` for each non-blank line of a JSONL file (``.gz`` too).

    A line that is not JSON, or a file that cannot be read, raises ``error`` naming the file and
    line, followed by ``hint`` (what to do about it). The limits bound what a hostile file can cost
    before it is refused: the bytes of one line and of the whole (decompressed) file, and the
    number of records; a line nested too deep for the parser is refused the same way.
    """
    import gzip
    import json

    path = Path(path)
    line_cap = max_line_bytes or (1 << 62)
    total = 0
    records = 0
    try:
        with gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb") as f:
            lineno = 0
            while True:
                raw = f.readline(line_cap + 1)  # never more than the cap in memory
                if not raw:
                    break
                lineno += 1
                total += len(raw)
                if len(raw) > line_cap:
                    raise error(f"{path}:{lineno}: a line longer than {line_cap:,} bytes{hint}")
                if max_total_bytes is not None and total > max_total_bytes:
                    raise error(f"{path}: more than {max_total_bytes:,} bytes (decompressed){hint}")
                if not raw.strip():
                    continue
                records += 1
                if max_lines is not None and records > max_lines:
                    raise error(f"{path}: more than {max_lines:,} records{hint}")
                try:
                    yield lineno, json.loads(raw.decode("utf-8"))
                except json.JSONDecodeError as exc:
                    raise error(
                        f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}){hint}"
                    ) from None
                except RecursionError:
                    raise error(f"{path}:{lineno}: nested too deep to be a record{hint}") from None
    except (OSError, EOFError, UnicodeDecodeError, zlib_error()) as exc:
        raise error(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error
