"""The registry of players, keyed by versioned ``provider/name`` specs, with "did you mean".

Everything is listed here explicitly: the published panels as literal tuples, and the
providers as a table from name to the factory that makes the player (imported only when
used). Installed packages add providers through the ``arena_bench.players`` entry point
group, and ``py:path/to/file.py:ClassName`` runs a user's own Python agent.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Any

from ..agents.base import Player
from ..errors import UnknownPlayer
from ..versions import PANEL_VERSION

__all__ = ["PANELS", "PANEL_VERSION", "PROVIDERS", "UnknownPlayer", "known_specs", "make_player", "panel"]

# Published panels never change: a new member or parameter is a new panel version
# (tests/test_registries.py pins each definition, policy file hashes included).
PANELS: dict[str, tuple[str, ...]] = {
    "panel-v1": (
        "scripted/boulware",
        "scripted/linear",
        "scripted/conceder",
        "scripted/hardliner",
        "scripted/pushover",
        "scripted/tit-for-tat",
        "scripted/random-rational",
        "scripted/logroller",
    ),
    "panel-v2": (
        "scripted/boulware",
        "scripted/linear",
        "scripted/conceder",
        "scripted/hardliner",
        "scripted/pushover",
        "scripted/tit-for-tat",
        "scripted/random-rational",
        "scripted/logroller",
        "policy/ppo-nash-v1",
    ),
    # panel-v1's eight, the two ANAC strategies (MiCRO, HardHeaded) and the second trained policy,
    # which replaces ppo-nash-v1 (the panel stays at eleven members: every member costs an
    # evaluated model four games per scenario)
    "panel-v3": (
        "scripted/boulware",
        "scripted/linear",
        "scripted/conceder",
        "scripted/hardliner",
        "scripted/pushover",
        "scripted/tit-for-tat",
        "scripted/random-rational",
        "scripted/logroller",
        "scripted/micro",
        "scripted/hardheaded",
        "policy/ppo-nash-v2",
    ),
    # Not a scoring panel: opponents that test how an agent fails (``--panel diagnostics-v1``):
    # the injector and its quiet twin, for susceptibility to manipulation.
    "diagnostics-v1": ("scripted/injector", "scripted/boulware-quiet"),
}

# Providers served through litellm, under litellm's own names.
LITELLM_PROVIDERS = (
    "openai",
    "anthropic",
    "hosted_vllm",
    "ollama",
    "ollama_chat",
    "gemini",
    "vertex_ai",
    "mistral",
    "groq",
    "together_ai",
    "openrouter",
    "azure",
    "bedrock",
    "deepseek",
    "fireworks_ai",
    "cohere",
    "xai",
    "perplexity",
    "huggingface",
    "text-completion-openai",
    "lm_studio",
    "llamafile",
    "vllm_server",
)

OPENAI_COMPATIBLE = ("openai", "hosted_vllm", "lm_studio", "llamafile", "vllm_server")

# provider -> "module:function"; the function takes (provider, name, options) and returns a Player.
PROVIDERS: dict[str, str] = {
    "scripted": "arena_bench.arrays.registry:make_player",
    "policy": "arena_bench.agents.policy:make_player",
    "py": "arena_bench.playing.plugins:python_file_player",
    "exec": "arena_bench.playing.external:exec_player",
    "agent": "arena_bench.playing.sandbox:agent_player",
    "human": "arena_bench.playing.play:human_player",
    "hf": "arena_bench.models:hf_player",
    "vllm": "arena_bench.models:vllm_player",
    **{p: "arena_bench.models:litellm_player" for p in LITELLM_PROVIDERS},
    # OpenAI and OpenAI-compatible servers take the lean client (litellm with --model-args backend=litellm)
    **{p: "arena_bench.models:openai_compatible_player" for p in OPENAI_COMPATIBLE},
}
ENTRY_POINT_GROUP = "arena_bench.players"

Factory = Callable[[str, str, dict[str, Any]], Player]


def _load(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def plugin_providers() -> dict[str, Any]:
    """Entry points of installed packages in the ``arena_bench.players`` group (name -> entry point).

    A plugin cannot take a built-in provider's name: the built-in wins, so an installed package
    can never change what ``scripted/...`` or ``openai/...`` means.
    """
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in PROVIDERS}


def split_spec(spec: str) -> tuple[str, str]:
    """``provider/name``; ``py:FILE:CLASS`` is provider ``py``, ``exec:COMMAND`` provider ``exec``."""
    for prefix in ("py", "exec"):
        if spec.startswith(prefix + ":"):
            return prefix, spec[len(prefix) + 1 :]
    provider, _, name = spec.partition("/")
    return provider, name


def factory(provider: str) -> Factory | None:
    if provider in PROVIDERS:
        return _load(PROVIDERS[provider])
    ep = plugin_providers().get(provider)
    if ep is None:
        return None
    make = ep.load()  # a plugin factory takes (name, options), like a provider of its own
    return lambda _provider, name, options: make(name, options)


def known_specs() -> list[str]:
    from ..arrays.registry import SCRIPTED

    return (
        [f"scripted/{n}" for n in SCRIPTED]
        + ["policy/<name-or-file>", "py:<file.py>:<Class>", 'exec:"<command>"', "agent/<org>/<name>@<commit>"]
        + [
            f"{p}/<model>"
            for p in sorted(set(PROVIDERS) | set(plugin_providers()))
            if p not in ("scripted", "policy", "py", "exec", "agent", "human")
        ]
    )


def make_player(spec: str, options: dict[str, Any] | None = None) -> Player:
    provider, name = split_spec(spec)
    make = factory(provider) if name else None
    if make is None:
        candidates = sorted(set(PROVIDERS) | set(plugin_providers()))
        if not name:  # a bare name: perhaps a shipped agent's (boulware -> scripted/boulware)
            from ..arrays.registry import SCRIPTED

            bare = difflib.get_close_matches(provider, list(SCRIPTED), n=1)
            if bare:
                raise UnknownPlayer(
                    f"unknown player {spec!r}: a player is provider/name; did you mean 'scripted/{bare[0]}'?"
                )
        hint = difflib.get_close_matches(provider, candidates, n=1)
        raise UnknownPlayer(
            f"unknown player {spec!r}: expected provider/name with provider one of {', '.join(candidates)}"
            + (f"; did you mean '{hint[0]}/{name}'?" if hint else "")
        )
    return make(provider, name, dict(options or {}))


def panel(version: str = PANEL_VERSION) -> tuple[str, ...]:
    if version not in PANELS:
        hint = difflib.get_close_matches(version, list(PANELS), n=1)
        raise UnknownPlayer(
            f"unknown panel {version!r}"
            + (f"; did you mean {hint[0]!r}?" if hint else "")
            + f" Published panels: {', '.join(PANELS)}"
        )
    return PANELS[version]
