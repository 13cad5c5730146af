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
- ``delay-<ms>``: a good reply after a fixed delay (benchmarks);
- ``ctx-<n>``: a context window of n tokens: a longer prompt + max_tokens gets vLLM's HTTP 400.

Like vLLM and OpenAI it keeps a prefix cache: a system prompt seen before comes back as
``cached_tokens``. ``/v1/models`` reports ``max_model_len`` for the names in ``counters.context``.
The Batch API is there too (``/v1/files``, ``/v1/batches``, ``/v1/files/{id}/content``), as the
``openai`` client calls it; ``batch-expire`` and ``batch-lineerror`` make a batch expire or fail
every third line.
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
        self.prefixes: set[str] = set()  # system prompts seen: later calls report them as cached tokens
        self.context: dict[str, int] = {}  # model name -> max_model_len reported by /v1/models
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.anthropic_headers: list[dict] = []
        self.batch_lines: list[int] = []  # requests per batch, in order
        self.authorization: list[str] = []  # the Authorization header of every POST

    def add_file(self, raw: bytes, content_type: str) -> dict:
        """A multipart upload (the openai client's files.create): keep the file part's bytes."""
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        data = next(
            (part.get_payload(decode=True) for part in message.iter_parts() if part.get_filename()), b""
        )
        with self.lock:
            fid = f"file-{len(self.files) + 1}"
            self.files[fid] = data
        return {
            "id": fid,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def add_batch(self, req: dict, slow_s: float) -> dict:
        """Accept a batch and work through it in a thread: every line is one chat request. A model
        named ``batch-expire`` makes the batch expire unanswered; ``batch-lineerror`` fails every
        third line with a per-line error."""
        lines = [json.loads(x) for x in self.files[req["input_file_id"]].decode().splitlines() if x.strip()]
        with self.lock:
            bid = f"batch-{len(self.batches) + 1}"
            batch = {
                "id": bid,
                "object": "batch",
                "endpoint": req["endpoint"],
                "input_file_id": req["input_file_id"],
                "completion_window": req["completion_window"],
                "status": "validating",
                "created_at": int(time.time()),
                "output_file_id": None,
                "error_file_id": None,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
            self.batches[bid] = batch
            self.batch_lines.append(len(lines))

        def work() -> None:
            time.sleep(0.05)
            batch["status"] = "in_progress"
            model = lines[0]["body"]["model"].split("/")[-1] if lines else ""
            if model == "batch-expire":
                time.sleep(0.05)
                batch["status"] = "expired"
                return
            out, errors = [], []
            for n, line in enumerate(lines):
                if model == "batch-lineerror" and n % 3 == 0:
                    errors.append(
                        {
                            "id": f"req-{n}",
                            "custom_id": line["custom_id"],
                            "response": None,
                            "error": {
                                "code": "invalid_request",
                                "message": "line rejected by the test server",
                            },
                        }
                    )
                    continue
                status, body = chat(self, line["body"], slow_s)
                row = {
                    "id": f"req-{n}",
                    "custom_id": line["custom_id"],
                    "response": {"status_code": status, "request_id": f"r{n}", "body": body},
                    "error": None,
                }
                (out if status == 200 else errors).append(row)
            with self.lock:
                for rows, key in ((out, "output_file_id"), (errors, "error_file_id")):
                    if rows:
                        fid = f"file-{len(self.files) + 1}"
                        self.files[fid] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                        batch[key] = fid
            batch["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errors)}
            batch["status"] = "completed"

        threading.Thread(target=work, daemon=True).start()
        return dict(batch)

    def add_message_batch(self, req: dict, headers: dict, base: str) -> dict:
        """Anthropic's Message Batches: each request's ``params`` is a Messages API body; answered as
        the chat endpoint would, in Anthropic's shapes (a tool_use block when a tool is forced).
        A model named ``batch-lineerror`` fails every third line as ``errored``."""
        with self.lock:
            bid = f"msgbatch_{len(self.batches) + 1:04d}"
            batch = {"id": bid, "type": "message_batch", "processing_status": "in_progress",
                     "request_counts": {"processing": len(req["requests"]), "succeeded": 0, "errored": 0,
                                        "canceled": 0, "expired": 0},
                     "results_url": None}  # fmt: skip
            self.batches[bid] = batch
            self.batch_lines.append(len(req["requests"]))
            self.anthropic_headers.append(headers)

        def work() -> None:
            time.sleep(0.05)
            rows = []
            for n, item in enumerate(req["requests"]):
                params = item["params"]
                system = "".join(b["text"] for b in params.get("system", []))
                messages = [{"role": "system", "content": system}, *params["messages"]]
                if params["model"] == "batch-lineerror" and n % 3 == 0:
                    error = {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": "line rejected"},
                    }
                    rows.append(
                        {"custom_id": item["custom_id"], "result": {"type": "errored", "error": error}}
                    )
                    continue
                status, body = chat(self, {"model": params["model"], "messages": messages}, 0.0)
                text = body["choices"][0]["message"]["content"]
                if params.get("tool_choice"):
                    try:
                        content = [
                            {"type": "tool_use", "id": f"tu{n}", "name": "reply", "input": json.loads(text)}
                        ]
                    except json.JSONDecodeError:
                        content = [{"type": "text", "text": text}]
                else:
                    content = [{"type": "text", "text": text}]
                cached = body["usage"]["prompt_tokens_details"]["cached_tokens"]
                message = {"id": f"msg_{n}", "type": "message", "role": "assistant", "model": params["model"],
                           "content": content, "stop_reason": "end_turn",
                           "usage": {"input_tokens": body["usage"]["prompt_tokens"] - cached,
                                     "output_tokens": body["usage"]["completion_tokens"],
                                     "cache_read_input_tokens": cached, "cache_creation_input_tokens": 0}}  # fmt: skip
                rows.append(
                    {"custom_id": item["custom_id"], "result": {"type": "succeeded", "message": message}}
                )
            with self.lock:
                self.files[f"{bid}-results"] = "".join(json.dumps(r) + "\n" for r in rows).encode()
            batch["request_counts"] = {"processing": 0, "succeeded": sum(r["result"]["type"] == "succeeded" for r in rows),
                                       "errored": sum(r["result"]["type"] == "errored" for r in rows),
                                       "canceled": 0, "expired": 0}  # fmt: skip
            batch["results_url"] = f"{base}/v1/messages/batches/{bid}/results"
            batch["processing_status"] = "ended"

        threading.Thread(target=work, daemon=True).start()
        return dict(batch)

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


def chat(counters: Counters, req: dict, slow_s: float) -> tuple[int, dict]:
    """One chat completion: (HTTP status, JSON body)."""
    model = req["model"].split("/")[-1]
    messages = req["messages"]
    seed = int(req.get("seed") or 0)
    fingerprint = json.dumps([model, messages, seed])
    with counters.lock:
        counters.requests += 1
        tries = counters.seen.get(fingerprint, 0)
        counters.seen[fingerprint] = tries + 1
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        cached = (
            len(system) // 4 if system in counters.prefixes else 0
        )  # a prefix cache, as vLLM and OpenAI keep
        counters.prefixes.add(system)
    if model == "flaky" and tries == 0:
        return 429, {"error": {"message": "rate limited", "type": "rate_limit_error"}}
    if model == "flaky" and tries == 1:
        return 500, {"error": {"message": "server error", "type": "server_error"}}
    prompt_tokens = sum(len(m["content"]) for m in messages) // 4
    if model.startswith("ctx-") and prompt_tokens + int(req.get("max_tokens") or 0) > int(
        model.split("-")[1]
    ):
        limit = int(model.split("-")[1])
        return 400, {  # vLLM's words for a prompt past its context window
            "object": "error",
            "message": f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{prompt_tokens + int(req.get('max_tokens') or 0)} tokens. Please reduce the length of the messages.",
            "type": "BadRequestError",
            "code": 400,
        }
    if model == "slow" and tries == 0:
        time.sleep(slow_s)
    if model.startswith("stall-") and counters.requests <= int(model.split("-")[1]):
        time.sleep(slow_s)
    if model.startswith("delay-"):
        time.sleep(int(model.split("-")[1]) / 1000)
    first_try_of_game = len(messages) == 2 and "You move first." in messages[1]["content"]
    probed = "This question is private" in messages[-1]["content"]
    if probed and model != "malformed":  # a belief probe: issues in table order, first options, a BATNA guess
        issues = parse_issues(messages[0]["content"])
        content = json.dumps(
            {"ranking": [n for n, _ in issues], "preferred": {n: o[0] for n, o in issues}, "batna_share": 0.3}
        )
    elif model == "malformed":
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
    return 200, {
        "id": f"chatcmpl-{counters.requests}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req["model"],
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(content) // 4,
            "total_tokens": prompt_tokens + len(content) // 4,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def make_handler(counters: Counters, slow_s: float):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: without this, ~40 ms stalls

        def log_message(self, *args):  # keep test output clean
            pass

        def _send(self, status: int, body: dict, count: bool = True) -> None:
            """COUNT: a chat call (by_status counts those alone: models, files and batches are not calls)."""
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            if count:
                counters.bump(status)

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            if path.endswith("/models"):
                return self._send(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": name, "object": "model", "max_model_len": n}
                            for name, n in counters.context.items()
                        ],
                    },
                    count=False,
                )
            m = re.search(r"/messages/batches/([\w-]+)/results$", path)
            if m and f"{m.group(1)}-results" in counters.files:
                data = counters.files[f"{m.group(1)}-results"]
                self.send_response(200)
                self.send_header("Content-Type", "application/binary")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return self.wfile.write(data)
            m = re.search(r"/batches/([\w-]+)$", path)
            if m and m.group(1) in counters.batches:
                return self._send(200, counters.batches[m.group(1)], count=False)
            m = re.search(r"/files/([\w-]+)/content$", path)
            if m and m.group(1) in counters.files:
                data = counters.files[m.group(1)]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                return self.wfile.write(data)
            return self._send(
                404, {"error": {"message": f"no route {path}", "type": "not_found"}}, count=False
            )

        def do_POST(self):  # noqa: N802
            with counters.lock:
                counters.authorization.append(self.headers.get("Authorization", ""))
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            path = self.path.split("?")[0]
            if path.endswith("/files"):
                return self._send(
                    200, counters.add_file(raw, self.headers.get("Content-Type", "")), count=False
                )
            if path.endswith("/messages/batches"):
                headers = {k.lower(): v for k, v in self.headers.items()}
                base = f"http://{self.headers['Host']}"
                return self._send(
                    200, counters.add_message_batch(json.loads(raw), headers, base), count=False
                )
            if path.endswith("/batches"):
                return self._send(200, counters.add_batch(json.loads(raw), slow_s), count=False)
            status, body = chat(counters, json.loads(raw), slow_s)
            self._send(status, body)

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
