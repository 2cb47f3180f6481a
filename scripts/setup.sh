#!/usr/bin/env bash
# Set up everything napari-ruac needs on a fresh Debian/Ubuntu machine, idempotently:
# system libraries for Qt under a virtual X server, a venv with torch + sam2 + the project.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="xvfb xauth libgl1 libegl1 libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 \
libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 \
libxcb-shape0 libxcb-xfixes0 libxcb-xkb1"

if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    echo "installing system packages:$missing"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/pip"
$PIP install -q --upgrade pip >/dev/null 2>&1 || true

if ! .venv/bin/python -c "import torch, torchvision" >/dev/null 2>&1; then
  if [ "$(uname -m)" = "aarch64" ]; then
    $PIP install -q torch==2.9.1 torchvision==0.24.1
  else
    $PIP install -q torch==2.14.1 torchvision==0.29.1
  fi
fi
# sam2 from PyPI builds no CUDA extension here; without build isolation it reuses our torch
if ! .venv/bin/python -c "import sam2" >/dev/null 2>&1; then
  SAM2_BUILD_CUDA=0 $PIP install -q --no-build-isolation sam2==1.1.0
fi
$PIP install -q -e ".[napari,train,batch,test]"
# real labelled nuclei for evaluation only (napari_ruac.evaluation.real_sets): the stardist package's bundled
# images, installed without its dependencies and never imported
if ! .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('stardist') is None)"; then
  $PIP install -q --no-deps stardist==0.9.2 || echo "warning: stardist (evaluation data only) did not install; real-image benchmarks will say so"
fi
echo "napari-ruac is set up in .venv"
