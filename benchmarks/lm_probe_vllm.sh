#!/usr/bin/env bash
# Probe-set evaluation of one model folder through vLLM's CPU server (the venv of README's vLLM CPU recipe in
# VLLM_VENV): serves FOLDER as NAME on :8011, runs reference_trainer.lm.evaluate with the given --stage
# arguments (earlier stages resume from their stored games), then stops the server. LIMIT=5 plays 5 scenarios.
# CONNECTIONS (24): requests in flight; on two cores 128 kept replies waiting past the 60 s timeout.
# usage: benchmarks/lm_probe_vllm.sh FOLDER NAME --stage NAME=SPEC@URL ...   (run from the repository root)
set -u
mkdir -p "${OUT_DIR:-runs/lm-eval}"
folder=$1; name=$2; shift 2
(
. ${VLLM_VENV:-.vllm-venv}/bin/activate
export LD_PRELOAD="${VLLM_VENV:-.vllm-venv}/lib/libiomp5.so $( [ -f /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 ] && echo /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 )"
export VLLM_CPU_KVCACHE_SPACE=8 VLLM_CPU_OMP_THREADS_BIND=0-1 OMP_NUM_THREADS=2
exec python -m vllm.entrypoints.openai.api_server --model "$folder" --served-model-name "$name" \
  --dtype bfloat16 --max-model-len 8192 --enforce-eager --port 8011 --enable-prompt-tokens-details
) > ${OUT_DIR:-runs/lm-eval}/vllm-$name.log 2>&1 &
server=$!
for i in $(seq 1 120); do curl -sf http://127.0.0.1:8011/v1/models >/dev/null && break; sleep 3; done
echo "server up after $((i*3)) s"
. .venv/bin/activate
start=$(date +%s)
python -m reference_trainer.lm.evaluate --out ${OUT_DIR:-runs/lm-eval} --max-tokens 160 --max-connections ${CONNECTIONS:-24} --limit ${LIMIT:-10} "$@"
echo "evaluation seconds: $(( $(date +%s) - start ))"
kill $server; wait $server 2>/dev/null
