"""Every scripted agent as one registry entry: its name, description and published parameters, its
reference class (``agents.scripted``: one game, the pure protocol) and its array form
(``arrays.strategies``: a batch of games at once), so adding one is one entry here plus its classes.

``conformance.check_scripted`` is the shipped check of an entry (``arena-bench check-agent NAME``):
both forms play the same games and must write the same records, byte for byte.

Published parameters never change (tests/test_registries.py pins them): a change is a new name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..agents import scripted as ref
from ..errors import UnknownPlayer
from . import strategies as arr


@dataclass(frozen=True)
class ScriptedEntry:
    name: str
    description: str
    agent: Callable[..., ref.ScriptedAgent]  # the reference class: (role, seed, **parameters)
    array: Callable[..., arr.Strategy] | None  # the array form: (games, seats, seeds, **parameters)
    parameters: Mapping[str, float] = field(default_factory=dict)

    def new_agent(self, role: int, seed: int) -> ref.ScriptedAgent:
        return self.agent(role, seed, **self.parameters)

    def array_form(self) -> Callable[..., arr.Strategy] | None:
        if self.array is None:
            return None
        return lambda games, seats, seeds: self.array(games, seats, seeds, **self.parameters)


SCRIPTED_ENTRIES: tuple[ScriptedEntry, ...] = (
    ScriptedEntry("boulware", "time-based concession, e=0.2 (concedes late)", ref.TimeBased, arr.TimeBased,
                  {"e": 0.2}),
    ScriptedEntry("linear", "time-based concession, e=1", ref.TimeBased, arr.TimeBased, {"e": 1.0}),
    ScriptedEntry("conceder", "time-based concession, e=2 (concedes early)", ref.TimeBased, arr.TimeBased,
                  {"e": 2.0}),
    ScriptedEntry("hardliner", "opens at its best outcome and never concedes", ref.Hardliner, arr.Hardliner),
    ScriptedEntry("pushover", "accepts any offer at or above its BATNA, proposes generously", ref.Pushover,
                  arr.Pushover),
    ScriptedEntry("tit-for-tat", "mirrors the other side's concessions", ref.TitForTat, arr.TitForTat,
                  {"min_step_share": 1.0 / 40}),
    ScriptedEntry("random-rational", "random offers above its BATNA", ref.RandomRational, arr.RandomRational),
    ScriptedEntry("logroller", "frequency opponent model, aims at the estimated Nash point", ref.Logroller,
                  arr.Logroller, {"e": 0.5}),
    ScriptedEntry("micro", "MiCRO (de Jonge 2022): concedes one step per new offer received, no opponent model",
                  ref.MiCRO, arr.MiCRO),
    ScriptedEntry("hardheaded", "HardHeaded (ANAC 2011 winner): very Boulware target, frequency opponent model",
                  ref.HardHeaded, arr.HardHeaded, {"e": 0.05, "min_utility": 0.585, "window": 0.05}),
    ScriptedEntry("injector", "diagnostics: Boulware's actions with manipulative messages (fake deadline, fake "
                  "system instruction, invented BATNA, false claim about your priorities)", ref.Injector, None,
                  {"e": 0.2}),
    ScriptedEntry("boulware-quiet", "diagnostics: the injector's control twin, Boulware's actions with neutral "
                  "messages", ref.QuietTwin, None, {"e": 0.2}),
)  # fmt: skip
SCRIPTED: dict[str, ScriptedEntry] = {e.name: e for e in SCRIPTED_ENTRIES}


def strategy_for(spec: str) -> Callable[..., arr.Strategy]:
    """The array form of a player spec; KeyError when it has none."""
    provider, _, name = spec.partition("/")
    if provider == "scripted" and name in SCRIPTED and SCRIPTED[name].array is not None:
        return SCRIPTED[name].array_form()
    if provider == "policy":
        return lambda games, seats, seeds: arr.Policy(games, seats, seeds, name)
    raise KeyError(spec)


def scripted_entry(name: str) -> ScriptedEntry:
    if name not in SCRIPTED:
        hint = difflib.get_close_matches(name, list(SCRIPTED), n=1)
        raise UnknownPlayer(
            f"unknown scripted strategy {name!r}"
            + (f"; did you mean 'scripted/{hint[0]}'?" if hint else "")
            + f" Known: {', '.join('scripted/' + n for n in SCRIPTED)}"
        )
    return SCRIPTED[name]


class ScriptedPlayer:
    def __init__(self, name: str):
        self.entry = scripted_entry(name)
        self.name = name
        self.spec = f"scripted/{name}"

    def new_agent(self, role_index: int, seed: int) -> ref.ScriptedAgent:
        return self.entry.new_agent(role_index, seed)

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": "scripted",
            "description": self.entry.description,
            "parameters": dict(self.entry.parameters),
        }


def make_player(provider: str, name: str, options: dict[str, Any]) -> ScriptedPlayer:
    return ScriptedPlayer(name)
