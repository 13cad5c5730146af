"""A user's own Python agent as a player: ``--model py:path/to/file.py:ClassName``.

The class is either an agent, made once per game side as ``ClassName(role_index, seed)`` with
an ``act(observation)`` method (sync or async) returning a :class:`~arena_bench.agents.base.Reply`,
or a player with ``new_agent(role_index, seed)``. It runs in this process, so it is for local
work; leaderboard submissions of code agents run in their own process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from ..agents.base import Observation, Reply
from ..errors import UnknownPlayer


def load_class(ref: str) -> tuple[type, Path]:
    path_text, _, class_name = ref.rpartition(":")
    if not path_text or not class_name:
        raise UnknownPlayer(f"py:{ref}: write py:path/to/file.py:ClassName")
    path = Path(path_text)
    if not path.is_file():
        raise UnknownPlayer(f"py:{ref}: no file {path}")
    module_name = "arena_bench_user_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UnknownPlayer(f"py:{ref}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: report its error as theirs
        raise UnknownPlayer(f"py:{ref}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        names = sorted(
            n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module_name
        )
        raise UnknownPlayer(
            f"py:{ref}: {path} defines no class {class_name!r}; classes there: {', '.join(names) or 'none'}"
        )
    return cls, path


class _AsyncAgent:
    """Gives a sync ``act`` the async shape the game loop awaits."""

    def __init__(self, agent: Any):
        self.agent = agent

    async def act(self, observation: Observation) -> Reply:
        reply = self.agent.act(observation)
        if inspect.isawaitable(reply):
            reply = await reply
        if not isinstance(reply, Reply):
            return Reply(error=f"the agent returned {type(reply).__name__}, not a Reply")
        return reply


class PythonFilePlayer:
    def __init__(self, ref: str, options: dict[str, Any]):
        self.spec = f"py:{ref}"
        cls, path = load_class(ref)
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        if hasattr(cls, "new_agent"):
            self._player = cls(**options)
            self._agent_cls = None
        else:
            if not hasattr(cls, "act"):
                raise UnknownPlayer(
                    f"{self.spec}: class {cls.__name__} has neither act(observation) nor new_agent()"
                )
            self._player = None
            self._agent_cls = cls

    def new_agent(self, role_index: int, seed: int):
        agent = (
            self._player.new_agent(role_index, seed) if self._player else self._agent_cls(role_index, seed)
        )
        return _AsyncAgent(agent)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": "python-file", "sha256": self.sha256}


def python_file_player(provider: str, name: str, options: dict[str, Any]) -> PythonFilePlayer:
    return PythonFilePlayer(name, options)
