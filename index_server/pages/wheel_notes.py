"""What a wheel's provenance says a user should know, as short lines for its matrix cell (pure): the GPU
code it really holds with example GPUs per arch, its glibc floor, and whatever stood in for what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Example GPUs per SASS arch: sm_XY machine code runs on compute capability X.Y up to X.9.
EXAMPLE_GPUS = {
    "70": "V100",
    "75": "T4, RTX 20",
    "80": "A100, A30, and on 8.6/8.9: A10, A40, L4, L40, RTX 30/40",
    "86": "A10, A40, RTX 30, and on 8.9: L4, L40, RTX 40",
    "87": "Jetson Orin",
    "89": "L4, L40, RTX 40",
    "90": "H100, H200, GH200",
    "100": "B200, GB200",
    "103": "B300",
    "110": "Thor",
    "120": "RTX 50, RTX PRO 6000",
    "121": "DGX Spark",
}


def _arch_label(arch: str) -> str:
    return f"{arch[:-1]}.{arch[-1]}"


def arch_lines(info: Mapping[str, Any]) -> list[str]:
    archs = info.get("gpu_archs")
    if not isinstance(archs, Mapping):
        return []
    sass = [str(a) for a in archs.get("sass") or [] if str(a).isdigit()]
    ptx = [str(a) for a in archs.get("ptx") or [] if str(a).isdigit()]
    lines = [f"sm_{a} ({EXAMPLE_GPUS.get(a, 'compute capability ' + _arch_label(a))})" for a in sass]
    lines += [f"PTX compute_{a}: JIT-compiled on any newer GPU" for a in ptx]
    return lines or ["no GPU code found in the binary"]


def stand_in_lines(info: Mapping[str, Any]) -> list[str]:
    spec = info.get("spec") if isinstance(info.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    lines = []
    if spec.get("cuda_stand_in_for"):
        dropped = ", ".join(f"sm_{a}" for a in spec.get("archs_dropped") or [])
        lines.append(
            f"toolkit CUDA {spec.get('cuda')} stood in for {spec['cuda_stand_in_for']}"
            + (f" (dropped {dropped})" if dropped else "")
        )
    toolkit = info.get("toolkit") if isinstance(info.get("toolkit"), Mapping) else {}
    assert isinstance(toolkit, Mapping)
    nvcc = str(toolkit.get("nvcc") or "")
    if nvcc and not spec.get("cuda_stand_in_for") and ".".join(nvcc.split(".")[:2]) != str(spec.get("cuda")):
        # the tuple's CUDA is its torch's (PyPI's torch 2.4 is cu121); the toolkit a newer minor of that major
        lines.append(f"compiled by nvcc {nvcc} for CUDA {spec.get('cuda')} (a newer minor of the same major)")
    torch = info.get("torch") if isinstance(info.get("torch"), Mapping) else {}
    assert isinstance(torch, Mapping)
    if spec.get("torch_stand_in_for"):
        lines.append(f"built against PyPI's torch {spec.get('torch_version')} for {spec['torch_stand_in_for']}")
        if str(spec.get("cuda_major")) != str(torch.get("cuda", "")).split(".")[0]:
            lines.append("not import-tested against its exact torch (symbols resolved against the stand-in)")
    floor = info.get("floor")
    if isinstance(floor, Mapping) and floor.get("why"):
        lines.append(str(floor["why"]))
    return lines


def floor_line(info: Mapping[str, Any]) -> str | None:
    audit = info.get("auditwheel")
    if isinstance(audit, Mapping) and audit.get("tags"):
        return "floor " + " ".join(str(t) for t in audit["tags"])
    return None


def wheel_notes(info: Mapping[str, Any] | None) -> dict[str, list[str]]:
    """{"archs": [...], "notes": [...]} for a file's factory_build.json (empty lists for other files)."""
    if not isinstance(info, Mapping):
        return {"archs": [], "notes": []}
    floor = floor_line(info)
    return {"archs": arch_lines(info), "notes": ([floor] if floor else []) + stand_in_lines(info)}
