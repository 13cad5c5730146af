"""A cache keyed by argument object, for the scenario-derived tables the diagnostics reuse."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps


def per_object(fn: Callable) -> Callable:
    """Cache FN's result per argument object (scenarios hold dicts, so they cannot be hashed). The
    cache keeps the object itself, so its id cannot be reused while the entry lives."""
    cache: dict[int, tuple[object, object]] = {}

    @wraps(fn)
    def cached(obj):
        hit = cache.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(cache) > 4096:
                cache.clear()
            hit = cache[id(obj)] = (obj, fn(obj))
        return hit[1]

    return cached
