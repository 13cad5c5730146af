"""The lean path for OpenAI and every OpenAI-compatible server (vLLM, SGLang, llama.cpp, LM Studio,
Ollama's /v1): ``/v1/chat/completions`` through the official ``openai`` async client over one
``httpx`` connection pool, with the shared retries, backoff, timeouts and fail-fast of
``calls.CallGuard``. litellm costs about 19 ms of client CPU a call; this path is for the
many-connection runs where that is the limit. Prices come from litellm's bundled map when litellm
is installed (a table lookup, no call); otherwise the cost is unknown, never zero.

``--structured auto`` asks a server for the JSON-schema ``response_format`` and falls back to
plain text, recorded, when the server refuses it (HTTP 400 that names the response format).

Several ``--api-base`` servers (replicas of one model) share the calls: each call goes to the
healthy server with the fewest calls in flight. A server that stops answering (refused or reset
connections) is set aside for a growing while, and its calls are retried at once on the others,
so a run survives a replica dying mid-run with nothing lost. A request a server refuses outright
(HTTP 400/413/422: a prompt past its context window) raises :class:`RequestRefused`, which the
game counts as a forfeited turn.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from .base import Completion, GenerationSettings, RequestRefused, require
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


REFUSED_STATUS = (400, 413, 422)  # the request itself is at fault: no retry, no other server can help


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


def chat_request(
    model: str,
    settings: GenerationSettings,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    seed: int,
    structured: bool,
) -> dict[str, Any]:
    """The body of one ``/v1/chat/completions`` request: generation settings, the JSON schema as
    ``response_format`` when structured, and ``--model-args`` extras (the API key aside)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
        "seed": seed,
    }
    if structured:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "negotiation_turn", "schema": schema, "strict": True},
        }
    body.update({k: v for k, v in settings.extra.items() if k != "api_key"})
    return body


class Deployment:
    """One server of a model: its own client (connection pool) and health."""

    def __init__(self, base: str | None):
        self.base = base
        self.client = None
        self.in_flight = 0
        self.calls = 0
        self.failures = 0  # consecutive connection failures
        self.down_until = 0.0
        self.set_aside = 0  # times it was set aside

    def describe(self) -> dict[str, Any]:
        return {"api_base": self.base, "calls": self.calls, "set_aside": self.set_aside}


