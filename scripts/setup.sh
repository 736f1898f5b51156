#!/usr/bin/env bash
# Installs every system package vqa-mpi needs (Debian 12). Idempotent: fast when all is present.
set -euo pipefail
PKGS=(libopenmpi-dev openmpi-bin libopenblas-dev libavformat-dev libavcodec-dev libavutil-dev
      libswscale-dev ffmpeg pkg-config valgrind binutils)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Python side of the test suite (scipy oracle for metrics, safetensors reader check): PyPI packages.
if ! python3 -c "import numpy, scipy, safetensors" 2>/dev/null; then
  python3 -m pip install -q numpy scipy safetensors 2>/dev/null \
    || python3 -m pip install -q --break-system-packages numpy scipy safetensors
fi
echo "setup: ok"
