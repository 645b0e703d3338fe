#!/usr/bin/env bash
# The prepared GPU check: on a single-GPU host, from a copy of this repository, with nothing fetched or installed.
#
#   bash benchmarks/gpu_check.sh                # needs CUDA; meant to finish in under 8 minutes on one GPU
#   bash benchmarks/gpu_check.sh --allow-cpu    # the same steps on the CPU (tiny settings): checks the script
#
# It renders a small motion set, trains one epoch on the GPU (bf16 autocast, channels-last), distills one epoch
# from that run, trains one epoch under `torchrun --nproc-per-node 1` (NCCL), evaluates the student on the GPU,
# runs the train_speed benchmark (CPU and GPU rows, fp32 and bf16), and prints each run's clips/s, its share of
# time waiting for data and the GPU's utilisation (nvidia-smi, sampled every 200 ms) while it ran.
#
# Needs python3 with torch, numpy, opencv and tqdm (no executorch, coremltools, jsonschema or matplotlib: the
# training path does not import them). Settings from the environment: PYTHON (python3), WORK (a new temp folder),
# CLIPS_PER_CLASS, SIZE, BATCH, WORKERS, SPEED_BATCH, CPU_SPEED_BATCH, SPEED_STEPS, SPEED_SIZES; RESULTS (copies the results,
# logs and GPU samples there; default $OUT when set).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
allow_cpu=0
[ "${1:-}" = "--allow-cpu" ] && allow_cpu=1
work=${WORK:-$(mktemp -d)}
results=${RESULTS:-${OUT:-}}
mkdir -p "$work"

