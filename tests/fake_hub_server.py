"""A loopback HTTP server standing in for the Hugging Face Hub (HF_ENDPOINT): the endpoints
that `HfApi.create_commit(..., create_pr=True)` and `get_repo_discussions` use, for a
dataset repository. It records every commit and every token it was sent."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class HubState:
    def __init__(self):
        self.lock = threading.Lock()
        self.prs: list[dict] = []  # {"num", "title", "files": {path: bytes}, "description"}
        self.requests: list[tuple[str, str]] = []
        self.auth_headers: list[str] = []


def make_handler(state: HubState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: without this, ~40 ms stalls

        def log_message(self, *args):
            pass

        def _send(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self):
            with state.lock:
                state.requests.append((self.command, self.path))
                state.auth_headers.append(self.headers.get("authorization", ""))

        def do_GET(self):  # noqa: N802
            self._record()
            url = urlparse(self.path)
            if url.path.endswith("/discussions"):
                with state.lock:
                    items = [{"num": pr["num"], "title": pr["title"], "status": "open", "isPullRequest": True,
                              "createdAt": "2026-11-26T00:00:00.000Z", "author": {"name": "someone"},
                              "repo": {"name": "org/leaderboard", "type": "dataset"}, "pinned": False,
                              "numComments": 0, "topReactions": []} for pr in state.prs]
                return self._send(200, {"discussions": items, "count": len(items), "start": 0,
                                        "numClosedDiscussions": 0})
            return self._send(404, {"error": f"not found: {url.path}"})

        def do_POST(self):  # noqa: N802
            self._record()
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if "/preupload/" in url.path:
                files = json.loads(body)["files"]
                return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                                                   "oid": None} for f in files], "commitOid": "0" * 40})
            if "/commit/" in url.path:
                lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                files = {x["value"]["path"]: base64.b64decode(x["value"]["content"]) for x in lines if x["key"] == "file"}
                create_pr = parse_qs(url.query).get("create_pr") == ["1"]
                with state.lock:
                    num = len(state.prs) + 1
                    state.prs.append({"num": num, "title": header["summary"], "files": files,
                                      "description": header.get("description", ""), "create_pr": create_pr})
                repo = url.path.split("/api/datasets/")[1].split("/commit/")[0]
                base = f"http://{self.headers['Host']}/datasets/{repo}"
                return self._send(200, {"commitUrl": f"{base}/commit/{num:040d}", "commitOid": f"{num:040d}",
                                        "pullRequestUrl": f"{base}/discussions/{num}"})
            return self._send(404, {"error": f"not found: {url.path}"})

    return Handler


class FakeHub:
    def __init__(self):
        self.state = HubState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
