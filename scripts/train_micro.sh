#!/usr/bin/env bash
# Reproduce the shipped ruac-micro model from nothing but this repository (no downloads):
#   1. plain segmentation, from scratch     ruac-train micro_plain (128 px), micro_plain256 (256 px), then
#                                           micro_plain256b and micro_plain256c (256 px, target masks
#                                           resized as the image is)
#   2. the RUAC recipe and its baseline     ruac-train micro_ruac  ‖  ruac-train micro_baseline
#   3. ship into the package (float16)      scripts/ship_micro.py → src/napari_ruac/weights/ruac-micro.*
#      (SAM2's video-memory modules stay untrained; volumes are tracked by box projection, docs/micro_model.md)
#   4. quality and speed                    scripts/evaluate_micro.py → runs/micro_eval/report.md
#      the uncertainty study                scripts/evaluate_uncertainty.py → docs/shift_study.md (+ plots)
# Every stage resumes where it stopped (rerun the script); a finished stage is skipped.
# CPU: the plain phases run one process with 2 threads; the two phase-2 runs run side by side with one
# thread each (OMP_NUM_THREADS=1).
# Usage: scripts/train_micro.sh [STAGE ...]   (stages: plain ruac ship evaluate; default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PYTHON")
STAGES=${*:-plain ruac ship evaluate}
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
      OMP_NUM_THREADS=2 train micro_plain runs/micro_plain "$BIN/ruac-train"
      "$BIN/ruac-train" export runs/micro_plain --checkpoint last
      OMP_NUM_THREADS=2 train micro_plain256 runs/micro_plain256 "$BIN/ruac-train"
      "$BIN/ruac-train" export runs/micro_plain256 --checkpoint last
      OMP_NUM_THREADS=2 train micro_plain256b runs/micro_plain256b "$BIN/ruac-train"
      "$BIN/ruac-train" export runs/micro_plain256b --checkpoint last
      OMP_NUM_THREADS=2 train micro_plain256c runs/micro_plain256c "$BIN/ruac-train"
      "$BIN/ruac-train" export runs/micro_plain256c --checkpoint last ;;
    ruac)  # both runs start from runs/micro_plain256c/export/model.json; one process each, side by side
      export OMP_NUM_THREADS=1
      train micro_ruac runs/micro_ruac "$BIN/ruac-train" > runs/micro_ruac.out 2>&1 &
      ruac_pid=$!
      train micro_baseline runs/micro_baseline "$BIN/ruac-train" > runs/micro_baseline.out 2>&1 &
      baseline_pid=$!
      wait $ruac_pid
      wait $baseline_pid
      "$BIN/ruac-train" export runs/micro_ruac --checkpoint last
      "$BIN/ruac-train" export runs/micro_baseline --checkpoint last ;;
    ship)
      "$PYTHON" scripts/ship_micro.py runs/micro_ruac/export/model.json ;;
    evaluate)
      "$PYTHON" scripts/evaluate_micro.py --model ruac-micro --out runs/micro_eval
      "$PYTHON" scripts/evaluate_uncertainty.py --model ruac-micro --baseline runs/micro_baseline/export/model.json \
        --docs docs ;;
    *) echo "unknown stage $stage (plain ruac ship evaluate)" >&2; exit 2 ;;
  esac
done
