"""Every provider litellm knows (``openai/...``, ``anthropic/...``, ``hosted_vllm/...``,
``ollama/...``): async calls, bounded connections, retries with backoff, tokens and cost.

litellm is imported lazily and told to use its bundled cost map, so importing it never
touches the network.

``--model-args router=FILE`` spreads the calls over the deployments of a litellm Router config
(JSON, or YAML with PyYAML: ``model_list`` as in litellm's proxy config, optional
``router_settings``). The Router sets a failing deployment aside (its cooldown) and the retry
goes to another, so one replica dying mid-run loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .base import Completion, GenerationSettings, RequestRefused, require
from .calls import CallGuard

REFUSED = ("BadRequestError", "ContextWindowExceededError", "UnprocessableEntityError")

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
        router_file: str | None = None,
    ):
        self.litellm = import_litellm()
        self.model = model
        self.settings = settings
        self.api_base = api_base
        self.router = None
        self.router_file = router_file
        self.router_hash: str | None = None
        if router_file:
            self.router, self.model, self.router_hash = load_router(self.litellm, router_file, model)
        elif isinstance(api_base, list):  # several replicas of one model: a Router over them
            data = {
                "model_list": [
                    {
                        "model_name": model,
                        "litellm_params": {"model": model, "api_base": b, "api_key": "no-key"},
                    }
                    for b in api_base
                ]
            }
            self.router, self.model = make_router(self.litellm, data, "--api-base"), model
        where = f" at {api_base}" if api_base else (f" via router {router_file}" if router_file else "")
        self.guard = CallGuard(
            f"{model}{where}", classify, max_connections, max_retries, retry_base_s, retry_max_s
        )
        self.structured_active = self._structured()
        from .openai_backend import list_prices

        # a server of your own has no list price (litellm would say 0.0 for a name it does not know)
        self.priced = self.router is not None or (not api_base and list_prices(model) is not None)

    def _structured(self) -> bool:
        mode = self.settings.structured
        if mode in ("on", "off"):
            return mode == "on"
        if self.router is not None:
            return False
        try:
            return bool(self.litellm.supports_response_schema(model=self.model))
        except Exception:  # unknown model names (a custom server): ask for plain text
            return False

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": cache_marked(self.model, messages),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
            "seed": seed,
            "timeout": self.settings.timeout_s,
            "num_retries": 0,  # retries happen here, with our own backoff and accounting
        }
        if self.api_base and self.router is None:
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
        if self.router is not None:
            kwargs.pop("num_retries")  # the Router's own setting (0 unless the file says)
            call = lambda: self.router.acompletion(**kwargs)  # noqa: E731
        else:
            call = lambda: self.litellm.acompletion(**kwargs)  # noqa: E731
        try:
            response, latency = await self.guard.call(call)
        except Exception as exc:
            if type(exc).__name__ in REFUSED or getattr(exc, "status_code", None) in (400, 413, 422):
                raise RequestRefused(getattr(exc, "status_code", None), str(exc)[:300]) from None
            raise
        choice = response.choices[0]
        text = choice.message.content or ""
        usage = getattr(response, "usage", None)
        cost = None
        if self.priced:
            try:
                cost = float(self.litellm.completion_cost(completion_response=response))
            except Exception:  # models without a price in litellm's map: cost unknown, not zero
                cost = None
        details = getattr(usage, "prompt_tokens_details", None)
        return Completion(
            text=text,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_s=latency,
            cost_usd=cost,
            cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "litellm",
            "litellm_version": getattr(self.litellm, "__version__", None) or _version("litellm"),
            "api_base": self.api_base,
            "router": None if self.router is None else {"file": self.router_file, "sha256": self.router_hash},
            "max_connections": self.guard.max_connections,
            "max_retries": self.guard.max_retries,
            "retries_used": self.guard.retries,
        }

    def close(self) -> None:
        pass


def cache_marked(model: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Anthropic caches a prompt prefix only where asked: mark the system prompt (rules, brief and
    points table, the same for every turn of a game side) with ``cache_control``. OpenAI and most
    servers cache stable prefixes by themselves, so other messages go as they are."""
    if not model.startswith(("anthropic/", "bedrock/anthropic", "vertex_ai/claude")):
        return messages
    out = []
    for m in messages:
        if m["role"] == "system" and isinstance(m["content"], str):
            m = {
                "role": "system",
                "content": [{"type": "text", "text": m["content"], "cache_control": {"type": "ephemeral"}}],
            }
        out.append(m)
    return out


def load_router(litellm, path: str, model: str):
    """(Router, the model group to call, the file's sha256) from a Router config file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--model-args router={path}: no such file")
    text = p.read_text()
    try:
        if p.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - JSON and YAML raise different errors; both are the file's fault
        raise ConfigError(f"{path}: not a valid {p.suffix.lstrip('.') or 'JSON'} file ({exc})") from None
    models = data.get("model_list") if isinstance(data, dict) else None
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{path}: needs a non-empty 'model_list' (litellm's Router config format)")
    groups = list(dict.fromkeys(e.get("model_name") for e in models if isinstance(e, dict)))
    name = model.split("/", 1)[-1]
    group = (
        model if model in groups else name if name in groups else (groups[0] if len(groups) == 1 else None)
    )
    if group is None:
        raise ConfigError(f"{path}: no model_name matches {model!r}; it has {', '.join(map(str, groups))}")
    return make_router(litellm, data, path), group, hashlib.sha256(text.encode()).hexdigest()


def make_router(litellm, data: dict[str, Any], where: str):
    """A litellm Router from a config's data; WHERE names the file or option in errors."""
    models = data["model_list"]
    for i, entry in enumerate(models):
        if not (
            isinstance(entry, dict)
            and entry.get("model_name")
            and isinstance(entry.get("litellm_params"), dict)
        ):
            raise ConfigError(f"{where}: model_list[{i}] needs 'model_name' and 'litellm_params'")
        if not entry["litellm_params"].get("model"):
            raise ConfigError(f"{where}: model_list[{i}].litellm_params needs 'model'")
    settings = dict(data.get("router_settings") or {})
    settings.setdefault("num_retries", 0)  # retries are ours (CallGuard): one backoff, one count
    settings.setdefault("allowed_fails", 1)
    settings.setdefault("cooldown_time", 5)
    try:
        return litellm.Router(model_list=models, **settings)
    except Exception as exc:  # noqa: BLE001 - litellm validates the settings its own way
        raise ConfigError(f"{where}: litellm's Router refused it ({type(exc).__name__}: {exc})") from None


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
