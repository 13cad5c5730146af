"""Agents in their own process: ``--model exec:"COMMAND"``.

Each game side starts COMMAND once. For every turn it writes one JSON observation (one line) to
the program's standard input and reads one line back: the same reply JSON a language model
gives (``{"message": ..., "action": "propose"|"accept"|"walk_away", "offer": {issue: option}}``),
parsed by the same strict parser, so a bad reply is counted and re-asked, never repaired. The
observation holds the agent's own brief only; the program cannot reach the other side's numbers.
When the game ends the program's standard input is closed and it is given a few seconds to exit.
This is the path for code agents on the leaderboard and for agents in other languages (GENIUS,
ANAC). The observation format is ``OBSERVATION_FORMAT`` (``exec-observation/1``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shlex
from typing import Any

from .agents.base import Observation, Reply
from .errors import UnknownPlayer
from .parsing import parse_reply

OBSERVATION_FORMAT = "exec-observation/1"
REPLY_TIMEOUT_S = 60.0


def _offer(obs: Observation, offer) -> dict[str, str] | None:
    if offer is None:
        return None
    return {issue.name: issue.options[o] for issue, o in zip(obs.public.issues, offer)}


def observation_json(obs: Observation) -> dict[str, Any]:
    """What the program sees: its own brief, the public scenario and history, nothing else."""
    names = obs.public.role_names
    me = obs.brief
    history = []
    for t in obs.history:
        a = t.action
        history.append(
            {
                "turn": t.index,
                "role": names[t.role],
                "message": t.message,
                "action": a.kind.value if a else "forfeit",
                "offer": _offer(obs, a.offer) if a is not None and a.offer is not None else None,
            }
        )
    return {
        "format": OBSERVATION_FORMAT,
        "scenario": {
            "id": obs.public.id,
            "title": obs.public.title,
            "context": obs.public.context,
            "roles": list(names),
            "issues": [
                {"name": i.name, "description": i.description, "options": list(i.options)}
                for i in obs.public.issues
            ],
        },
        "you": {
            "role": me.name,
            "role_index": obs.role_index,
            "brief": me.narrative,
            "points": {i.name: dict(zip(i.options, row)) for i, row in zip(obs.public.issues, me.points())},
            "batna_points": 100 * me.batna,
        },
        "turn": obs.turn,
        "max_turns": obs.max_turns,
        "history": history,
        "standing_offer": _offer(obs, obs.standing_offer),
        "standing_offer_by": names[obs.standing_by] if obs.standing_by is not None else None,
        "can_accept": obs.can_accept,
        "feedback": obs.feedback,
        "attempt": obs.attempt,
    }


class ExecAgent:
    def __init__(self, argv: list[str], timeout_s: float):
        self.argv = argv
        self.timeout_s = timeout_s
        self.proc: asyncio.subprocess.Process | None = None

    async def _start(self) -> asyncio.subprocess.Process:
        if self.proc is None:
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                    limit=1 << 20,
                )
            except OSError as exc:
                raise UnknownPlayer(f"exec:{shlex.join(self.argv)} cannot start: {exc.strerror}") from None
        return self.proc

    async def act(self, obs: Observation) -> Reply:
        proc = await self._start()
        line = json.dumps(observation_json(obs), ensure_ascii=False) + "\n"
        try:
            proc.stdin.write(line.encode())
            await proc.stdin.drain()
            raw = await asyncio.wait_for(proc.stdout.readline(), self.timeout_s)
        except asyncio.TimeoutError:
            return Reply(error=f"no reply line within {self.timeout_s:g} s")
        except (BrokenPipeError, ConnectionResetError):
            return Reply(error=f"the program exited (code {proc.returncode})")
        if not raw:
            return Reply(error=f"the program closed its output (exit code {proc.returncode})")
        text = raw.decode("utf-8", errors="replace").strip()
        parsed = parse_reply(text, obs.public.issues)
        return Reply(message=parsed.message, action=parsed.action, raw=text, error=parsed.error)

    async def aclose(self) -> None:
        """End of the game: close the program's input, then give it a few seconds to exit."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        try:
            proc.stdin.close()
            await asyncio.wait_for(proc.wait(), 5)
        except (asyncio.TimeoutError, BrokenPipeError, ConnectionResetError):
            proc.kill()
            await proc.wait()


class ExecPlayer:
    def __init__(self, command: str, options: dict[str, Any]):
        self.argv = shlex.split(command)
        if not self.argv:
            raise UnknownPlayer('exec: needs a command, e.g. --model exec:"python my_agent.py"')
        self.spec = f"exec:{command}"
        self.timeout_s = float(options.get("timeout_s", REPLY_TIMEOUT_S))

    def new_agent(self, role_index: int, seed: int) -> ExecAgent:
        return ExecAgent(self.argv, self.timeout_s)

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": "exec",
            "observation_format": OBSERVATION_FORMAT,
            "command_sha256": hashlib.sha256(self.spec.encode()).hexdigest(),
        }


def exec_player(provider: str, name: str, options: dict[str, Any]) -> ExecPlayer:
    return ExecPlayer(name, options)
