"""vLLM's offline engine (``vllm/<model>``): the pending turns of all live games are submitted
together as one batch each step, with structured outputs from the reply's JSON schema and
prefix caching on (every turn of a game shares its system prompt)."""

from __future__ import annotations

import time
from typing import Any

from .base import Batcher, Completion, GenerationSettings, require


class VLLMBackend:
    def __init__(
        self,
        model: str,
        settings: GenerationSettings,
        max_batch: int = 64,
        extra_engine_args: dict[str, Any] | None = None,
    ):
        self.vllm = require("vllm", "vllm", "vllm/ models")
        self.settings = settings
        self.model_name = model
        self.structured_active = settings.structured != "off"
        engine_args: dict[str, Any] = {
            "model": model,
            "enable_prefix_caching": True,
            "seed": settings.seed,
            "max_model_len": 4096,
        }
        if self.structured_active:
            engine_args["structured_outputs_config"] = {"backend": "xgrammar", "disable_any_whitespace": True}
        for key, value in (extra_engine_args or {}).items():
            engine_args[key] = _coerce(value)
        started = time.perf_counter()
        self.llm = self.vllm.LLM(**engine_args)
        self.load_s = time.perf_counter() - started
        self.engine_args = {k: v for k, v in engine_args.items() if k != "model"}
        self.batcher = Batcher(self._generate_batch, max_batch=max_batch, gather_s=0.002)
        self.tokens_generated = 0
        self.generate_s = 0.0

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        return await self.batcher.submit((messages, schema, seed))

    def _generate_batch(
        self, items: list[tuple[list[dict[str, str]], dict[str, Any], int]]
    ) -> list[Completion]:
        from vllm import SamplingParams

        params = []
        for _, schema, seed in items:
            kwargs: dict[str, Any] = {
                "temperature": self.settings.temperature,
                "max_tokens": self.settings.max_tokens,
                "seed": seed,
            }
            if self.structured_active:
                from vllm.sampling_params import StructuredOutputsParams

                kwargs["structured_outputs"] = StructuredOutputsParams(json=schema)
            params.append(SamplingParams(**kwargs))
        started = time.perf_counter()
        outputs = self.llm.chat([m for m, _, _ in items], sampling_params=params, use_tqdm=False)
        elapsed = time.perf_counter() - started
        self.generate_s += elapsed
        results = []
        for out in outputs:
            gen = out.outputs[0]
            n_out = len(gen.token_ids)
            self.tokens_generated += n_out
            results.append(
                Completion(
                    text=gen.text,
                    tokens_in=len(out.prompt_token_ids or []),
                    tokens_out=n_out,
                    latency_s=elapsed,
                    batch_size=len(items),
                )
            )
        return results

    def describe(self) -> dict[str, Any]:
        sizes = self.batcher.batch_sizes
        return {
            "kind": "vllm",
            "model": self.model_name,
            "vllm_version": getattr(self.vllm, "__version__", None),
            "engine_args": self.engine_args,
            "load_s": round(self.load_s, 2),
            "batches": len(sizes),
            "mean_batch": round(sum(sizes) / len(sizes), 2) if sizes else 0,
            "tokens_per_s": round(self.tokens_generated / self.generate_s, 1) if self.generate_s else None,
        }

    def close(self) -> None:
        pass


def _coerce(value: Any) -> Any:
    """--model-args values arrive as strings; engine arguments want numbers and booleans."""
    if not isinstance(value, str):
        return value
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value
