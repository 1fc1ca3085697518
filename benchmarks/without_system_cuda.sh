#!/usr/bin/env bash
# Runs a command on a machine state with no system CUDA: a private mount namespace hides /usr/local/cuda*
# behind empty folders, PATH holds no nvcc, CUDA_HOME/CUDA_PATH are unset. For showing that the factory
# fetches every toolkit it uses (issue 18); needs root (unshare -m). Usage: without_system_cuda.sh CMD...
set -euo pipefail
exec unshare -m bash -c '
  for d in /usr/local/cuda /usr/local/cuda-*; do
    [ -d "$d" ] && [ ! -L "$d" ] && mount -t tmpfs tmpfs "$d"
  done
  export PATH="$(printf %s "$PATH" | tr : "\n" | grep -v -e "^/usr/local/bin$" -e cuda | paste -sd:)"
  unset CUDA_HOME CUDA_PATH
  if command -v nvcc >/dev/null; then echo "nvcc still on PATH: $(command -v nvcc)" >&2; exit 1; fi
  exec "$@"
' bash "$@"
