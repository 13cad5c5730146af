"""A loopback HTTP server standing in for the Hugging Face Hub (HF_ENDPOINT): the endpoints
that `HfApi.create_commit(..., create_pr=True)` and `get_repo_discussions` use, for a
dataset repository, and those `snapshot_download` reads (repo info, then each file by HEAD
and GET). It records every commit and every token it was sent."""

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
        self.datasets: dict[str, dict[str, bytes]] = {}  # repo id -> {path: content}, at its latest commit
        self.commits: dict[str, int] = {}  # repo id -> commits made through the API (changes its sha)
        self.models: dict[
            str, dict[str, bytes]
        ] = {}  # model repo id -> {path: content}, created by create_repo

    def sha(self, repo: str) -> str:
        n = self.commits.get(repo, 0)
        return COMMIT if n == 0 else f"{n:040x}"


COMMIT = "a" * 40  # the sha of a dataset that no commit has changed


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

        def _dataset(self, path: str) -> tuple[str, str, dict[str, bytes]] | None:
            """(repo, rest of path, files) for /api/datasets/ORG/NAME/... or /datasets/ORG/NAME/..."""
            # model repositories too (code agents): /api/models/ORG/NAME/... and /ORG/NAME/resolve/...
            for prefix, table in (
                ("/api/datasets/", state.datasets),
                ("/datasets/", state.datasets),
                ("/api/models/", state.models),
                ("/", state.models),
            ):
                if path.startswith(prefix) and not (
                    prefix == "/" and path.startswith(("/api/", "/datasets/"))
                ):
                    parts = path[len(prefix) :].split("/", 2)
                    if len(parts) >= 2:
                        repo = f"{parts[0]}/{parts[1]}"
                        with state.lock:
                            files = table.get(repo)
                        if files is not None:
                            return repo, parts[2] if len(parts) > 2 else "", files
            return None

        def _file(self, head: bool) -> bool:
            url = urlparse(self.path)
            found = self._dataset(url.path)
            if not found or not found[1].startswith("resolve/"):
                return False
            _, rest, files = found
            name = rest.split("/", 2)[2] if rest.count("/") >= 2 else ""
            if name not in files:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            import hashlib

            data = files[name]
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", state.sha(found[0]))
            self.end_headers()
            if not head:
                self.wfile.write(data)
            return True

        def do_HEAD(self):  # noqa: N802
            self._record()
            if not self._file(head=True):
                self._send(404, {"error": "not found"})

        def do_GET(self):  # noqa: N802
            self._record()
            if self._file(head=False):
                return
            url = urlparse(self.path)
            found = self._dataset(url.path)
            if (
                found
                and url.path.startswith(("/api/datasets/", "/api/models/"))
                and found[1].startswith("tree/")
            ):
                import hashlib

                return self._send(
                    200,
                    [
                        {"type": "file", "path": n, "size": len(d), "oid": hashlib.sha1(d).hexdigest()}
                        for n, d in sorted(found[2].items())
                    ],
                )
            if found and url.path.startswith(("/api/datasets/", "/api/models/")):
                repo, _, files = found
                return self._send(
                    200,
                    {
                        "id": repo,
                        "sha": state.sha(repo),
                        "private": False,
                        "siblings": [{"rfilename": n, "size": len(d)} for n, d in sorted(files.items())],
                    },
                )
            if url.path.endswith("/discussions"):
                with state.lock:
                    items = [
                        {
                            "num": pr["num"],
                            "title": pr["title"],
                            "status": "open",
                            "isPullRequest": True,
                            "createdAt": "2026-11-26T00:00:00.000Z",
                            "author": {"name": "someone"},
                            "repo": {"name": "org/leaderboard", "type": "dataset"},
                            "pinned": False,
                            "numComments": 0,
                            "topReactions": [],
                        }
                        for pr in state.prs
                    ]
                return self._send(
                    200, {"discussions": items, "count": len(items), "start": 0, "numClosedDiscussions": 0}
                )
            return self._send(404, {"error": f"not found: {url.path}"})

        def do_POST(self):  # noqa: N802
            self._record()
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if url.path == "/api/validate-yaml":  # upload_folder checks a model card's metadata first
                import yaml

                try:
                    meta = yaml.safe_load(json.loads(body)["content"].split("---")[1])
                except Exception as exc:  # noqa: BLE001 - the Hub answers 400 with the parser's complaint
                    return self._send(400, {"error": f"invalid YAML: {exc}"})
                ok = isinstance(meta, dict)
                return self._send(
                    200 if ok else 400, {"errors": [] if ok else ["not a mapping"], "warnings": []}
                )
            if url.path == "/api/repos/create":  # HfApi.create_repo, for model repositories
                req = json.loads(body)
                repo = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
                with state.lock:
                    state.models.setdefault(repo, {})
                return self._send(200, {"url": f"http://{self.headers['Host']}/{repo}"})
            if url.path.startswith("/api/models/") and "/commit/" in url.path:
                repo = url.path.split("/api/models/")[1].split("/commit/")[0]
                lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                with state.lock:
                    if repo not in state.models:
                        return self._send(404, {"error": f"repository {repo} not found"})
                    state.models[repo].update(
                        {
                            x["value"]["path"]: base64.b64decode(x["value"]["content"])
                            for x in lines
                            if x["key"] == "file"
                        }
                    )
                    state.commits[repo] = state.commits.get(repo, 0) + 1
                    n = state.commits[repo]
                return self._send(200, {"commitUrl": f"http://{self.headers['Host']}/{repo}/commit/{n:040d}",
                                        "commitOid": f"{n:040d}"})  # fmt: skip
            if "/preupload/" in url.path:
                files = json.loads(body)["files"]
                return self._send(
                    200,
                    {
                        "files": [
                            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                            for f in files
                        ],
                        "commitOid": "0" * 40,
                    },
                )
            if "/commit/" in url.path:
                lines = [json.loads(x) for x in body.decode().splitlines() if x.strip()]
                header = next(x["value"] for x in lines if x["key"] == "header")
                files = {
                    x["value"]["path"]: base64.b64decode(x["value"]["content"])
                    for x in lines
                    if x["key"] == "file"
                }
                create_pr = parse_qs(url.query).get("create_pr") == ["1"]
                repo = url.path.split("/api/datasets/")[1].split("/commit/")[0]
                with state.lock:
                    num = len(state.prs) + 1
                    state.prs.append(
                        {
                            "num": num,
                            "title": header["summary"],
                            "files": files,
                            "description": header.get("description", ""),
                            "create_pr": create_pr,
                            "repo": repo,
                        }
                    )
                    if not create_pr:  # a direct commit changes the dataset that downloads see
                        state.datasets.setdefault(repo, {}).update(files)
                        state.commits[repo] = state.commits.get(repo, 0) + 1
                base = f"http://{self.headers['Host']}/datasets/{repo}"
                return self._send(
                    200,
                    {
                        "commitUrl": f"{base}/commit/{num:040d}",
                        "commitOid": f"{num:040d}",
                        "pullRequestUrl": f"{base}/discussions/{num}",
                    },
                )
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
