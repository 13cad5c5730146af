"""A person plays the panel in a browser: ``arena-bench play --handle NAME``.

The person is a player like any other, ``human/<handle>``: the normal runner plays the planned
games (the panel, or any player, on the other side), one at a time, into the normal run folder, so
panel replay verification, ``--resume`` and submission work as for any run. At each of the
person's turns the runner waits on the page: the page shows exactly what a language model is told
(the same system prompt and turn prompt, rendered from the same functions), plus a builder that
adds up the points of the offer being made; the page's choice goes back as the same reply JSON a
model writes, through the same strict parser (a bad reply is counted and re-asked, never repaired).
The page's version (``INTERFACE_VERSION``) is part of the run's identity, so games played through
another interface never mix with these.

The web side is the standard library's HTTP server on loopback with one static page and a small
JSON API: nothing to install, and the same command serves a Hub Space (Docker SDK). Nothing
personal is stored beyond the handle the person types; no timing of the person's turns is recorded.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from ..agents.base import Observation, Reply
from ..errors import ConfigError, UnknownPlayer
from ..planning import plan
from .parsing import parse_reply
from .prompts import repair_prompt, system_prompt, turn_prompt

INTERFACE_VERSION = "play-web/1"
HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
CONSENT = (
    "Your moves on this page are recorded as the games of human/{handle} in {folder}, in the same format as "
    "any run, and may be submitted to the public leaderboard. Nothing else about you is stored: no name, "
    "address or timing of your turns, only the handle you chose."
)


class Channel:
    """The hand-off between the game loop (a thread with its own event loop) and the web handlers."""

    def __init__(self, handle: str):
        self.handle = handle
        self.lock = threading.Lock()
        self.view: dict[str, Any] | None = None
        self.future: concurrent.futures.Future | None = None
        self.consented = threading.Event()
        self.games_started = 0
        self.planned = 0
        self.finished = False
        self.outcome: dict[str, Any] = {}

    def ask(self, view: dict[str, Any]) -> concurrent.futures.Future:
        with self.lock:
            self.view = view
            self.future = concurrent.futures.Future()
            return self.future

    def answer(self, text: str) -> bool:
        with self.lock:
            future, self.future, self.view = self.future, None, None
        if future is None or future.done():
            return False
        future.set_result(text)
        return True

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "handle": self.handle,
                "interface": INTERFACE_VERSION,
                "consented": self.consented.is_set(),
                "game": self.games_started,
                "planned": self.planned,
                "observation": self.view,
                "finished": self.finished,
                **self.outcome,
            }


CHANNELS: dict[str, Channel] = {}  # handle -> the page that plays it (set by the play command)


def view_of(obs: Observation, game: int) -> dict[str, Any]:
    """What the page shows: the model's own prompts, and the points table for the offer builder."""
    me = obs.public.role_names[obs.role_index]
    table = obs.brief.points()
    return {
        "game": game,
        "scenario": obs.public.id,
        "title": obs.public.title,
        "role": me,
        "other": obs.public.role_names[1 - obs.role_index],
        "system_prompt": system_prompt(obs),
        "turn_prompt": turn_prompt(obs)
        if obs.attempt == 0
        else repair_prompt(obs.feedback or "invalid reply"),
        "issues": [
            {"name": i.name, "options": list(i.options), "points": [round(x, 1) for x in row]}
            for i, row in zip(obs.public.issues, table)
        ],
        "batna_points": round(100 * obs.brief.batna, 1),
        "standing_offer": (
            {i.name: i.options[o] for i, o in zip(obs.public.issues, obs.standing_offer)}
            if obs.standing_offer is not None
            else None
        ),
        "can_accept": obs.can_accept,
        "turn": obs.turn,
        "max_turns": obs.max_turns,
        "feedback": obs.feedback,
        "attempt": obs.attempt,
    }


class HumanAgent:
    def __init__(self, channel: Channel):
        self.channel = channel
        with channel.lock:
            channel.games_started += 1
            self.game = channel.games_started

    async def act(self, obs: Observation) -> Reply:
        future = self.channel.ask(view_of(obs, self.game))
        text = await asyncio.wrap_future(future)
        parsed = parse_reply(text, obs.public.issues)
        return Reply(message=parsed.message, action=parsed.action, raw=text, error=parsed.error)


class HumanPlayer:
    def __init__(self, handle: str, options: dict[str, Any]):
        if not HANDLE.match(handle):
            raise UnknownPlayer(f"human/{handle!r}: a handle is 1 to 40 letters, digits, '.', '_' or '-'")
        if options.get("interface", INTERFACE_VERSION) != INTERFACE_VERSION:
            raise ConfigError(
                f"human/{handle}: this page is {INTERFACE_VERSION}, not {options.get('interface')!r}"
            )
        channel = CHANNELS.get(handle)
        if channel is None:
            raise UnknownPlayer(
                f"human/{handle} is played by a person through the page: arena-bench play --handle {handle}"
            )
        self.spec = f"human/{handle}"
        self.channel = channel

    def new_agent(self, role_index: int, seed: int) -> HumanAgent:
        return HumanAgent(self.channel)

    def describe(self) -> dict[str, Any]:
        return {"spec": self.spec, "kind": "human", "interface": INTERFACE_VERSION}


def human_player(provider: str, name: str, options: dict[str, Any]) -> HumanPlayer:
    return HumanPlayer(name, options)


# --- the web side -----------------------------------------------------------------------------------

STATIC = {
    "/": ("play.html", "text/html"),
    "/play.js": ("play.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}


def _handler(channel: Channel, folder_text: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # a person's page: no access log
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind + "; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", "default-src 'self'")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, data: Any, status: int = 200) -> None:
            self._send(status, json.dumps(data).encode())

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            if path in STATIC:
                name, kind = STATIC[path]
                return self._send(
                    200, resources.files("arena_bench").joinpath(f"site/{name}").read_bytes(), kind
                )
            if path == "/api/state":
                return self._json(
                    {
                        **channel.state(),
                        "consent_text": CONSENT.format(handle=channel.handle, folder=folder_text),
                    }
                )
            return self._json({"error": "not found"}, 404)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length > 16_384:
                return self._json({"error": "too large"}, 413)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return self._json({"error": "not JSON"}, 400)
            if self.path == "/api/consent":
                if body.get("agree") is True:
                    channel.consented.set()
                return self._json(channel.state())
            if self.path == "/api/act":
                if not channel.consented.is_set():
                    return self._json({"error": "consent first"}, 409)
                reply = {k: body.get(k) for k in ("message", "action", "offer") if k in body}
                ok = channel.answer(json.dumps(reply, ensure_ascii=False))
                return self._json({"accepted": ok}, 200 if ok else 409)
            return self._json({"error": "not found"}, 404)

    return Handler


def serve(
    channel: Channel, folder_text: str, port: int = 8765, host: str = "127.0.0.1"
) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer((host, port), _handler(channel, folder_text))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def play(config, output_path: Path, channel: Channel, resume: bool = False) -> Any:
    """Wait for consent, then play every planned game through the page (the normal runner)."""
    from ..evaluation import run

    channel.planned = len(plan(config).cells)
    channel.consented.wait()
    try:
        played = run(config, output_path, resume=resume, progress=False)
    except Exception as exc:
        with channel.lock:
            channel.finished = True
            channel.outcome = {"error": str(exc)}
        raise
    with channel.lock:
        channel.finished = True
        channel.outcome = {"results": str(played.path / "results.json"), "games": len(played.games)}
    return played
