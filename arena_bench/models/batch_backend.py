"""``--batch``: the OpenAI Batch API, turn-synchronously, at about half the price.

Every open game of the run is in flight at once. Each asks for its model turn; when no new
request has arrived for a moment (the panel answers in microseconds, so by then every open game
is waiting on the model), all pending requests go into one JSONL file, uploaded through the Files
endpoint and submitted to ``/v1/batches``. The run polls the batch, hands each reply to its game,
the panel answers, and the next turn of every game forms the next batch. A split takes at most
about 2 x max_turns batches (repairs go into the next one).

Nothing is lost: each batch's id is appended to ``batches.jsonl`` in the run folder when it is
submitted, and every answered line to ``batch_results.jsonl`` when it comes back. Requests are
named by a hash of their body, and games are deterministic given their replies, so a killed run
that is resumed replays its games from those answers, waits on a batch still pending instead of
submitting it again, and submits only what was never sent.

A line the batch answers with an error ends that turn as a counted forfeit (``RequestRefused``),
with the server's words in the record. A batch that fails, expires or is cancelled stops the run
(``StopRun``): what came back is kept, and ``--resume`` submits the rest again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from ..errors import StopRun
from ..storage import append_line_durably
from .base import Completion, GenerationSettings, RequestRefused, require
from .openai_backend import chat_request, list_prices

BATCH_DISCOUNT = 0.5  # OpenAI and Anthropic batch prices are half the list price
DONE = ("completed", "failed", "expired", "cancelled")


class BatchBackend:
    """The OpenAI Batch API (``/v1/files``, ``/v1/batches``); :class:`AnthropicBatchBackend` swaps in
    Anthropic's Message Batches and keeps the rest (gathering, logs, resume, answers)."""

    structured_active: bool
    kind = "openai-batch"

    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        api_base: str | None = None,
        poll_s: float = 30.0,
        gather_s: float = 0.25,
    ):
        self.openai = require("openai", "litellm", "the Batch API")
        self.model = model
        self.settings = settings
        self.api_base = api_base
        self.poll_s = poll_s
        self.gather_s = gather_s
        self.structured_active = settings.structured != "off"
        prices = None if api_base else self._list_prices(model)
        self.prices = None if prices is None else (prices[0] * BATCH_DISCOUNT, prices[1] * BATCH_DISCOUNT)
        self.folder: Path | None = None
        self.answers: dict[
            str, dict[str, Any]
        ] = {}  # custom_id -> {"status": int, "body": ...} or {"error": ...}
        self.pending: dict[str, tuple[dict[str, Any], list[asyncio.Future]]] = {}
        self.waiting: dict[str, asyncio.Future] = {}  # custom_id -> the future of a batch already submitted
        self.recorded: list[dict[str, Any]] = []  # batches.jsonl, as read at attach
        self.batches: list[dict[str, Any]] = []  # this session's: id, lines, seconds, status
        self._client = None
        self._flusher: asyncio.Task | None = None
        self._last_request = 0.0
        self._resumed = False
        self.used: set[str] = set()  # answers already handed to a game (a second reader pays nothing)
        self.session = os.urandom(6).hex()  # answers collected by this process carry it

    # --- the run folder --------------------------------------------------------------------

    def attach(self, run_dir: Path) -> None:
        """Read what earlier sessions of this run submitted and got back."""
        self.folder = Path(run_dir)
        for row in _rows(self.folder / "batch_results.jsonl"):
            self.answers[row["custom_id"]] = row
        self.recorded = _rows(self.folder / "batches.jsonl")

    def _client_now(self):
        if self._client is None:
            key = os.environ.get("OPENAI_API_KEY") or ("no-key" if self.api_base else None)
            self._client = self.openai.AsyncOpenAI(
                base_url=self.api_base, api_key=key, max_retries=3, timeout=self.settings.timeout_s
            )
        return self._client

    # --- requests --------------------------------------------------------------------------

    def _list_prices(self, model: str) -> tuple[float, float] | None:
        return list_prices(model)

    def _body(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
        return chat_request(self.model, self.settings, messages, schema, seed, self.structured_active)

    def _cid(self, body: dict[str, Any], seed: int) -> str:
        """A request's name: the hash of its body (which carries the seed)."""
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:40]

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int, int]:
        """(text, prompt tokens, completion tokens, cached prompt tokens) of an answered line."""
        usage = body.get("usage") or {}
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        text = body["choices"][0]["message"].get("content") or ""
        return text, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), cached

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        if self.folder is None:
            raise StopRun("--batch needs the run folder (a bug: attach() was not called)")
        if not self._resumed:
            self._resumed = True
            self._resume_pending()
        body = self._body(messages, schema, seed)
        cid = self._cid(body, seed)
        started = time.perf_counter()
        if cid not in self.answers:
            if cid in self.waiting:
                await asyncio.shield(self.waiting[cid])
            else:
                future = asyncio.get_running_loop().create_future()
                if cid in self.pending:  # the same request from two games: one line, one bill (below)
                    self.pending[cid][1].append(future)
                else:
                    self.pending[cid] = (body, [future])
                self._last_request = time.monotonic()
                if self._flusher is None or self._flusher.done():
                    self._flusher = asyncio.get_running_loop().create_task(self._flush_when_quiet())
                await future
        return self._completion(cid, time.perf_counter() - started)

    def _completion(self, cid: str, waited: float) -> Completion:
        """The answer to CID. Cell seeds do not depend on the opponent (the paired design), so a seat's
        first turns against different panel members are the same request: it is sent once, the first
        game to read the answer is billed for it, and the others record it as replayed (``cached``,
        cost 0), as are answers read back from ``batch_results.jsonl`` on a resume."""
        answer = self.answers[cid]
        replayed = cid in self.used or answer.get("session") != self.session
        self.used.add(cid)
        if answer.get("error") or answer.get("status") != 200:
            error = answer.get("error") or (answer.get("body") or {}).get("error") or answer.get("body")
            detail = error.get("message") if isinstance(error, dict) else str(error)
            raise RequestRefused(answer.get("status"), f"batch line {cid[:12]}: {detail}"[:300])
        text, tokens_in, tokens_out, cached = self._read(answer["body"])
        cost = None if self.prices is None else tokens_in * self.prices[0] + tokens_out * self.prices[1]
        return Completion(
            text=text,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_s=waited,
            cost_usd=0.0 if replayed else cost,
            cached=replayed,
            cached_tokens=0 if replayed else cached,
        )

    # --- batches ---------------------------------------------------------------------------

    async def _flush_when_quiet(self) -> None:
        while self.pending:
            quiet = time.monotonic() - self._last_request
            if quiet < self.gather_s:
                await asyncio.sleep(self.gather_s - quiet)
                continue
            lines, self.pending = self.pending, {}
            asyncio.get_running_loop().create_task(self._submit(lines))

    async def _submit(self, lines: dict[str, tuple[dict[str, Any], list[asyncio.Future]]]) -> None:
        futures = [f for _, fs in lines.values() for f in fs]
        try:
            batch_id, extra = await self._send({cid: body for cid, (body, _) in lines.items()})
            append_line_durably(
                self.folder / "batches.jsonl",
                json.dumps({"batch_id": batch_id, **extra, "custom_ids": list(lines)}),
            )
            for cid in lines:
                self.waiting[cid] = asyncio.get_running_loop().create_future()
            await self._collect(batch_id, list(lines))
        except Exception as exc:  # noqa: BLE001 - every game waiting on this batch gets the failure
            for f in futures:
                if not f.done():
                    f.set_exception(
                        exc if isinstance(exc, StopRun) else StopRun(f"--batch: {type(exc).__name__}: {exc}")
                    )
            return
        for f in futures:
            if not f.done():
                f.set_result(None)

    async def _send(self, bodies: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        """Upload the requests as a JSONL file and create the batch: (batch id, what else to log)."""
        client = self._client_now()
        text = "".join(
            json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body})
            + "\n"
            for cid, body in bodies.items()
        )
        uploaded = await client.files.create(file=("arena-bench-batch.jsonl", text.encode()), purpose="batch")
        batch = await client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        return batch.id, {"input_file_id": uploaded.id}

    async def _fetch(self, batch_id: str) -> tuple[str, list[dict[str, Any]]]:
        """Poll BATCH_ID until it is done: (its final status, its lines as custom_id, status, body, error)."""
        client = self._client_now()
        while True:
            batch = await client.batches.retrieve(batch_id)
            if batch.status in DONE:
                break
            await asyncio.sleep(self.poll_s)
        rows = []
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await client.files.content(file_id)
            for line in content.text.splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                response = row.get("response") or {}
                rows.append({"custom_id": row["custom_id"], "status": response.get("status_code"),
                             "body": response.get("body"), "error": row.get("error")})  # fmt: skip
        return batch.status, rows

    async def _collect(self, batch_id: str, cids: list[str]) -> None:
        """Wait for BATCH_ID, then store and hand out its answers."""
        started = time.perf_counter()
        status, rows = await self._fetch(batch_id)
        got: dict[str, dict[str, Any]] = {
            row["custom_id"]: {**row, "session": self.session, "batch_id": batch_id, "batch_lines": len(cids)}
            for row in rows
        }
        if got:
            append_line_durably(
                self.folder / "batch_results.jsonl", "\n".join(json.dumps(r) for r in got.values())
            )
        self.answers.update(got)
        self.batches.append(
            {
                "id": batch_id,
                "lines": len(cids),
                "status": status,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
        missing = [c for c in cids if c not in self.answers]
        error = StopRun(
            f"batch {batch_id} ended {status} with {len(missing)} of {len(cids)} requests unanswered; "
            "the answers that came back are kept in batch_results.jsonl, and --resume submits the rest again"
        )
        for cid in cids:
            future = self.waiting.pop(cid, None)
            if future is not None and not future.done():
                if cid in self.answers:
                    future.set_result(None)
                else:
                    future.set_exception(error)
        if missing:
            raise error

    def _resume_pending(self) -> None:
        """Batches an earlier session submitted but never collected: wait on them, do not resubmit."""
        loop = asyncio.get_running_loop()
        collected = {row.get("batch_id") for row in self.answers.values()}
        for row in self.recorded:
            cids = [c for c in row.get("custom_ids", []) if c not in self.answers]
            if not cids or row["batch_id"] in collected:
                continue
            for cid in cids:
                self.waiting[cid] = loop.create_future()
            task = loop.create_task(self._collect(row["batch_id"], cids))
            task.add_done_callback(lambda t: t.exception())  # its futures carry any failure

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "openai_version": self.openai.__version__,
            "api_base": self.api_base,
            "poll_s": self.poll_s,
            "batches": self.batches,
            "batch_discount": BATCH_DISCOUNT,
            "priced": self.prices is not None,
        }

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def close(self) -> None:
        self._client = None


def _rows(path: Path) -> list[dict[str, Any]]:
    """A JSONL log's rows; a torn last line (the process killed mid-append) is left out."""
    if not path.exists():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if n != len(lines) - 1:
                raise StopRun(
                    f"{path}:{n + 1}: not valid JSON; it is not the last line, so not a torn write: "
                    "the file was edited. Restore it or delete the run folder"
                ) from None
    return rows
