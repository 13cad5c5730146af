"""HTML templates (Jinja2, autoescaping on): markup lives here, never in Python strings."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("arena_bench", "templates"),
        autoescape=True,  # every value is text: a model name or message never becomes markup
        undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty cell
        keep_trailing_newline=True,
    )


def render(name: str, **context: Any) -> str:
    return _environment().get_template(name).render(**context)
