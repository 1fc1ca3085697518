"""GPU numerics check, run by verify inside a tuple's env on a machine with a CUDA device.

Compares each package's CUDA kernel with the package's own pure-PyTorch reference on fresh random
inputs (float32, several shapes), by relative error ||out - ref|| / ||ref||. Prints one JSON line per
case and exits 1 if any case is off or produced NaN. Standalone: it imports only torch and the package.
Usage: python gpu_numerics.py causal-conv1d|mamba-ssm
"""

from __future__ import annotations

import json
import sys

import torch

TOLERANCE = 1e-3  # float32 arithmetic lands far below this; a wrong kernel lands far above


def rel_err(out: torch.Tensor, ref: torch.Tensor) -> float:
    out, ref = out.double(), ref.double()
    return float((out - ref).norm() / ref.norm().clamp_min(1e-30))


def causal_conv1d_cases() -> list[dict[str, object]]:
    from causal_conv1d import causal_conv1d_fn
    from causal_conv1d.causal_conv1d_interface import causal_conv1d_ref

    cases = []
    for batch, dim, seqlen, width, act in [
        (2, 64, 512, 4, "silu"),
        (1, 256, 1000, 3, None),
        (4, 128, 2048, 2, "silu"),
    ]:
        x = torch.randn(batch, dim, seqlen, device="cuda")
        w = torch.randn(dim, width, device="cuda")
        b = torch.randn(dim, device="cuda")
        out = causal_conv1d_fn(x, w, b, activation=act)
        ref = causal_conv1d_ref(x, w, b, activation=act)
        cases.append({"op": "causal_conv1d_fn", "shape": [batch, dim, seqlen, width], "rel_err": rel_err(out, ref)})
    return cases


def mamba_ssm_cases() -> list[dict[str, object]]:
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn, selective_scan_ref

    cases = []
    for batch, dim, dstate, seqlen in [(2, 64, 16, 256), (1, 128, 8, 1024), (3, 32, 16, 2048)]:
        u = torch.randn(batch, dim, seqlen, device="cuda")
        delta = torch.rand(batch, dim, seqlen, device="cuda") * 0.5
        a = -torch.rand(dim, dstate, device="cuda") - 0.5
        b = torch.randn(batch, dstate, seqlen, device="cuda")
        c = torch.randn(batch, dstate, seqlen, device="cuda")
        d = torch.randn(dim, device="cuda")
        z = torch.randn(batch, dim, seqlen, device="cuda")
        args = (u, delta, a, b, c, d, z)
        out = selective_scan_fn(*args, delta_softplus=True)
        ref = selective_scan_ref(*args, delta_softplus=True)
        cases.append({"op": "selective_scan_fn", "shape": [batch, dim, dstate, seqlen], "rel_err": rel_err(out, ref)})
    return cases


def main(package: str) -> int:
    if not torch.cuda.is_available():
        print(json.dumps({"package": package, "error": "no CUDA device visible to torch"}))
        return 2
    torch.manual_seed(0)
    cases = {"causal-conv1d": causal_conv1d_cases, "mamba-ssm": mamba_ssm_cases}[package]()
    bad = 0
    for case in cases:
        err = float(case["rel_err"])  # type: ignore[arg-type]
        case["ok"] = err == err and err < TOLERANCE  # NaN never passes
        bad += not case["ok"]
        print(json.dumps({"package": package, "device": torch.cuda.get_device_name(), **case}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
