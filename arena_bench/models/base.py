"""Language-model players: one conversation per game side, strict parsing, counted repairs,
an opt-in response cache, and a batching queue that backends use to serve concurrent games."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..agents.base import Observation, Reply
from ..errors import BudgetExhausted, MissingExtra
from ..playing.parsing import parse_reply
from ..playing.probes import PROBE_VERSION, parse_probe, probe_hash, probe_prompt, probe_schema
from ..playing.prompts import (
    PROMPT_VERSION,
    repair_prompt,
    reply_schema,
    system_prompt,
    template_hash,
    turn_prompt,
)
from ..storage import write_atomic


def require(module: str, extra: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{what} needs the '{module}' package ({exc}). Install it with: pip install 'arena-bench[{extra}]' (in a checkout: pip install -e '.[{extra}]')"
        ) from None


@dataclass(frozen=True)
class GenerationSettings:
    temperature: float = 0.0
    max_tokens: int = 300
    seed: int = 0  # mixed into every call's seed
    structured: str = "auto"  # auto | on | off: constrained decoding / response_format json_schema
    timeout_s: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)  # --model-args, recorded


@dataclass
class Completion:
    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    cached: bool = False  # replayed from --use-cache
    batch_size: int = 1  # calls generated together (local engines batch across games)
    cached_tokens: int = 0  # prompt tokens the provider served from its prompt cache


class RequestRefused(Exception):
    """The server answered a call with an error that no retry can fix (HTTP 400, 413, 422: a
    prompt longer than its context window, a request it cannot take). The turn ends as a counted
    forfeit, with the server's words in the record; the game goes on."""

    def __init__(self, status: int | None, detail: str):
        super().__init__(f"HTTP {status}: {detail}" if status else detail)
        self.status = status
        self.detail = detail


class SpendLimit:
    """``--budget-usd``: before each call, its worst case (every byte of the prompt a token, plus the
    chat template's tokens, and every allowed output token, at list price) is reserved; a call whose
    reservation could take the spend past the limit is never made, and the run stops cleanly
    (``--resume`` continues). So the limit holds even with hundreds of calls in flight.

    A byte-level tokenizer (BPE over bytes, or SentencePiece with byte fallback) never makes more
    tokens of a text than it has UTF-8 bytes, so no provider's count can beat the reservation; the
    template's own tokens (role markers, separators) are bounded per message."""

    TEMPLATE_TOKENS_PER_MESSAGE = 16
    TEMPLATE_TOKENS = 32

    def __init__(self, limit_usd: float, prices: tuple[float, float], spent_usd: float = 0.0):
        self.limit_usd = limit_usd
        self.prices = prices  # (input, output) USD per token
        self.spent_usd = spent_usd  # settled: calls answered, games stored before a resume included
        self.reserved_usd = 0.0

    def prompt_tokens_bound(self, messages: list[dict[str, str]]) -> int:
        return (
            sum(len(m["content"].encode("utf-8")) + self.TEMPLATE_TOKENS_PER_MESSAGE for m in messages)
            + self.TEMPLATE_TOKENS
        )

    def worst_case(self, messages: list[dict[str, str]], max_tokens: int) -> float:
        return self.prompt_tokens_bound(messages) * self.prices[0] + max_tokens * self.prices[1]

    def reserve(self, amount: float) -> None:
        if self.spent_usd + self.reserved_usd + amount > self.limit_usd:
            raise BudgetExhausted(
                f"budget reached: ${self.spent_usd:.4f} spent and ${self.reserved_usd:.4f} in flight of "
                f"--budget-usd {self.limit_usd:g}; the next call could cost up to ${amount:.4f}. Raise "
                "--budget-usd and continue with --resume (games not finished are played again)"
            )
        self.reserved_usd += amount

    def settle(self, reserved: float, cost: float | None) -> None:
        self.reserved_usd -= reserved
        self.spent_usd += reserved if cost is None else cost


