"""Held-out requests are data: the request row's schema and the maintainers' evaluator config.

A request row (``requests/<name>.json`` in the requests dataset) is checked against
``arena-bench-request/1`` before anything runs. It names a model in one of three forms:

- ``PROVIDER/NAME``: an API model of a provider the maintainers opened in their evaluator config,
  called at the base URL configured there with the key configured there; or a shipped agent
  (``scripted/NAME``, ``policy/NAME`` of a shipped policy);
- ``hf-repo:ORG/NAME@COMMIT``: open weights at a pinned revision, served by the maintainers' own
  engine (never with remote code);
- ``agent:ORG/NAME@COMMIT``: a code agent at a pinned revision, run in the sandbox
  (:mod:`arena_bench.playing.sandbox`).

and model-side settings from an allow-list with types and ranges. Nothing in a request names a
command, a path, an address, a router, a cache or engine arguments. A refusal's reason is one of
this module's fixed sentences, never a file's content or an exception's text.

Everything here is pure: the caller reads the files and passes bytes and dicts.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

REQUEST_FORMAT = "arena-bench-request/1"
EVALUATOR_FORMAT = "arena-bench-evaluator/1"
MAX_REQUEST_BYTES = 16_384
STATUSES = ("PENDING", "RUNNING", "FINISHED", "FAILED")

# The model-side settings a requester may choose: (type, low, high) or the allowed values.
SETTINGS: dict[str, Any] = {
    "temperature": (float, 0.0, 2.0),
    "max_tokens": (int, 1, 4096),  # further capped by the evaluator config
    "seed": (int, 0, 2**31 - 1),
    "structured": ("auto", "on", "off"),
}
# Fields a row may carry besides the model and its settings (the leaderboard template's bookkeeping);
# the evaluator writes the last four back.
FIELDS = {"format", "model", "settings", "status", "submitted_time", "submitter", "description"}
WRITTEN_BACK = {"evaluated_at", "task_set", "reason", "results", "request_id"}

_NAME = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,95}"
_REPO = rf"{_NAME}/{_NAME}"
PROVIDER_MODEL = re.compile(rf"^(?P<provider>[a-z][a-z0-9_-]{{0,31}})/(?P<name>{_NAME}(?:/{_NAME})?)$")
PINNED = re.compile(rf"^(?P<kind>hf-repo|agent):(?P<repo>{_REPO})@(?P<rev>[0-9a-f]{{40}})$")

# The variable each provider's client reads its key from; the evaluator puts the configured key
# there, in the environment of that request's process only.
KEY_VARIABLES = {
    "openai": "OPENAI_API_KEY",
    "hosted_vllm": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "xai": "XAI_API_KEY",
}
SHIPPED_PROVIDERS = ("scripted", "policy")


class RequestRefused(Exception):
    """A request the evaluator will not run; ``reason`` is a fixed sentence safe to publish."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EvaluatorConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Provider:
    name: str
    api_base: str | None  # None: the provider's own default endpoint
    api_key_env: str | None  # the maintainers' variable holding the key (None: no key)
    max_connections: int = 16


