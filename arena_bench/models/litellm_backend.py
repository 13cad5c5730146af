"""Every provider litellm knows (``openai/...``, ``anthropic/...``, ``hosted_vllm/...``,
``ollama/...``): async calls, bounded connections, retries with backoff, tokens and cost.

litellm is imported lazily and told to use its bundled cost map, so importing it never
touches the network.
"""

from __future__ import annotations

import os
from typing import Any

from .base import Completion, GenerationSettings, require
from .calls import CallGuard

RETRYABLE = (
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "Timeout",
    "APIConnectionError",
    "APIError",
)


def import_litellm():
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the cost map at import
    litellm = require("litellm", "litellm", "API models")
    litellm.telemetry = False
    litellm.suppress_debug_info = True
    return litellm


class LiteLLMBackend:
    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        api_base: str | None = None,
        max_connections: int = 16,
        max_retries: int = 6,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
    ):
        self.litellm = import_litellm()
        self.model = model
        self.settings = settings
        self.api_base = api_base
        where = f" at {api_base}" if api_base else ""
        self.guard = CallGuard(
            f"{model}{where}", classify, max_connections, max_retries, retry_base_s, retry_max_s
        )
        self.structured_active = self._structured()

    def _structured(self) -> bool:
        mode = self.settings.structured
        if mode in ("on", "off"):
            return mode == "on"
        try:
            return bool(self.litellm.supports_response_schema(model=self.model))
        except Exception:  # unknown model names (a custom server): ask for plain text
            return False

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "seed": seed,
            "timeout": self.settings.timeout_s,
            "num_retries": 0,  # retries happen here, with our own backoff and accounting
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
            if self.model.split("/")[0] in ("openai", "hosted_vllm") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = "no-key"  # local OpenAI-compatible servers ignore it; the client insists
        if self.structured_active:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "negotiation_turn", "schema": schema, "strict": True},
            }
        kwargs.update({k: v for k, v in self.settings.extra.items() if k not in ("api_key",)})
        if "api_key" in self.settings.extra:
            kwargs["api_key"] = self.settings.extra["api_key"]
        response, latency = await self.guard.call(lambda: self.litellm.acompletion(**kwargs))
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = getattr(response, "usage", None)
        cost = None
        try:
            cost = float(self.litellm.completion_cost(completion_response=response))
        except Exception:  # models without a price in litellm's map: cost unknown, not zero
            cost = None
        return Completion(
            text=text,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency,
            cost_usd=cost,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "litellm",
            "litellm_version": getattr(self.litellm, "__version__", None) or _version("litellm"),
            "api_base": self.api_base,
            "max_connections": self.guard.max_connections,
            "max_retries": self.guard.max_retries,
            "retries_used": self.guard.retries,
        }

    def close(self) -> None:
        pass


def classify(exc: Exception) -> tuple[bool, bool]:
    """(retryable, unreachable) for a litellm exception."""
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    text = str(exc)
    retryable = name in RETRYABLE or (isinstance(status, int) and (status == 429 or status >= 500))
    if "Missing credentials" in text or "AuthenticationError" in name:
        retryable = False  # litellm reports some credential errors as 500s: retrying cannot help
    unreachable = (
        name in ("APIConnectionError", "AuthenticationError", "PermissionDeniedError", "NotFoundError")
        or status in (401, 403, 404)
        or "Missing credentials" in text
        # litellm wraps a refused connection as a 500 whose text says so
        or "Connection error" in text
        or "Connection refused" in text
    )
    return retryable, unreachable


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None
