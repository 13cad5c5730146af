"""A real HTTP server on loopback speaking OpenAI chat completions, scripted by model name.

Used by the tests (and the concurrency benchmark) to exercise litellm for real. It reads the
issues and options from the system prompt that arena-bench sends, so its "good" replies are
legal offers. Behaviours, chosen by the model name in the request:

- ``good``: a valid JSON reply; proposes a seeded random offer, accepts a standing offer
  from turn 6 on;
- ``malformed``: prose, never JSON;
- ``illegal``: an option that does not exist;
- ``accept-first``: on the first turn of a game tries to accept (nothing is on the table), then behaves;
- ``mixed``: per request (by a hash of its last message), malformed / illegal option / good;
- ``flaky``: every request first gets a 429, its retry a 500, the next try succeeds;
- ``slow``: the first try of each request sleeps past the client's timeout;
- ``stall-<n>``: the first n requests to reach the server sleep past the timeout, later ones are fast;
- ``delay-<ms>``: a good reply after a fixed delay (benchmarks).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_issues(system: str) -> list[tuple[str, list[str]]]:
    """Issues and options from the points table lines: "- name: option = pts | option = pts"."""
    issues = []
    for line in system.splitlines():
        m = re.match(r"- ([A-Za-z_]+): (.* = [-0-9.]+)$", line)
        if m:
            issues.append(
                (m.group(1), [part.rsplit(" = ", 1)[0].strip() for part in m.group(2).split(" | ")])
            )
    return issues


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_status: dict[int, int] = {}
        self.seen: dict[str, int] = {}  # request fingerprint -> tries (for flaky/slow)
        self.requests = 0

    def bump(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1


def good_reply(messages: list[dict], seed: int) -> dict:
    issues = parse_issues(messages[0]["content"])
    last = messages[-1]["content"]
    rng = random.Random(seed)
    turn = int(re.search(r"Now turn (\d+)", last).group(1)) if "Now turn" in last else 1
    if "On the table from" in last and turn >= 6:
        return {"message": "Deal.", "action": "accept", "offer": {n: o[0] for n, o in issues}}
    offer = {name: rng.choice(options) for name, options in issues}
    return {"message": "Here is my offer.", "action": "propose", "offer": offer}


def make_handler(counters: Counters, slow_s: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: without this, ~40 ms stalls

        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            counters.bump(status)

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            req = json.loads(self.rfile.read(length))
            model = req["model"].split("/")[-1]
            messages = req["messages"]
            seed = int(req.get("seed") or 0)
            fingerprint = json.dumps([model, messages, seed])
            with counters.lock:
                counters.requests += 1
                tries = counters.seen.get(fingerprint, 0)
                counters.seen[fingerprint] = tries + 1
            if model == "flaky" and tries == 0:
                return self._send(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}})
            if model == "flaky" and tries == 1:
                return self._send(500, {"error": {"message": "server error", "type": "server_error"}})
            if model == "slow" and tries == 0:
                time.sleep(slow_s)
            if model.startswith("stall-") and counters.requests <= int(model.split("-")[1]):
                time.sleep(slow_s)
            if model.startswith("delay-"):
                time.sleep(int(model.split("-")[1]) / 1000)
            first_try_of_game = len(messages) == 2 and "You move first." in messages[1]["content"]
            if model == "malformed":
                content = "I think we should meet in the middle on everything."
            elif model == "illegal":
                reply = good_reply(messages, seed)
                reply["action"] = "propose"
                reply["offer"] = {k: "a free pony" for k in reply["offer"]}
                content = json.dumps(reply)
            elif model == "accept-first" and first_try_of_game:
                content = json.dumps({"message": "I accept!", "action": "accept", "offer": {}})
            elif model == "mixed":
                k = zlib.crc32(messages[-1]["content"].encode()) % 3  # deterministic per request
                if k == 0:
                    content = "Sure, let's do it."
                elif k == 1:
                    reply = good_reply(messages, seed)
                    reply["action"] = "propose"
                    first = next(iter(reply["offer"]))
                    reply["offer"][first] = "not an option"
                    content = "```json\n" + json.dumps(reply) + "\n```"
                else:
                    content = "Here you go: " + json.dumps(good_reply(messages, seed))
            else:
                content = json.dumps(good_reply(messages, seed))
            prompt_tokens = sum(len(m["content"]) for m in messages) // 4
            self._send(
                200,
                {
                    "id": f"chatcmpl-{counters.requests}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": req["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(content) // 4,
                        "total_tokens": prompt_tokens + len(content) // 4,
                    },
                },
            )

    return Handler


class _QuietServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a burst of hundreds of new connections would see dropped
    # SYNs and second-long retransmission stalls that no real server has
    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client that timed out and hung up is expected here
        pass


class FakeOpenAIServer:
    def __init__(self, slow_s: float = 3.0):
        self.counters = Counters()
        self.httpd = _QuietServer(("127.0.0.1", 0), make_handler(self.counters, slow_s))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # a server in its own process, for benchmarks: prints its URL, serves until killed
    import sys

    server = FakeOpenAIServer()
    server.thread.start()
    print(server.url, flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        sys.exit(0)
