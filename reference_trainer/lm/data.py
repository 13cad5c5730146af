"""Teacher data in the harness's own words, for supervised warmup of a language model.

A teacher (the shipped policy, or Boulware for a cautious teacher) plays the panel on generated
training scenarios. Every teacher turn is rendered exactly as an LLM player sees it at that turn
(the versioned system prompt and turn prompt of ``arena_bench.playing.prompts``) with the teacher's action as
the target reply, a JSON object with a short message written from the action. Games where the teacher
ended below its BATNA are left out (a teacher's mistakes are not taught).

Training scenarios come from their own seed space, never from the task set: their ids carry their own
prefix, and a fingerprint of each (issues, options, both briefs) is checked against every scenario of
every split of the task set before anything is written.

Saved as a ``datasets`` dataset in TRL's prompt-completion format (``prompt``: the system and user
messages, ``completion``: the assistant reply), so ``SFTTrainer`` puts the loss on the reply alone, with
a dataset card.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from arena_bench.agents.base import Observation, Reply
from arena_bench.core.analysis import analyse
from arena_bench.core.protocol import Kind
from arena_bench.core.scenario import Scenario
from arena_bench.playing.game import play_game
from arena_bench.playing.players import make_player, panel
from arena_bench.playing.prompts import PROMPT_VERSION, system_prompt, template_hash, turn_prompt
from arena_bench.scenarios.tasks import open_task_set

CARD = """---
license: apache-2.0
task_categories: [text-generation]
tags: [negotiation, arena-bench, sft]
---
# {name}

