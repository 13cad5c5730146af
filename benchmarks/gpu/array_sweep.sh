#!/usr/bin/env bash
# Issue 14's GPU figures in one call on a GPU machine that has torch but no network (the device
# machines lent to some sessions): large-batch scripted-vs-policy play, training games/s with the PPO
# updates at batch 4k to 128k, and learning per game at larger batches against the CPU recipe.
#
#   there: bash benchmarks/gpu/array_sweep.sh          (nothing to carry: the image's numpy, scipy, pandas,
#                                                        click, jsonschema and tqdm are all it needs)
#
# About 5 minutes on an H200 machine, judged from this 2-core CPU: the opponents and the protocol are
# numpy on the CPU, about 1,500 games/s a core here. BATCHES=...,131072 adds the largest batch (about
# 3 more minutes). SWEEP_SECONDS bounds the run; whatever finished is in $OUT/gpu_sweep.json (written
# after every measurement) with the log beside it.
set -uo pipefail
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
out=${OUT:-/tmp/gpu-sweep}
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv || true
python3 - <<'PY' || exit 1
import importlib, sys
missing = [m for m in ("numpy", "scipy", "pandas", "click", "jsonschema", "tqdm", "matplotlib", "torch")
           if importlib.util.find_spec(m) is None]
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "missing:", missing or "none")
sys.exit(1 if missing or not torch.cuda.is_available() else 0)
PY
timeout -s TERM "${SWEEP_SECONDS:-540}" python3 benchmarks/gpu_sweep.py --device cuda --out "$out" \
  --batches "${BATCHES:-4096,16384,65536}" --minibatch "${MINIBATCH:-4096}" \
  --learn "${LEARN:-cpu:1024:1024,cuda:4096:1024,cuda:16384:4096}" \
  --learn-games "${LEARN_GAMES:-32768}" 2>&1 | tee "$out/gpu_sweep.log"
rm -rf "$out"/cpu-* "$out"/cuda-*  # part 3's training folders: only the summary travels back
