"""What every remote backend does around a call: a connection limit, retries with jittered
exponential backoff on errors that can pass, and a fast stop when no call has ever succeeded
(a dead server or a bad key would otherwise cost every game its full retries).

Each backend says how to read its own exceptions (``Classify``); the loop is shared.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import BackendUnavailable

FAIL_FAST_TRIES = 3  # failed tries, with no success yet, after which a run stops

# exception -> (retryable, unreachable): "unreachable" means the server cannot be reached or will
# never accept us (refused connection, bad credentials, unknown model), unlike a busy server.
Classify = Callable[[Exception], tuple[bool, bool]]


class CallGuard:
    def __init__(
        self,
        label: str,
        classify: Classify,
        max_connections: int = 16,
        max_retries: int = 6,
        retry_base_s: float = 1.0,
        retry_max_s: float = 60.0,
        failover: Callable[[Exception], bool] | None = None,
    ):
        self.label = label
        self.failover = failover  # True when another server can take the retry at once
        self.classify = classify
        self.semaphore = asyncio.Semaphore(max_connections)
        self.max_connections = max_connections
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.retries = 0
        self.succeeded = 0
        self.failed_before_success = 0
        self.last_error = ""

    def check_reachable(self) -> None:
        if self.succeeded == 0 and self.failed_before_success >= FAIL_FAST_TRIES:
            raise BackendUnavailable(
                f"no call to {self.label} has succeeded: the first {self.failed_before_success} tries failed "
                f"(last: {self.last_error}); check the server, the model name and the API key, then run again "
                "with --resume"
            )

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
        """``fn()``'s result and the latency of the try that succeeded."""
        attempt = 0
        while True:
            self.check_reachable()
            started = time.perf_counter()
            try:
                async with self.semaphore:
                    self.check_reachable()
                    result = await fn()
                self.succeeded += 1
                return result, time.perf_counter() - started
            except Exception as exc:
                retryable, unreachable = self.classify(exc)
                if self.succeeded == 0 and unreachable:
                    self.failed_before_success += 1
                    self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                    self.check_reachable()
                if not retryable or attempt >= self.max_retries:
                    raise
                delay = min(self.retry_max_s, self.retry_base_s * 2**attempt) * (0.5 + random.random() / 2)
                if self.failover is not None and self.failover(exc):
                    delay = 0.0  # a healthy server is waiting: no backoff against the dead one
                attempt += 1
                self.retries += 1
                await asyncio.sleep(delay)