@dataclass(frozen=True)
class EvaluatorConfig:
    """The maintainers' file: where calls go, which kinds of request are open, time limits."""

    providers: dict[str, Provider] = field(default_factory=dict)
    shipped_agents: bool = True
    open_weights: dict[str, Any] | None = None  # {"engine": "hf"|"vllm", "model_args": {...}}
    code_agents: dict[str, int] | None = None  # sandbox limits; None: code agents are not evaluated
    request_timeout_s: float = 3600.0
    reply_timeout_s: float = 60.0
    max_tokens: int = 1024

    @classmethod
    def from_dict(cls, d: Any, where: str = "evaluator config") -> EvaluatorConfig:
        def bad(key: str, what: str) -> EvaluatorConfigError:
            return EvaluatorConfigError(f"{where}: {key}: {what}")

        if not isinstance(d, dict):
            raise bad("(top level)", "must be a JSON object")
        if d.get("format") != EVALUATOR_FORMAT:
            raise bad("format", f"must be {EVALUATOR_FORMAT!r}")
        known = {"format", "providers", "shipped_agents", "open_weights", "code_agents"}
        known |= {"request_timeout_s", "reply_timeout_s", "max_tokens"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise bad(unknown[0], f"unknown setting; known: {', '.join(sorted(known))}")
        providers = {}
        for name, p in (d.get("providers") or {}).items():
            if name not in KEY_VARIABLES:
                raise bad(
                    f"providers.{name}",
                    f"not a provider the evaluator can key; one of {', '.join(KEY_VARIABLES)}",
                )
            if not isinstance(p, dict) or set(p) - {"api_base", "api_key_env", "max_connections"}:
                raise bad(f"providers.{name}", "takes api_base, api_key_env and max_connections")
            base = p.get("api_base")
            if base is not None and (not isinstance(base, str) or not re.match(r"^https?://[^\s]+$", base)):
                raise bad(f"providers.{name}.api_base", "an http(s) URL, or null for the provider's own")
            if base is None and name == "hosted_vllm":
                raise bad(f"providers.{name}.api_base", "a self-hosted server needs its URL")
            env = p.get("api_key_env")
            if env is not None and (not isinstance(env, str) or not re.match(r"^[A-Z_][A-Z0-9_]*$", env)):
                raise bad(f"providers.{name}.api_key_env", "the NAME of an environment variable")
            conns = p.get("max_connections", 16)
            if isinstance(conns, bool) or not isinstance(conns, int) or conns < 1:
                raise bad(f"providers.{name}.max_connections", "a positive whole number")
            providers[name] = Provider(name, base, env, conns)
        ow = d.get("open_weights")
        if ow is not None:
            if not isinstance(ow, dict) or ow.get("engine") not in ("hf", "vllm"):
                raise bad("open_weights.engine", "hf or vllm")
            if not isinstance(ow.get("model_args", {}), dict):
                raise bad("open_weights.model_args", "an object")
            if "trust_remote_code" in ow.get("model_args", {}):
                raise bad("open_weights.model_args.trust_remote_code", "open weights never run remote code")
        agents = d.get("code_agents")
        if agents is not None:
            if not isinstance(agents, dict) or set(agents) - {"cpu_s", "memory_mb", "processes", "file_mb"}:
                raise bad("code_agents", "takes cpu_s, memory_mb, processes and file_mb")
            for k, v in agents.items():
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    raise bad(f"code_agents.{k}", "a positive whole number")
        numbers = {}
        for key, default in (("request_timeout_s", 3600.0), ("reply_timeout_s", 60.0), ("max_tokens", 1024)):
            v = d.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise bad(key, "a positive number")
            numbers[key] = v
        return cls(
            providers=providers,
            shipped_agents=bool(d.get("shipped_agents", True)),
            open_weights=ow,
            code_agents=agents,
            request_timeout_s=float(numbers["request_timeout_s"]),
            reply_timeout_s=float(numbers["reply_timeout_s"]),
            max_tokens=int(numbers["max_tokens"]),
        )


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed every check: what to run, and under which id its result is kept."""

    path: str
    request_id: str
    kind: str  # provider, shipped, open-weights, code-agent
    model: str  # as the request names it (and as the board shows it)
    spec: str  # the player spec the harness runs
    settings: dict[str, Any]
    provider: Provider | None = None
    repo: str | None = None
    revision: str | None = None


def request_id(path: str, raw: bytes) -> str:
    """A readable stem and a hash of the exact row: two requests never share an id."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.rsplit("/", 1)[-1].removesuffix(".json"))[:40].strip("_")
    digest = hashlib.sha256(path.encode() + b"\0" + raw).hexdigest()[:12]
    return f"{stem or 'request'}-{digest}"


def _settings(raw: Any, config: EvaluatorConfig) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise RequestRefused("invalid request: 'settings' must be an object")
    out = {}
    for key, value in raw.items():
        if key not in SETTINGS:
            raise RequestRefused(
                f"invalid request: settings may hold only {', '.join(SETTINGS)}; where calls go, engines, "
                "caches and time limits are the maintainers' to set"
            )
        rule = SETTINGS[key]
        if isinstance(rule[0], type):
            kind, lo, hi = rule
            ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
            if kind is int and key == "max_tokens":
                hi = min(hi, config.max_tokens)
            if not ok or not math.isfinite(value) or not lo <= value <= hi:
                raise RequestRefused(
                    f"invalid request: settings.{key} must be a {kind.__name__} from {lo} to {hi}"
                )
            out[key] = kind(value)
        else:
            if value not in rule:
                raise RequestRefused(f"invalid request: settings.{key} must be one of {', '.join(rule)}")
            out[key] = value
    return out


def check_request(path: str, raw: bytes, config: EvaluatorConfig, shipped: dict[str, Any]) -> CheckedRequest:
    """The request as the evaluator will run it, or :class:`RequestRefused` with a fixed reason.

    ``shipped``: ``{"scripted": names, "policy": names}``, the agents that ship with the package.
    """
    rid = request_id(path, raw)
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestRefused(f"invalid request: larger than {MAX_REQUEST_BYTES:,} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RequestRefused("invalid request: not valid JSON") from None
    if not isinstance(data, dict):
        raise RequestRefused("invalid request: must be a JSON object")
    if data.get("format", REQUEST_FORMAT) != REQUEST_FORMAT:
        raise RequestRefused(f"invalid request: 'format' must be {REQUEST_FORMAT!r}")
    unknown = set(data) - FIELDS - WRITTEN_BACK
    if unknown:
        raise RequestRefused(
            f"invalid request: unknown fields (a request holds only {', '.join(sorted(FIELDS))})"
        )
    for key in ("submitted_time", "submitter", "description", "status"):
        if key in data and (not isinstance(data[key], str) or len(data[key]) > 500):
            raise RequestRefused(f"invalid request: '{key}' must be a short string")
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise RequestRefused("invalid request: field 'model' is missing")
    settings = _settings(data.get("settings"), config)
    pinned = PINNED.match(model)
    if pinned:
        repo, rev = pinned["repo"], pinned["rev"]
        if pinned["kind"] == "agent":
            if config.code_agents is None:
                raise RequestRefused("code agents are not evaluated by this evaluator")
            if settings:
                raise RequestRefused("invalid request: a code agent takes no model settings")
            return CheckedRequest(
                path, rid, "code-agent", model, f"agent/{repo}@{rev}", {}, repo=repo, revision=rev
            )
        if config.open_weights is None:
            raise RequestRefused("open-weights models are not evaluated by this evaluator")
        return CheckedRequest(path, rid, "open-weights", model, "", settings, repo=repo, revision=rev)
    m = PROVIDER_MODEL.match(model)
    if not m or ".." in model:
        raise RequestRefused(
            "invalid request: 'model' must be PROVIDER/NAME, hf-repo:ORG/NAME@COMMIT or agent:ORG/NAME@COMMIT "
            "(a 40-hex commit)"
        )
    provider, name = m["provider"], m["name"]
    if provider in SHIPPED_PROVIDERS:
        if not config.shipped_agents:
            raise RequestRefused("shipped agents are not evaluated by this evaluator")
        names = shipped.get(provider, ())
        if name not in names:
            import difflib

            hint = difflib.get_close_matches(name, list(names), n=1)
            raise RequestRefused(
                f"unknown shipped agent: {provider}/ has {', '.join(names)}"
                + (f"; did you mean '{provider}/{hint[0]}'?" if hint else "")
            )
        if settings:
            raise RequestRefused("invalid request: a shipped agent takes no model settings")
        return CheckedRequest(path, rid, "shipped", model, model, {})
    if provider not in config.providers:
        opened = ", ".join(f"{p}/" for p in config.providers) or "none"
        raise RequestRefused(f"provider not served by this evaluator (open: {opened})")
    return CheckedRequest(path, rid, "provider", model, model, settings, provider=config.providers[provider])