def context_window(api_base: str, model: str, timeout_s: float = 10.0) -> int | None:
    """The context length a server reports for MODEL in ``/v1/models`` (vLLM: ``max_model_len``;
    llama.cpp and others name it differently or not at all), or None."""
    import httpx

    try:
        data = httpx.get(api_base.rstrip("/") + "/models", timeout=timeout_s).json()
    except Exception:  # noqa: BLE001 - a server without /models: nothing to check against
        return None
    for entry in data.get("data", []) if isinstance(data, dict) else []:
        if isinstance(entry, dict) and entry.get("id") == model:
            for key in ("max_model_len", "context_length", "context_window", "n_ctx"):
                if isinstance(entry.get(key), int):
                    return int(entry[key])
    return None


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        api_base: str | list[str] | None = None,
        max_connections: int = 16,
        max_retries: int = 6,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
        label: str | None = None,
    ):
        self.openai = require("openai", "litellm", "OpenAI-compatible servers")
        import httpx

        self._httpx = httpx
        self.model = model  # as the server knows it: the spec without its provider
        self.settings = settings
        bases = [api_base] if isinstance(api_base, str) or api_base is None else list(api_base)
        self.api_base = api_base
        self.deployments = [Deployment(b) for b in bases]
        where = f" at {', '.join(b for b in bases if b)}" if any(bases) else ""
        self.guard = CallGuard(
            f"{label or model}{where}",
            self._classify,
            max_connections,
            max_retries,
            retry_base_s,
            retry_max_s,
            failover=self._failover if len(self.deployments) > 1 else None,
        )
        self.structured_active = settings.structured != "off"
        self.structured_fallback: str | None = None
        self.prices = None if any(bases) else list_prices(model)
        self.cached_tokens = 0
        self.refused = 0
        self.windows: dict[str, int | None] = {}  # context length per server, when read

    # --- servers ---------------------------------------------------------------------------

    def _pick(self) -> Deployment:
        now = time.monotonic()
        healthy = [d for d in self.deployments if d.down_until <= now] or self.deployments
        return min(healthy, key=lambda d: (d.in_flight, d.calls))

    def _classify(self, exc: Exception) -> tuple[bool, bool]:
        retryable, unreachable = classify(exc)
        if unreachable and len(self.deployments) > 1:  # unreachable only when every server is
            unreachable = all(d.failures > 0 for d in self.deployments)
        return retryable, unreachable

    def _failover(self, exc: Exception) -> bool:
        now = time.monotonic()
        return classify(exc)[1] and any(d.down_until <= now for d in self.deployments)

    def _client_for(self, d: Deployment):
        """One client (one connection pool) per server per run, made inside the run's event loop."""
        if d.client is None:
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
                or ("no-key" if d.base else None)
            )  # local servers ignore it; the client insists on one
            d.client = self.openai.AsyncOpenAI(
                base_url=d.base,
                api_key=key,
                max_retries=0,
                timeout=self.settings.timeout_s,
                http_client=http,
            )
        return d.client

    async def _create(self, kwargs: dict[str, Any]):
        d = self._pick()
        client = self._client_for(d)
        d.in_flight += 1
        try:
            # The body goes as it is and the reply comes back as bytes: the SDK's typed path
            # (``chat.completions.create``) re-validates every request against its TypedDicts and
            # builds pydantic objects for every reply, a third of the client's CPU per call at 256
            # connections. Its transport, status errors and timeouts are the same on this path.
            raw = await client.post("/chat/completions", body=kwargs, cast_to=self._httpx.Response)
            response = json.loads(raw.content)
        except Exception as exc:
            if classify(exc)[1]:  # this server is gone or refusing connections: set it aside a while
                d.failures += 1
                d.set_aside += 1
                d.down_until = time.monotonic() + min(30.0, 0.5 * 2 ** min(d.failures, 6))
            raise
        finally:
            d.in_flight -= 1
        d.failures = 0
        d.calls += 1
        return response

    # --- calls -----------------------------------------------------------------------------

    def _request(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> dict[str, Any]:
        return chat_request(self.model, self.settings, messages, schema, seed, self.structured_active)

    async def _call(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int):
        try:
            return await self.guard.call(lambda: self._create(self._request(messages, schema, seed)))
        except self.openai.APIStatusError as exc:
            if exc.status_code not in REFUSED_STATUS:
                raise
            if (
                self.structured_active
                and self.settings.structured == "auto"
                and "response_format" in str(exc)
            ):
                self.structured_active = (
                    False  # the server refuses the schema: plain text from now on, recorded
                )
                self.structured_fallback = f"{type(exc).__name__}: {str(exc)[:200]}"
                return await self._call(messages, schema, seed)
            self.refused += 1
            raise RequestRefused(exc.status_code, _detail(exc)) from None

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        response, latency = await self._call(messages, schema, seed)
        try:
            content = response["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ValueError(f"the server's reply has no choices[0].message: {str(response)[:300]}") from None
        usage = response.get("usage") or {}
        tokens_in = int(usage.get("prompt_tokens") or 0)
        tokens_out = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
        self.cached_tokens += cached
        cost = None
        if self.prices is not None:
            cost = tokens_in * self.prices[0] + tokens_out * self.prices[1]
        return Completion(
            text=content or "",
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            latency_s=latency,
            cost_usd=cost,
            cached_tokens=cached,
        )

    def context_windows(self) -> dict[str, int | None]:
        """Each server's reported context length for this model (a blocking GET per server)."""
        self.windows = {d.base: context_window(d.base, self.model) for d in self.deployments if d.base}
        return self.windows

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "openai-compatible",
            "openai_version": self.openai.__version__,
            "api_base": self.api_base,
            "max_connections": self.guard.max_connections,
            "max_retries": self.guard.max_retries,
            "retries_used": self.guard.retries,
            "refused_requests": self.refused,
            "context_windows": self.windows or None,
            "structured_fallback": self.structured_fallback,
            "cached_prompt_tokens": self.cached_tokens,
            "priced": self.prices is not None,
        }
        if len(self.deployments) > 1:
            out["servers"] = [d.describe() for d in self.deployments]
        return out

    async def aclose(self) -> None:
        for d in self.deployments:
            if d.client is not None:
                with contextlib.suppress(Exception):  # a pool that will not close cleanly is dropped anyway
                    await d.client.close()
                d.client = None

    def close(self) -> None:
        for d in self.deployments:  # their sockets belong to the run's finished event loop
            d.client = None


def _detail(exc: Exception) -> str:
    """The server's own words: openai keeps the error object of the JSON body in ``exc.body``."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body["error"] if isinstance(body.get("error"), dict) else body
        if err.get("message"):
            return str(err["message"])[:300]
    return str(exc)[:300]