# pyproject maps benchmarks/ and converters/ into the stsm_edge package; without installing, a folder of links
# gives Python the same layout.
shim=$work/shim/stsm_edge
mkdir -p "$shim"
for entry in "$repo"/stsm_edge/*; do ln -sfn "$entry" "$shim/"; done
ln -sfn "$repo/benchmarks" "$shim/benchmarks"
ln -sfn "$repo/converters" "$shim/converters"
export PYTHONPATH=$work/shim${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

if "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    device=cuda
    clips_per_class=${CLIPS_PER_CLASS:-100} size=${SIZE:-112} batch=${BATCH:-64} workers=${WORKERS:-12}
    speed_batch=${SPEED_BATCH:-128} cpu_speed_batch=${CPU_SPEED_BATCH:-8} speed_steps=${SPEED_STEPS:-5}
    speed_sizes=${SPEED_SIZES:-112 224} speed_rows=()
elif [ $allow_cpu = 1 ]; then
    device=cpu
    clips_per_class=${CLIPS_PER_CLASS:-2} size=${SIZE:-32} batch=${BATCH:-4} workers=${WORKERS:-1}
    speed_batch=${SPEED_BATCH:-2} cpu_speed_batch=${CPU_SPEED_BATCH:-2} speed_steps=${SPEED_STEPS:-1}
    speed_sizes=${SPEED_SIZES:-$size} speed_rows=(--jobs train load --amp off --batches synthetic decoded)
else
    echo "gpu_check: torch sees no CUDA GPU here; run it on a GPU host (or with --allow-cpu to check the script)" >&2
    exit 2
fi
"$python" -c "import torch; print('torch', torch.__version__, '| cuda', torch.version.cuda, '|',
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"

samples=$work/gpu_util.csv
: > "$samples"
sampler=
if [ $device = cuda ] && command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader,nounits -lms 200 > "$samples" &
    sampler=$!
fi
trap '[ -n "$sampler" ] && kill "$sampler" 2> /dev/null; true' EXIT

utilisation() {  # mean and peak GPU utilisation, and peak memory, of the samples after line $1
    tail -n +"$(($1 + 1))" "$samples" | awk -F', *' 'NF == 2 { n++; s += $1; if ($1 > u) u = $1; if ($2 > m) m = $2 }
        END { if (n) printf "GPU utilisation: mean %.0f%%, peak %d%%, memory peak %d MiB (%d samples)\n", s / n, u, m, n;
              else print "GPU utilisation: no samples (no nvidia-smi, or no GPU)" }'
}

step() {  # step NAME COMMAND...: run it, time it, and report the GPU while it ran
    local name=$1 before started
    shift
    before=$(wc -l < "$samples")
    started=$(date +%s)
    echo "== $name"
    "$@"
    echo "== $name: $(($(date +%s) - started)) s; $(utilisation "$before")"
}

epoch_report() {  # the clips/s, data wait and device of a run folder's last epoch
    "$python" -c "import json, sys; e = json.loads(open(sys.argv[1]).read().splitlines()[-1]); print(
        f\"{sys.argv[1]}: {e['clips_per_second']:.1f} clips/s, {e['data_wait']:.0%} of the time waiting for data, \"
        f\"{e['steps']} steps x {e['world_size']} rank(s), on {e['device']}, val top-1 {e['val_top1']}\")" "$1/log.jsonl"
}

fit=(--epochs 1 --batch-size "$batch" --workers "$workers" --device "$device" --amp bf16 --channels-last)
step "render the motion set ($clips_per_class train clips per class)" \
    "$python" -m stsm_edge make-motion-data --out "$work/motion" --clips-per-class "$clips_per_class" --quiet
step "train one epoch, $device, bf16, channels-last" \
    "$python" -m stsm_edge train --data "$work/motion" --out "$work/teacher" --method stsm --size "$size" \
    --pretrained none "${fit[@]}"
step "distill one epoch" \
    "$python" -m stsm_edge distill --teacher "$work/teacher/last.pt" --videos "$work/motion/videos/train" \
    --out "$work/student" --val "$work/motion/val.txt" "${fit[@]}"
step "torchrun --nproc-per-node 1, one epoch" \
    "$python" -m torch.distributed.run --nproc-per-node 1 --master-port 29561 -m stsm_edge train \
    --data "$work/motion" --out "$work/torchrun" --size "$size" --pretrained none "${fit[@]}"
step "eval --checkpoint on $device" \
    "$python" -m stsm_edge eval --checkpoint "$work/student/last.pt" --data "$work/motion/test.txt" --device "$device" \
    --quiet
step "train_speed" \
    "$python" -m stsm_edge.benchmarks.train_speed --devices cpu $([ $device = cuda ] && echo cuda) \
    --sizes $speed_sizes --channels-last --batch-size "$speed_batch" --cpu-batch-size "$cpu_speed_batch" --steps "$speed_steps" \
    --warmup 2 --workers "$workers" --out "$work/results" --work "$work/speed" "${speed_rows[@]}"

echo "== summary"
for run in teacher student torchrun; do epoch_report "$work/$run"; done
grep -q '"world_size": 1' "$work/torchrun/log.jsonl"
if [ $device = cuda ]; then
    grep -q 'nccl' "$work/torchrun/log.jsonl" || { echo "gpu_check: the torchrun run did not use NCCL" >&2; exit 1; }
fi
"$python" -c "import torch, sys; s = torch.load(sys.argv[1], map_location='cpu', weights_only=True)['state_dict'];
bad = [k for k, v in s.items() if v.device.type != 'cpu']; print('student checkpoint: all tensors on the CPU' if not bad
else f'student checkpoint: {len(bad)} tensors not on the CPU'); sys.exit(1 if bad else 0)" "$work/student/last.pt"
utilisation 0
if [ -n "$results" ]; then
    mkdir -p "$results"
    cp "$work"/results/train_speed-*.json "$work"/results/train_speed-*.md "$results"/
    for run in teacher student torchrun; do cp "$work/$run/log.jsonl" "$results/log-$run.jsonl"; done
    cp "$samples" "$results/gpu_util.csv"
    echo "copied the results to $results"
fi
echo "gpu_check: passed on $device (work folder $work)"
