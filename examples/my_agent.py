"""A user's own agent: run it with  arena-bench run --model py:examples/my_agent.py:Halfway"""

from arena_bench.agents.base import Observation, Reply
from arena_bench.core.protocol import Action


class Halfway:
    """Asks for its best option on every issue, then accepts anything worth half its best."""

    def __init__(self, role_index: int, seed: int):
        self.role_index, self.seed = role_index, seed

    def act(self, obs: Observation) -> Reply:  # may also be `async def`
        me = obs.brief  # own weights, values and BATNA only: never the other side's
        if obs.can_accept and me.utility(obs.standing_offer) >= max(0.5, me.batna):
            return Reply(message="That works for me.", action=Action.accept())
        best = tuple(max(range(len(v)), key=v.__getitem__) for v in me.values)
        return Reply(message="Here is what I need.", action=Action.propose(best))
