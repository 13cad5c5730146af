"""The lean path for OpenAI and every OpenAI-compatible server (vLLM, SGLang, llama.cpp, LM Studio,
Ollama's /v1): ``/v1/chat/completions`` through the official ``openai`` async client over one
``httpx`` connection pool, with the shared retries, backoff, timeouts and fail-fast of
``calls.CallGuard``. litellm costs about 19 ms of client CPU a call; this path is for the
many-connection runs where that is the limit. Prices come from litellm's bundled map when litellm
is installed (a table lookup, no call); otherwise the cost is unknown, never zero.

``--structured auto`` asks a server for the JSON-schema ``response_format`` and falls back to
plain text, recorded, when the server refuses it (HTTP 400 that names the response format).
"""

from __future__ import annotations

import os
from typing import Any

from .base import Completion, GenerationSettings, require
from .calls import CallGuard


def classify(exc: Exception) -> tuple[bool, bool]:
    """(retryable, unreachable) for an ``openai`` exception."""
    import openai

    status = getattr(exc, "status_code", None)
    if _refused(exc):  # the aiohttp pool reports a refused connection as a timeout: look at the cause
        return True, True
    if isinstance(exc, openai.APITimeoutError):
        return True, False
    if isinstance(exc, openai.APIConnectionError):  # refused, reset, DNS: maybe transient, maybe dead
        return True, True
    if isinstance(status, int):
        return (status == 429 or status >= 500), status in (401, 403, 404)
    return False, False


def _refused(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, ConnectionRefusedError) or type(exc).__name__ in (
            "ClientConnectorError",
            "ConnectError",
        ):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def list_prices(model: str) -> tuple[float, float] | None:
    """(input, output) USD per token from litellm's bundled price map, if litellm is here."""
    try:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm
    except ImportError:
        return None
    entry = litellm.model_cost.get(model) or litellm.model_cost.get(model.split("/", 1)[-1])
    if not entry or entry.get("input_cost_per_token") is None:
        return None
    return float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token") or 0.0)


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        api_base: str | None = None,
        max_connections: int = 16,
        max_retries: int = 6,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
        label: str | None = None,
    ):
        self.openai = require("openai", "litellm", "OpenAI-compatible servers")
        self.model = model  # as the server knows it: the spec without its provider
        self.settings = settings
        self.api_base = api_base
        where = f" at {api_base}" if api_base else ""
        self.guard = CallGuard(
            f"{label or model}{where}", classify, max_connections, max_retries, retry_base_s, retry_max_s
        )
        self.structured_active = settings.structured != "off"
        self.structured_fallback: str | None = None
        self.prices = None if api_base else list_prices(model)
        self._client = None
        self.cached_tokens = 0

    def _client_now(self):
        """One client (one connection pool) per run, made inside the run's event loop."""
        if self._client is None:
            import httpx

            n = self.guard.max_connections
            limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
            try:  # aiohttp's pool (httpx API): httpx's own pool costs CPU that grows with its size
                from httpx_aiohttp import HttpxAiohttpClient as pool
            except ImportError:
                pool = httpx.AsyncClient
            http = pool(limits=limits, timeout=self.settings.timeout_s)
            key = (
                self.settings.extra.get("api_key")
                or os.environ.get("OPENAI_API_KEY")
                or ("no-key" if self.api_base else None)
            )  # local servers ignore it; the client insists on one
            self._client = self.openai.AsyncOpenAI(
                base_url=self.api_base,
                api_key=key,
                max_retries=0,
                timeout=self.settings.timeout_s,
                http_client=http,
            )
        return self._client

    def _request(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "seed": seed,
        }
        if self.structured_active:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "negotiation_turn", "schema": schema, "strict": True},
            }
        extra = {k: v for k, v in self.settings.extra.items() if k != "api_key"}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        client = self._client_now()
        try:
            response, latency = await self.guard.call(
                lambda: client.chat.completions.create(**self._request(messages, schema, seed))
            )
        except self.openai.BadRequestError as exc:
            if not (
                self.structured_active
                and self.settings.structured == "auto"
                and "response_format" in str(exc)
            ):
                raise
            self.structured_active = False  # the server refuses the schema: plain text from now on, recorded
            self.structured_fallback = f"{type(exc).__name__}: {str(exc)[:200]}"
            response, latency = await self.guard.call(
                lambda: client.chat.completions.create(**self._request(messages, schema, seed))
            )
        choice = response.choices[0]
        usage = response.usage
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        self.cached_tokens += cached
        cost = None
        if self.prices is not None:
            cost = tokens_in * self.prices[0] + tokens_out * self.prices[1]
        return Completion(
            text=choice.message.content or "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_s=latency,
            cost_usd=cost,
            cached_tokens=cached,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "openai-compatible",
            "openai_version": self.openai.__version__,
            "api_base": self.api_base,
            "max_connections": self.guard.max_connections,
            "max_retries": self.guard.max_retries,
            "retries_used": self.guard.retries,
            "structured_fallback": self.structured_fallback,
            "cached_prompt_tokens": self.cached_tokens,
            "priced": self.prices is not None,
        }

    def close(self) -> None:
        self._client = None  # its sockets belong to the run's finished event loop; dropping them closes them
