"""Model-backed players: factories named in :data:`arena_bench.playing.players.PROVIDERS`. Each
backend imports its heavy packages only when used."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .base import GenerationSettings, LLMPlayer, MissingExtra, ResponseCache

GENERATION_KEYS = ("temperature", "max_tokens", "seed", "structured", "timeout_s")
# Backend options that change speed, not games: kept out of a run's identity.
RUNTIME_KEYS = (
    "threads",
    "max_batch",
    "device",
    "max_retries",
    "retry_base_s",
    "max_connections",
    "use_cache",
    "backend",
    "budget_usd",
    "batch",
    "batch_poll_s",
)
# Every backend option; api_base, router and dtype change what a model answers, so they stay in
# the identity.
BACKEND_KEYS = RUNTIME_KEYS + ("api_base", "dtype", "router")


def split_options(options: dict[str, Any]) -> tuple[GenerationSettings, dict[str, Any]]:
    """Generation settings (recorded, part of a run's identity) and backend options."""
    gen: dict[str, Any] = {}
    backend: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for k, v in options.items():
        if k in GENERATION_KEYS:
            gen[k] = v
        elif k in BACKEND_KEYS:
            backend[k] = v
        else:
            extra[k] = v
    settings = GenerationSettings(
        temperature=float(gen.get("temperature", 0.0)),
        max_tokens=int(gen.get("max_tokens", 300)),
        seed=int(gen.get("seed", 0)),
        structured=str(gen.get("structured", "auto")),
        timeout_s=float(gen.get("timeout_s", 60.0)),
        extra=extra,
    )
    if settings.structured not in ("auto", "on", "off"):
        raise ConfigError(f"structured={settings.structured!r}: use auto, on or off")
    return settings, backend


def _cache(backend: dict[str, Any]) -> ResponseCache | None:
    folder = backend.get("use_cache")
    return ResponseCache(folder) if folder else None


def litellm_player(provider: str, name: str, options: dict[str, Any]) -> LLMPlayer:
    from .litellm_backend import LiteLLMBackend

    settings, backend = split_options(options)
    if str(backend.get("batch", "")).lower() in ("1", "true", "yes", "on"):
        if provider != "anthropic":
            raise ConfigError(
                f"--batch: batches are reached through openai/ and anthropic/ models, not {provider}/"
            )
        if isinstance(backend.get("api_base"), list):
            raise ConfigError("--batch takes one --api-base: a batch goes to one server")
        from .anthropic_batch import AnthropicBatchBackend

        batch = AnthropicBatchBackend(
            name, settings, api_base=backend.get("api_base"), poll_s=float(backend.get("batch_poll_s", 30.0))
        )
        return LLMPlayer(f"{provider}/{name}", batch, settings, _cache(backend))
    b = LiteLLMBackend(
        f"{provider}/{name}",
        settings,
        api_base=backend.get("api_base"),
        max_connections=int(backend.get("max_connections", 16)),
        max_retries=int(backend.get("max_retries", 6)),
        retry_base_s=float(backend.get("retry_base_s", 1.0)),
        router_file=backend.get("router"),
    )
    return LLMPlayer(f"{provider}/{name}", b, settings, _cache(backend))


def openai_compatible_player(provider: str, name: str, options: dict[str, Any]) -> LLMPlayer:
    """OpenAI and OpenAI-compatible servers through the lean client (``backend=litellm`` in
    ``--model-args`` keeps them on litellm)."""
    settings, backend = split_options(options)
    choice = str(backend.get("backend", "openai"))
    if choice == "litellm" or "router" in backend:  # a Router config is litellm's
        return litellm_player(provider, name, options)
    if choice != "openai":
        raise ConfigError(f"--model-args backend={choice!r}: use openai (the lean client) or litellm")
    if str(backend.get("batch", "")).lower() in ("1", "true", "yes", "on"):
        from .batch_backend import BatchBackend

        if isinstance(backend.get("api_base"), list):
            raise ConfigError("--batch takes one --api-base: a batch goes to one server")
        batch = BatchBackend(
            name,
            settings,
            api_base=backend.get("api_base"),
            poll_s=float(backend.get("batch_poll_s", 30.0)),
        )
        return LLMPlayer(f"{provider}/{name}", batch, settings, _cache(backend))
    from .openai_backend import OpenAIBackend

    b = OpenAIBackend(
        name,
        settings,
        api_base=backend.get("api_base"),
        max_connections=int(backend.get("max_connections", 16)),
        max_retries=int(backend.get("max_retries", 6)),
        retry_base_s=float(backend.get("retry_base_s", 1.0)),
        label=f"{provider}/{name}",
    )
    return LLMPlayer(f"{provider}/{name}", b, settings, _cache(backend))


def hf_player(provider: str, name: str, options: dict[str, Any]) -> LLMPlayer:
    from .hf_backend import HFBackend

    settings, backend = split_options(options)
    b = HFBackend(
        name,
        settings,
        device=str(backend.get("device", "cpu")),
        threads=int(backend["threads"]) if "threads" in backend else None,
        max_batch=int(backend.get("max_batch", 16)),
        dtype=str(backend.get("dtype", "float32")),
    )
    return LLMPlayer(f"hf/{name}", b, settings, _cache(backend))


def vllm_player(provider: str, name: str, options: dict[str, Any]) -> LLMPlayer:
    from .vllm_backend import VLLMBackend

    settings, backend = split_options(options)
    engine_args = dict(settings.extra)
    if "dtype" in backend:  # shared with hf/, so it arrives as a backend option
        engine_args["dtype"] = backend["dtype"]
    b = VLLMBackend(
        name, settings, max_batch=int(backend.get("max_batch", 64)), extra_engine_args=engine_args
    )
    return LLMPlayer(f"vllm/{name}", b, settings, _cache(backend))


__all__ = ["GenerationSettings", "LLMPlayer", "MissingExtra", "ResponseCache"]
