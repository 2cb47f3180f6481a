#!/usr/bin/env bash
# Reproduce the shipped ruac-micro model from nothing but this repository (no downloads):
#   1. plain segmentation, from scratch     ruac-train micro_plain     (torchrun, NPROC processes)
#   2. the RUAC recipe and its baseline     ruac-train micro_ruac  ‖  ruac-train micro_baseline
#   3. the video-memory path                scripts/train_micro_memory.py  (encoders/decoder/head frozen)
#   4. ship into the package (float16)      scripts/ship_micro.py → src/napari_ruac/weights/ruac-micro.*
#   5. quality, speed and the shift study   scripts/evaluate_micro.py → runs/micro_eval/report.md (+ docs/ plots)
# Every stage resumes where it stopped (rerun the script); a finished stage is skipped.
# CPU: one thread per process (OMP_NUM_THREADS=1) — on a shared 2-core machine, 2 threads in one
# process were 5–10× slower per step than 2 single-threaded processes. A resumed run must keep NPROC.
# Usage: scripts/train_micro.sh [STAGE ...]   (stages: plain ruac memory ship evaluate; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PYTHON")
NPROC=${NPROC:-2}
export OMP_NUM_THREADS=1
STAGES=${*:-plain ruac memory ship evaluate}
mkdir -p runs

train() {  # config name, run dir, launcher...
  local config=$1 dir=$2
  shift 2
  if compgen -G "$dir/checkpoints/step_*.pt" > /dev/null; then
    "$@" --resume "$dir" --quiet
  else
    "$@" "$config" --quiet
  fi
}

for stage in $STAGES; do
  case $stage in
    plain)
      train micro_plain runs/micro_plain "$BIN/torchrun" --standalone --nproc_per_node "$NPROC" -m ruac_training.cli
      "$BIN/ruac-train" export runs/micro_plain --checkpoint best ;;
    ruac)  # both runs start from runs/micro_plain/export/model.json; one process each, side by side
      train micro_ruac runs/micro_ruac "$BIN/ruac-train" > runs/micro_ruac.out 2>&1 &
      ruac_pid=$!
      train micro_baseline runs/micro_baseline "$BIN/ruac-train" > runs/micro_baseline.out 2>&1 &
      baseline_pid=$!
      wait $ruac_pid
      wait $baseline_pid
      "$BIN/ruac-train" export runs/micro_ruac --checkpoint last
      "$BIN/ruac-train" export runs/micro_baseline --checkpoint last ;;
    memory)
      if [ ! -f runs/micro_memory/done ]; then
        "$PYTHON" scripts/train_micro_memory.py runs/micro_ruac/export/model.json --out runs/micro_memory
        touch runs/micro_memory/done
      fi ;;
    ship)
      "$PYTHON" scripts/ship_micro.py runs/micro_ruac/export/model.json --memory runs/micro_memory/memory.safetensors ;;
    evaluate)
      "$PYTHON" scripts/evaluate_micro.py --model ruac-micro --baseline runs/micro_baseline/export/model.json \
        --out runs/micro_eval --docs docs ;;
    *) echo "unknown stage $stage (plain ruac memory ship evaluate)" >&2; exit 2 ;;
  esac
done
