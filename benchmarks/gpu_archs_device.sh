#!/usr/bin/env bash
# GPU check of the archs a wheel holds (issue 19), on a machine with an NVIDIA GPU whose python3 holds torch.
#     bash benchmarks/gpu_archs_device.sh OUT_DIR NO_KERNEL_WHEEL [PTX_SET_DIR]
# NO_KERNEL_WHEEL: a causal-conv1d wheel with no code for this GPU (`factory build --profile h200-sm80`: sm_80
# SASS, no PTX, on an H200): its first use must raise the guard's NoKernelForThisGPU, whose message is printed.
# PTX_SET_DIR: wheels with PTX only (`--profile h200-ptx80`) and tests/<package>/ from their sdists, run by
# gpu_proof_device.sh: the driver must JIT-compile the PTX and the packages' own tests pass.
set -uo pipefail
out=${1:?usage: gpu_archs_device.sh OUT_DIR NO_KERNEL_WHEEL [PTX_SET_DIR]}
wheel=${2:?usage: gpu_archs_device.sh OUT_DIR NO_KERNEL_WHEEL [PTX_SET_DIR]}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
site=$(mktemp -d)
python3 -m pip install -q --no-index --no-deps --no-compile --target "$site" "$wheel" || exit 1
PYTHONPATH=$site python3 - <<'PY' 2>&1 | tee "$out/no-kernel.txt"
import torch
print("GPU:", torch.cuda.get_device_name(), "compute capability", torch.cuda.get_device_capability())
import causal_conv1d  # the import itself touches no GPU
from causal_conv1d import causal_conv1d_fn
x = torch.randn(2, 64, 128, device="cuda")
w = torch.randn(64, 4, device="cuda")
try:
    causal_conv1d_fn(x, w)
except Exception as err:  # the guard's NoKernelForThisGPU, not CUDA's "no kernel image"
    print(f"first use raised {type(err).__name__}: {err}")
else:
    print("first use ran: the wheel had code for this GPU")
    raise SystemExit(1)
PY
status=${PIPESTATUS[0]}
if [ $# -ge 3 ]; then
  bash "$here/gpu_proof_device.sh" "$out" "$3" || status=1
fi
exit $status