Teacher demonstrations for supervised warmup of a language-model negotiator on
[arena-bench](https://github.com/arena-bench/arena-bench): {rows} turns from {games} games of the
teacher(s) {teachers} against {opponents} on {scenarios} generated training scenarios (seed {seed};
none of them is, or has the fingerprint of, a scenario of {task_set}).

Each row is one teacher turn exactly as an arena-bench LLM player sees it (prompt {prompt_version},
template hash {prompt_hash}): `prompt` holds the system message (rules, private brief and points
table) and the user message (the public history and the turn), `completion` the teacher's reply as
the JSON object the harness parses. Games where the teacher ended below its BATNA are left out.
Columns `scenario_id`, `teacher`, `opponent`, `role`, `turn`, `stratum` and `teacher_value` describe
the row. Load it with `datasets.load_from_disk`; TRL's `SFTTrainer` trains on the completion alone.

Settings: `{settings}`
"""


@dataclass
class DataConfig:
    name: str = "arena-bench-teacher"
    n_scenarios: int = 64
    seed: int = 515151  # the scenarios' own seed space
    teachers: tuple[str, ...] = ("policy/ppo-nash-v1", "scripted/boulware")
    opponents: str = "panel-v1"  # a panel name or comma-separated specs
    first_movers: tuple[int, ...] = (0, 1)
    task_set: str = "negotiation-v1"  # checked for overlap
    id_prefix: str = "lmtrain"
    extra: dict[str, Any] = field(default_factory=dict)


def fingerprint(s: Scenario) -> str:
    """Issues, options and both private briefs: two scenarios with the same fingerprint are the same
    negotiation whatever their ids and texts."""
    blob = json.dumps(
        [[(i.name, list(i.options)) for i in s.issues],
         [[list(r.weights), [list(v) for v in r.values], round(r.batna, 9)] for r in s.roles]],
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()


def training_scenarios(cfg: DataConfig) -> list[Scenario]:
    from ..scenarios import generated_scenarios

    return generated_scenarios(cfg.seed, cfg.n_scenarios, lambda k: f"{cfg.id_prefix}-{k:05d}")


def check_no_overlap(scenarios: list[Scenario], task_set: str) -> None:
    ts = open_task_set(task_set)
    ids, prints = set(), set()
    for split in ts.manifest["splits"]:
        for s in ts.load(split):
            ids.add(s.id)
            prints.add(fingerprint(s))
    for s in scenarios:
        if s.id in ids or fingerprint(s) in prints:
            raise ValueError(
                f"training scenario {s.id} overlaps {task_set} (same id or fingerprint); change the seed"
            )


def reply_json(obs: Observation, reply: Reply) -> str:
    """The teacher's action as the JSON reply an LLM player gives, with a short message written from
    the action (under the schema's 160 characters). ``offer`` is always given, as the schema asks: the
    proposal, or for accept and walk_away the offer on the table (else the side's best outcome)."""
    a = reply.action
    issues = obs.public.issues
    if a.kind is Kind.PROPOSE:  # never the side's points, BATNA or priorities: those would be leaks
        offer = a.offer
        message = (
            "Here is my proposal; I think it can work for both of us."
            if obs.history
            else "Here is my opening offer."
        )
    else:
        offer = obs.standing_offer or tuple(int(np.argmax(v)) for v in obs.brief.values)
        message = (
            "Agreed, we have a deal."
            if a.kind is Kind.ACCEPT
            else "We are too far apart; we will take our alternative."
        )
    return json.dumps(
        {
            "message": message[:160],
            "action": a.kind.value,
            "offer": {i.name: i.options[o] for i, o in zip(issues, offer)},
        }
    )


class Teacher:
    """Plays as the wrapped agent and keeps each turn as (prompt, completion)."""

    def __init__(self, agent, rows: list[dict[str, Any]]):
        self.agent, self.rows = agent, rows

    async def act(self, obs: Observation) -> Reply:
        reply = await self.agent.act(obs)
        self.rows.append(
            {
                "prompt": [
                    {"role": "system", "content": system_prompt(obs)},
                    {"role": "user", "content": turn_prompt(obs)},
                ],
                "completion": [{"role": "assistant", "content": reply_json(obs, reply)}],
                "turn": obs.turn,
            }
        )
        return reply


def teacher_rows(cfg: DataConfig) -> tuple[list[dict[str, Any]], dict[str, int]]:
    scenarios = training_scenarios(cfg)
    check_no_overlap(scenarios, cfg.task_set)
    opponents = list(panel(cfg.opponents)) if cfg.opponents.startswith("panel-") else cfg.opponents.split(",")
    players = {spec: make_player(spec) for spec in [*cfg.teachers, *opponents]}
    rows: list[dict[str, Any]] = []
    counts = {"games": 0, "kept_games": 0}

    async def play_all() -> None:
        for s in scenarios:
            analysis = analyse(s)
            for teacher in cfg.teachers:
                for opponent in opponents:
                    for role in (0, 1):
                        for first in cfg.first_movers:
                            seed = int.from_bytes(
                                hashlib.sha256(
                                    f"{s.id}|{teacher}|{opponent}|{role}|{first}".encode()
                                ).digest()[:4],
                                "big",
                            )
                            mine: list[dict[str, Any]] = []
                            agents = [None, None]
                            agents[role] = Teacher(players[teacher].new_agent(role, seed), mine)
                            agents[1 - role] = players[opponent].new_agent(1 - role, seed + 1)
                            state, _, metrics = await play_game(s, analysis, tuple(agents), first)
                            counts["games"] += 1
                            side = metrics.sides[role]
                            if not side.rational:  # the teacher ended below its BATNA: not a lesson
                                continue
                            counts["kept_games"] += 1
                            for row in mine:
                                rows.append({**row, "scenario_id": s.id, "teacher": teacher, "opponent": opponent,
                                             "role": role, "stratum": s.stratum, "teacher_value": side.value})  # fmt: skip

    asyncio.run(play_all())
    return rows, counts


def build_dataset(cfg: DataConfig, out: Path):
    """Write the dataset (``save_to_disk``) and its card to OUT; return the ``datasets.Dataset``."""
    import datasets

    rows, counts = teacher_rows(cfg)
    ds = datasets.Dataset.from_list(rows)
    out = Path(out)
    ds.save_to_disk(str(out))
    card = CARD.format(
        name=cfg.name,
        rows=len(rows),
        games=counts["kept_games"],
        teachers=", ".join(cfg.teachers),
        opponents=cfg.opponents,
        scenarios=cfg.n_scenarios,
        seed=cfg.seed,
        task_set=cfg.task_set,
        prompt_version=PROMPT_VERSION,
        prompt_hash=template_hash(),
        settings=json.dumps(asdict(cfg)),
    )
    (out / "README.md").write_text(card)
    (out / "teacher_summary.json").write_text(
        json.dumps({**counts, "rows": len(rows), "config": asdict(cfg)}, indent=2)
    )
    return ds
