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
import collections
import contextlib
import hashlib
import json
import shlex
from typing import Any

from ..agents.base import Observation, Reply
from ..errors import StopRun, UnknownPlayer
from .parsing import parse_reply

OBSERVATION_FORMAT = "exec-observation/1"


class ExecAgentDied(StopRun):
    """An agent program that exited before it ever replied: no game of the run can be played."""

    def __init__(self, message: str, code: int | None, stderr_tail: list[str]):
        super().__init__(message)
        self.code = code
        self.stderr_tail = stderr_tail


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


STDERR_TAIL_LINES = 12


class ExecAgent:
    """One game side's process. ``launcher`` (the sandbox's ``bwrap`` argv, limits applied before
    exec) wraps the program when the agent came from outside; a local ``exec:`` runs as given."""

    def __init__(self, argv: list[str], timeout_s: float, launcher=None, label: str | None = None):
        self.argv = argv
        self.timeout_s = timeout_s
        self.launcher = launcher
        self.label = label or f"exec:{shlex.join(argv)}"
        self.proc: asyncio.subprocess.Process | None = None
        self.replied = False
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_task: asyncio.Task | None = None

    async def _start(self) -> asyncio.subprocess.Process:
        if self.proc is None:
            argv, preexec = self.launcher(self.argv) if self.launcher else (self.argv, None)
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    limit=1 << 20,
                    preexec_fn=preexec,
                )
            except OSError as exc:
                raise StopRun(f"{self.label} cannot start: {exc.strerror}") from None
            self._stderr_task = asyncio.ensure_future(self._read_stderr(self.proc.stderr))
        return self.proc

    async def _read_stderr(self, stream) -> None:
        """Keep the last lines of the program's stderr (shown when it dies); drain it all, so a
        chatty program never blocks on a full pipe, whatever the length of its lines."""
        pending = b""
        try:
            while chunk := await stream.read(65_536):
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()[-500:]
                self.stderr_tail.extend(
                    x.decode("utf-8", errors="replace").rstrip()[:500] for x in lines if x.strip()
                )
        except OSError:  # the pipe gone
            pass
        if pending.strip():
            self.stderr_tail.append(pending.decode("utf-8", errors="replace").rstrip()[:500])

    async def _died(self, proc) -> Reply:
        """The program is gone. Before its first reply that stops the run (it will not start for
        any game); after it, the turn is a counted error and the game goes on to its forfeits."""
        try:
            code = await asyncio.wait_for(proc.wait(), 5)
        except asyncio.TimeoutError:
            code = None
        if self._stderr_task is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stderr_task, 2)
        if not self.replied:
            tail = " | ".join(self.stderr_tail) or "(nothing on stderr)"
            raise ExecAgentDied(
                f"{self.label} exited with code {code} before its first reply; its stderr ended: {tail}",
                code,
                list(self.stderr_tail),
            )
        return Reply(error=f"the program exited (code {code})")

    async def act(self, obs: Observation) -> Reply:
        proc = await self._start()
        if proc.returncode is not None or proc.stdout.at_eof():
            return await self._died(proc)  # never write to a pipe nobody reads
        line = json.dumps(observation_json(obs), ensure_ascii=False) + "\n"
        try:
            proc.stdin.write(line.encode())
            await proc.stdin.drain()
            raw = await asyncio.wait_for(proc.stdout.readline(), self.timeout_s)
        except asyncio.TimeoutError:
            return Reply(error=f"no reply line within {self.timeout_s:g} s")
        except (BrokenPipeError, ConnectionResetError):
            return await self._died(proc)
        except ValueError:  # a line longer than the stream limit
            return Reply(error="a reply line longer than 1 MiB")
        if not raw:
            return await self._died(proc)
        self.replied = True
        text = raw.decode("utf-8", errors="replace").strip()
        parsed = parse_reply(text, obs.public.issues)
        return Reply(message=parsed.message, action=parsed.action, raw=text, error=parsed.error)

    async def aclose(self) -> None:
        """End of the game: close the program's input, then give it a few seconds to exit."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            try:
                proc.stdin.close()
                await asyncio.wait_for(proc.wait(), 5)
            except (asyncio.TimeoutError, BrokenPipeError, ConnectionResetError):
                proc.kill()
                await proc.wait()
        if self._stderr_task is not None:
            self._stderr_task.cancel()


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
