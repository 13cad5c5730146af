"""``--batch`` for ``anthropic/...`` models: Anthropic's Message Batches API, turn-synchronously.

Everything but the transport is :class:`~arena_bench.models.batch_backend.BatchBackend`'s: every open
game's turn goes into one batch, batch ids go to ``batches.jsonl`` when submitted and answers to
``batch_results.jsonl`` when they come back, and a killed run resumes on its pending batch.

The transport (``httpx``, one client; the API as documented at docs.anthropic.com, version
``2023-06-01``):

- ``POST /v1/messages/batches`` with ``{"requests": [{"custom_id", "params"}]}``, ``params`` being a
  Messages API body: the system prompt as one text block with ``cache_control`` (it is the same
  for every turn of a game side, so batched turns read it from the prompt cache), the user and
  assistant turns, ``max_tokens`` and ``temperature``. With constrained decoding on, the reply
  schema is a forced tool (``tool_choice``), whose input is the reply JSON.
- ``GET /v1/messages/batches/{id}`` until ``processing_status`` is ``ended``, then its
  ``results_url``: one JSON line per request, ``succeeded`` with the message, or ``errored``,
  ``canceled`` or ``expired``. An errored line is the turn's counted forfeit; a canceled or
  expired one is left unanswered, and the run stops resumable, as for OpenAI.

Anthropic has no sampling seed: the call's seed is part of the request's name only, so two games
asking the same thing with the same seed share one line, as with OpenAI.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from typing import Any

from .base import require
from .batch_backend import BatchBackend
from .openai_backend import list_prices

API_VERSION = "2023-06-01"
DEFAULT_BASE = "https://api.anthropic.com"


class AnthropicBatchBackend(BatchBackend):
    kind = "anthropic-batch"

    def _list_prices(self, model: str) -> tuple[float, float] | None:
        return list_prices(f"anthropic/{model}")

    def _client_now(self):
        if self._client is None:
            key = os.environ.get("ANTHROPIC_API_KEY") or ("no-key" if self.api_base else None)
            if key is None:
                from ..errors import StopRun

                raise StopRun("anthropic/ --batch needs ANTHROPIC_API_KEY in the environment")
            base = (self.api_base or DEFAULT_BASE).rstrip("/")
            if base.endswith("/v1"):
                base = base[: -len("/v1")]
            httpx = require("httpx", "litellm", "Anthropic's Message Batches")
            self._client = httpx.AsyncClient(
                base_url=base,
                headers={
                    "x-api-key": key,
                    "anthropic-version": API_VERSION,
                    "content-type": "application/json",
                },
                timeout=self.settings.timeout_s,
            )
        return self._client

    def _body(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.settings.max_tokens,
            "temperature": self.settings.temperature,
            "messages": [
                {"role": m["role"], "content": m["content"]} for m in messages if m["role"] != "system"
            ],
        }
        if system:
            body["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        if self.structured_active:
            body["tools"] = [
                {"name": "reply", "description": "Your reply for this turn.", "input_schema": schema}
            ]
            body["tool_choice"] = {"type": "tool", "name": "reply"}
        return body

    def _cid(self, body: dict[str, Any], seed: int) -> str:
        blob = json.dumps([body, seed], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def _read(self, body: dict[str, Any]) -> tuple[str, int, int, int]:
        blocks = body.get("content") or []
        tool = next((b for b in blocks if b.get("type") == "tool_use"), None)
        if tool is not None:  # the forced reply tool: its input is the reply
            text = json.dumps(tool.get("input"))
        else:
            text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        usage = body.get("usage") or {}
        cached = int(usage.get("cache_read_input_tokens") or 0)
        tokens_in = (
            int(usage.get("input_tokens") or 0) + cached + int(usage.get("cache_creation_input_tokens") or 0)
        )
        return text, tokens_in, int(usage.get("output_tokens") or 0), cached

    async def _send(self, bodies: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        client = self._client_now()
        requests = [{"custom_id": cid, "params": body} for cid, body in bodies.items()]
        r = await client.post("/v1/messages/batches", json={"requests": requests})
        if r.status_code >= 400:
            raise RuntimeError(f"creating the message batch: HTTP {r.status_code}: {r.text[:300]}")
        return r.json()["id"], {}

    async def _fetch(self, batch_id: str) -> tuple[str, list[dict[str, Any]]]:
        client = self._client_now()
        while True:
            r = await client.get(f"/v1/messages/batches/{batch_id}")
            if r.status_code >= 400:
                raise RuntimeError(f"polling message batch {batch_id}: HTTP {r.status_code}: {r.text[:300]}")
            batch = r.json()
            if batch.get("processing_status") == "ended":
                break
            await asyncio.sleep(self.poll_s)
        got = await client.get(batch["results_url"])
        if got.status_code >= 400:
            raise RuntimeError(
                f"results of message batch {batch_id}: HTTP {got.status_code}: {got.text[:300]}"
            )
        rows = []
        for line in got.text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            result = row.get("result") or {}
            if result.get("type") == "succeeded":
                rows.append(
                    {
                        "custom_id": row["custom_id"],
                        "status": 200,
                        "body": result.get("message"),
                        "error": None,
                    }
                )
            elif result.get("type") == "errored":  # the turn's forfeit, with Anthropic's words
                error = (result.get("error") or {}).get("error") or result.get("error") or {}
                rows.append({"custom_id": row["custom_id"], "status": None, "body": None,
                             "error": {"message": error.get("message") or json.dumps(error)}})  # fmt: skip
            # canceled or expired: unanswered, so the run stops resumable and --resume sends it again
        counts = batch.get("request_counts") or {}
        status = "ended" if not (counts.get("canceled") or counts.get("expired")) else "ended incomplete"
        return status, rows

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "anthropic_version": API_VERSION,
            "api_base": self.api_base or DEFAULT_BASE,
        }

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