class Backend(Protocol):
    structured_active: bool

    async def complete(
        self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int
    ) -> Completion: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ResponseCache:
    """Replies keyed by model, messages, generation settings and the call's seed (which comes
    from the cell seed, role, turn and attempt, so repetitions never collapse into one)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.hits = 0
        self.misses = 0

    def key(self, model: str, messages: list[dict[str, str]], settings: GenerationSettings, seed: int) -> str:
        blob = json.dumps([model, messages, asdict(settings), seed], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        path = self._path(key)
        if not path.is_file():
            self.misses += 1
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            self.misses += 1  # a torn entry is simply recomputed
            return None
        self.hits += 1
        return Completion(
            text=data["text"],
            tokens_in=data["tokens_in"],
            tokens_out=data["tokens_out"],
            latency_s=0.0,
            cost_usd=0.0,
            cached=True,
        )

    def put(self, key: str, c: Completion) -> None:
        write_atomic(
            self._path(key),
            json.dumps({"text": c.text, "tokens_in": c.tokens_in, "tokens_out": c.tokens_out}),
        )


def call_seed(agent_seed: int, turn: int, attempt: int, salt: int) -> int:
    digest = hashlib.sha256(json.dumps([agent_seed, turn, attempt, salt]).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


class LLMPlayer:
    """A named model; makes one :class:`LLMAgent` per game side."""

    def __init__(
        self, spec: str, backend: Backend, settings: GenerationSettings, cache: ResponseCache | None = None
    ):
        self.spec = spec
        self.backend = backend
        self.settings = settings
        self.cache = cache
        self.budget: SpendLimit | None = None

    def new_agent(self, role_index: int, seed: int) -> LLMAgent:
        return LLMAgent(self, role_index, seed)

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        key = None
        if self.cache is not None:
            key = self.cache.key(self.spec, messages, self.settings, seed)
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        if self.budget is None:
            completion = await self.backend.complete(messages, schema, seed)
        else:
            hold = self.budget.worst_case(messages, self.settings.max_tokens)
            self.budget.reserve(hold)
            cost = hold  # a call that failed may still have been billed: keep its worst case
            try:
                completion = await self.backend.complete(messages, schema, seed)
                cost = completion.cost_usd
            finally:
                self.budget.settle(hold, cost)
        if self.cache is not None and key is not None:
            self.cache.put(key, completion)
        return completion

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "kind": "model",
            "prompt_version": PROMPT_VERSION,
            "prompt_hash": template_hash(),
            "probe_version": PROBE_VERSION,
            "probe_hash": probe_hash(),
            "generation": asdict(self.settings),
            "structured_output": self.backend.structured_active,
            "cache": None
            if self.cache is None
            else {"folder": str(self.cache.folder), "hits": self.cache.hits, "misses": self.cache.misses},
            "backend": self.backend.describe(),
        }

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        aclose = getattr(self.backend, "aclose", None)
        if aclose is not None:
            await aclose()


class LLMAgent:
    """One side of one game. Each turn is a fresh request: the system prompt (rules, brief,
    points) and one message with the whole public history. A rejected reply is shown back
    with the error, so the model sees exactly what it got wrong, for the repairs of that turn.
    """

    def __init__(self, player: LLMPlayer, role_index: int, seed: int):
        self.player = player
        self.role_index = role_index
        self.seed = seed
        self.system: str | None = None
        self.messages: list[dict[str, str]] = []

    async def act(self, obs: Observation) -> Reply:
        if self.system is None:
            self.system = system_prompt(obs)
        if obs.attempt == 0:
            self.messages = [
                {"role": "system", "content": self.system},
                {"role": "user", "content": turn_prompt(obs)},
            ]
        else:
            self.messages.append({"role": "user", "content": repair_prompt(obs.feedback or "invalid reply")})
        seed = call_seed(self.seed, obs.turn, obs.attempt, self.player.settings.seed)
        started = time.perf_counter()
        try:
            completion = await self.player.complete(
                list(self.messages), reply_schema(obs.public.issues), seed
            )
        except RequestRefused as exc:  # counted and shown: the game loop forfeits the turn
            return Reply(
                raw=None,
                error=f"the server refused the request ({exc})"[:400],
                usage={"latency_s": time.perf_counter() - started, "refused": True},
            )
        latency = completion.latency_s or (time.perf_counter() - started)
        self.messages.append({"role": "assistant", "content": completion.text})
        parsed = parse_reply(completion.text, obs.public.issues)
        usage = {
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "latency_s": latency,  # what this call waited, its whole batch included
            "cached": completion.cached,
        }
        if completion.cached_tokens:
            usage["cached_tokens"] = completion.cached_tokens
        if completion.batch_size > 1:  # its share of the batch's compute: sums to the engine's time
            usage["batch_size"] = completion.batch_size
            usage["compute_s"] = latency / completion.batch_size
        if completion.cost_usd is not None:
            usage["cost_usd"] = completion.cost_usd
        return Reply(
            message=parsed.message, action=parsed.action, raw=completion.text, error=parsed.error, usage=usage
        )

    async def probe(self, obs: Observation) -> dict[str, Any]:
        """A belief probe (``--probe``): the same system prompt, then the history and the question,
        in a request of its own that the other side never sees. Its usage is kept apart from the
        game's, so it is priced separately."""
        messages = [
            {"role": "system", "content": self.system or system_prompt(obs)},
            {"role": "user", "content": probe_prompt(obs)},
        ]
        seed = call_seed(self.seed, obs.turn, 1000 + len(obs.history), self.player.settings.seed)
        started = time.perf_counter()
        try:
            completion = await self.player.complete(messages, probe_schema(obs.public.issues), seed)
        except RequestRefused as exc:
            return {"answer": None, "error": f"the server refused the probe ({exc})"[:400], "raw": None,
                    "usage": {"refused": True, "latency_s": time.perf_counter() - started}}  # fmt: skip
        answer, error = parse_probe(completion.text, obs.public.issues)
        usage: dict[str, Any] = {
            "tokens_in": completion.tokens_in,
            "tokens_out": completion.tokens_out,
            "latency_s": completion.latency_s or (time.perf_counter() - started),
        }
        if completion.cost_usd is not None:
            usage["cost_usd"] = completion.cost_usd
        return {"answer": answer, "error": error, "raw": completion.text, "usage": usage}


# --- batching -------------------------------------------------------------------------------


class Batcher:
    """Gathers pending requests from all live games into one call of ``run_batch``.

    ``run_batch`` is blocking (a forward pass) and runs in a worker thread, so the event loop
    keeps collecting the next batch meanwhile. Whatever is pending when the worker frees up
    forms the next batch, up to ``max_batch``.
    """

    def __init__(
        self, run_batch: Callable[[list[Any]], list[Any]], max_batch: int = 16, gather_s: float = 0.005
    ):
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.gather_s = gather_s
        self.queue: asyncio.Queue | None = None
        self.worker: asyncio.Task | None = None
        self.batch_sizes: list[int] = []

    async def submit(self, item: Any) -> Any:
        if self.queue is None or self.worker is None or self.worker.done():
            self.queue = asyncio.Queue()
            self.worker = asyncio.get_running_loop().create_task(self._work())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((item, future))
        return await future

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            first = await self.queue.get()
            await asyncio.sleep(self.gather_s)  # let the other games' requests arrive
            batch = [first]
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self.batch_sizes.append(len(batch))
            try:
                results = await asyncio.to_thread(self.run_batch, [item for item, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - hand the failure to every waiting game
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)
