#!/usr/bin/env bash
# On a machine with an NVIDIA GPU whose python3 holds torch: install the factory's wheels from a folder
# (no index, no dependencies: the machine's own torch, triton, einops, transformers are used) and run
# each package's kernels against its reference implementation (factory/data/gpu_numerics.py).
#     bash benchmarks/gpu_numerics_device.sh WHEEL_DIR
set -euo pipefail
wheels=${1:?usage: gpu_numerics_device.sh WHEEL_DIR}
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheels"/*.whl
export PYTHONPATH=$site
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
status=0
for package in causal-conv1d mamba-ssm; do
  python3 "$(dirname "$0")/../factory/data/gpu_numerics.py" "$package" || status=1
done
exit $status
