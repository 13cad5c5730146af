#!/usr/bin/env bash
#SBATCH --job-name=arena-lm-rl
#SBATCH --nodes=3
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
# RL of a language model over several nodes: the first ROLLOUT_NODES nodes serve rollouts (one vLLM
# server per GPU, each playing the learner's LoRA adapters), the others run the learner with
# accelerate (one process per GPU, NCCL). Not run by this project's CI (no GPU cluster); the single-node
# pieces it is made of are tested on CPU (tests/test_lm.py, tests/test_lm_vllm_rollouts.py).
#
#   sbatch benchmarks/gpu/lm_slurm.sh SFT_FOLDER OUT [CONFIG]
#
# SFT_FOLDER: a warmed-up transformers folder (the SFT stage's sft-model/); OUT: the run folder, on a
# file system every node sees (the servers read the adapters from OUT/adapters).
set -euo pipefail
SFT=${1:?SFT folder}; OUT=${2:?run folder}; CONFIG=${3:-reference_trainer/configs/lm-gpu-vllm.json}
ROLLOUT_NODES=${ROLLOUT_NODES:-1}; GPUS=${SLURM_GPUS_ON_NODE:-8}; PORT0=${PORT0:-8100}
mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
ROLLOUT=("${NODES[@]:0:$ROLLOUT_NODES}"); LEARN=("${NODES[@]:$ROLLOUT_NODES}")
[ "${#LEARN[@]}" -ge 1 ] || { echo "need at least one learner node"; exit 2; }
mkdir -p "$OUT"

# one server per GPU of each rollout node
bases=()
for node in "${ROLLOUT[@]}"; do
  for ((g = 0; g < GPUS; g++)); do bases+=("\"http://$node:$((PORT0 + g))/v1\""); done
  srun --nodes=1 --ntasks=1 -w "$node" bash -c "
    for ((g = 0; g < $GPUS; g++)); do
      CUDA_VISIBLE_DEVICES=\$g VLLM_ALLOW_RUNTIME_LORA_UPDATING=True python3 -m vllm.entrypoints.openai.api_server \
        --model $SFT --served-model-name warm-start --enable-lora --max-lora-rank 16 --max-loras 8 \
        --port \$(($PORT0 + g)) > $OUT/vllm-$node-\$g.log 2>&1 &
    done
    wait" &
done
for b in "${bases[@]}"; do  # every server answers before the learner starts
  url=${b//\"/}
  until curl -sf "$url/models" > /dev/null; do sleep 10; done
done
api_base="[$(IFS=,; echo "${bases[*]}")]"

# the learner: one process per GPU on every learner node; the first learner node is the main process
MAIN=${LEARN[0]}
srun --nodes="${#LEARN[@]}" --ntasks="${#LEARN[@]}" -w "$(IFS=,; echo "${LEARN[*]}")" bash -c "
  rank=\$(( SLURM_NODEID - $ROLLOUT_NODES ))
  accelerate launch --multi_gpu --num_machines ${#LEARN[@]} --machine_rank \$rank \
    --num_processes $(( ${#LEARN[@]} * GPUS )) --main_process_ip $MAIN --main_process_port 29500 \
    -m reference_trainer --config $CONFIG --set out=$OUT start=$SFT \
    'rl={\"iterations\": 50, \"groups\": 64, \"group_size\": 8, \"rollout\": \"vllm\", \"api_base\": $api_base}' \
    --resume"
scancel --signal=TERM "$SLURM_JOB_ID" 2>/dev/null || true  # stops the servers with the job
