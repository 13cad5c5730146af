"""A price before spending: ``arena-bench run ... --dry-run``.

Nothing is called. The run's cells are planned as usual; on a sample of its scenarios the model's
seat is played by a stand-in with the panel's typical game length (Boulware), and every prompt the
model would have received is rendered with the real templates. Scaled to the whole split, that
gives calls, prompt tokens (3.7 characters a token), completion tokens (a typical reply, or
``--max-tokens`` as the ceiling), and dollars from litellm's price map where it knows the model.
The longest prompt is shown, since a server's context window must hold it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .agents.base import Observation, Reply
from .config import RunConfig
from .core.analysis import analyse
from .planning import Plan, agent_seed, cell_seed, plan
from .playing.game import play_game
from .playing.players import make_player
from .playing.prompts import repair_prompt, system_prompt, turn_prompt

# Measured on these prompts with OpenAI's cl100k tokenizer (litellm.token_counter: 9,421 characters,
# 2,541 tokens); other tokenizers differ by some 10-20%.
CHARS_PER_TOKEN = 3.7
TYPICAL_REPLY_TOKENS = 70  # a message of a sentence or two plus the action JSON
STAND_IN = "scripted/boulware"


@dataclass
class DryRun:
    games: int
    model_games: int  # games with the model in at least one seat
    calls: int
    prompt_tokens: int
    completion_tokens: int  # typical
    completion_tokens_max: int  # every reply at --max-tokens
    cost_usd: float | None
    cost_usd_max: float | None
    longest_prompt_tokens: int
    longest_prompt: str
    sampled_scenarios: int
    scenarios: int
    prices: tuple[float, float] | None

    def lines(self, model: str) -> list[str]:
        out = [
            f"dry run for {model}: nothing was called",
            f"games: {self.games} ({self.model_games} with the model); model calls: about {self.calls:,} "
            f"(without repairs), from {self.sampled_scenarios} of {self.scenarios} scenarios played with a stand-in",
            f"prompt tokens: about {self.prompt_tokens:,}; completion tokens: about {self.completion_tokens:,} "
            f"typical, at most {self.completion_tokens_max:,} (every reply at --max-tokens)",
        ]
        if self.prices is None:
            import importlib.util

            if importlib.util.find_spec("litellm") is None:
                out.append(
                    "cost: unknown here: list prices come with litellm, which API models need anyway; "
                    "install it with: pip install 'arena-bench[litellm]' (in a checkout: pip install -e '.[litellm]')"
                )
            else:
                out.append(
                    "cost: unknown (the model is not in litellm's price map: your own server, or a new model)"
                )
        else:
            out.append(
                f"cost: about ${self.cost_usd:,.2f}, at most ${self.cost_usd_max:,.2f} "
                f"(${self.prices[0] * 1e6:.3g} / ${self.prices[1] * 1e6:.3g} per million prompt / completion "
                "tokens, before any provider prompt caching)"
            )
            out.append(
                f"with --batch (the Batch API, half price): about ${self.cost_usd / 2:,.2f}, "
                f"at most ${self.cost_usd_max / 2:,.2f}"
            )
        out.append(
            f"longest prompt: about {self.longest_prompt_tokens:,} tokens (system + turn, a repair adds "
            f"about {len(repair_prompt('x' * 80)) // int(CHARS_PER_TOKEN) + 40} and the reply itself); "
            "a server's context window must hold it"
        )
        return out


class _Recorder:
    """The model's seat: plays as the stand-in and counts the prompts the model would get."""

    def __init__(self, agent: Any, log: list[int], longest: list[str]):
        self.agent = agent
        self.log = log
        self.longest = longest

    async def act(self, obs: Observation) -> Reply:
        text = system_prompt(obs) + "\n" + turn_prompt(obs)
        self.log.append(len(text))
        if len(text) > len(self.longest[0]):
            self.longest[0] = text
        return await self.agent.act(obs)


def estimate(config: RunConfig, sample: int = 12, planned: Plan | None = None) -> DryRun:
    """PLANNED: the run's plan when one is made already (a run checking its context windows)."""
    from .models.openai_backend import list_prices  # optional: the openai extra

    planned = plan(config) if planned is None else planned
    ts, scenarios, cells = planned.task_set, planned.scenarios, planned.cells
    model = config.agents[0]
    sampled = {s.id for s in scenarios[:sample]}
    by_id = {s.id: s for s in scenarios}
    others = {spec: make_player(spec) for c in cells for spec in c.players if spec != model}
    stand_in = make_player(STAND_IN)
    lengths: list[int] = []
    longest = [""]

    async def play_all() -> None:
        for cell in cells:
            if cell.scenario_id not in sampled or model not in cell.players:
                continue
            scenario = by_id[cell.scenario_id]
            seed = cell_seed(ts.full_name, cell, config.salt)
            agents = tuple(
                _Recorder(stand_in.new_agent(r, agent_seed(seed, r)), lengths, longest)
                if spec == model
                else others[spec].new_agent(r, agent_seed(seed, r))
                for r, spec in enumerate(cell.players)
            )
            await play_game(scenario, analyse(scenario), agents, cell.first_mover, config.max_turns, 0)

    asyncio.run(play_all())
    model_games = sum(1 for c in cells if model in c.players)
    sampled_games = sum(1 for c in cells if model in c.players and c.scenario_id in sampled)
    scale = model_games / max(1, sampled_games)
    calls = round(len(lengths) * scale)
    prompt_tokens = round(sum(lengths) / CHARS_PER_TOKEN * scale)
    max_tokens = int(config.player_options.get(model, {}).get("max_tokens", 300))
    completion, completion_max = calls * min(TYPICAL_REPLY_TOKENS, max_tokens), calls * max_tokens
    # a model on your own server (--api-base) has no list price, whatever its name
    prices = None if config.player_options.get(model, {}).get("api_base") else list_prices(model)
    cost = cost_max = None
    if prices is not None:
        cost = prompt_tokens * prices[0] + completion * prices[1]
        cost_max = prompt_tokens * prices[0] + completion_max * prices[1]
    return DryRun(
        len(cells),
        model_games,
        calls,
        prompt_tokens,
        completion,
        completion_max,
        cost,
        cost_max,
        round(len(longest[0]) / CHARS_PER_TOKEN),
        longest[0],
        len(sampled),
        len(scenarios),
        prices,
    )
