"""The registry of players, keyed by versioned ``provider/name`` specs, with "did you mean"."""

from __future__ import annotations

import difflib
from typing import Any, Callable

from .agents.base import Player
from .agents.scripted import STRATEGIES, ScriptedPlayer

PANEL_VERSION = "panel-v2"
PANELS: dict[str, tuple[str, ...]] = {
    "panel-v1": tuple(f"scripted/{name}" for name in STRATEGIES),
    # v2 adds the trained baseline that ships in the package (numpy only, see reference_trainer/)
    "panel-v2": tuple(f"scripted/{name}" for name in STRATEGIES) + ("policy/ppo-nash-v1",),
}

# provider -> factory(name, options) for model-backed players; filled by arena_bench.models
PROVIDERS: dict[str, Callable[[str, dict[str, Any]], Player]] = {}


class UnknownPlayer(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


def known_specs() -> list[str]:
    return [f"scripted/{n}" for n in STRATEGIES] + [f"{p}/<model>" for p in sorted(PROVIDERS)]


def make_player(spec: str, options: dict[str, Any] | None = None) -> Player:
    provider, _, name = spec.partition("/")
    if provider == "scripted":
        if name in STRATEGIES:
            return ScriptedPlayer(name)
        hint = difflib.get_close_matches(name, list(STRATEGIES), n=1)
        raise UnknownPlayer(
            f"unknown scripted strategy {name!r}" + (f"; did you mean 'scripted/{hint[0]}'?" if hint else "")
            + f" Known: {', '.join('scripted/' + n for n in STRATEGIES)}"
        )
    if provider == "policy" and name:
        from .agents.policy import PolicyPlayer

        try:
            return PolicyPlayer(name)
        except (FileNotFoundError, ValueError) as exc:
            raise UnknownPlayer(str(exc)) from None
    _load_providers()
    if provider in PROVIDERS and name:
        return PROVIDERS[provider](name, dict(options or {}))
    candidates = ["scripted", "policy"] + sorted(PROVIDERS)
    hint = difflib.get_close_matches(provider, candidates, n=1)
    raise UnknownPlayer(
        f"unknown player {spec!r}: expected provider/name with provider one of {', '.join(candidates)}"
        + (f"; did you mean '{hint[0]}/{name}'?" if hint else "")
    )


def _load_providers() -> None:
    """Model backends register themselves in PROVIDERS when ``arena_bench.models`` is imported."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("arena_bench.models") is not None:
        importlib.import_module("arena_bench.models")


def panel(version: str = PANEL_VERSION) -> tuple[str, ...]:
    if version not in PANELS:
        hint = difflib.get_close_matches(version, list(PANELS), n=1)
        raise UnknownPlayer(f"unknown panel {version!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return PANELS[version]
