"""A built wheel's METADATA rewritten for its tuple: the label, the torch pin, dependencies torch allows.

Hand-written line edits rather than email/packaging.metadata: re-serialising would reorder and rewrap
headers, and the repaired wheel's bytes must stay what they were.
"""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from factory.plan.spec import BuildSpec


def rewrite_dependencies(requires: list[str], torch_requires: list[str]) -> tuple[list[str], list[str]]:
    """Replace a requirement that the tuple's torch's own exact pin cannot satisfy by that pin."""
    pins: dict[str, Requirement] = {}
    for line in torch_requires:
        req = Requirement(line)
        exact = [s for s in req.specifier if s.operator == "=="]
        if exact:
            pins[canonicalize_name(req.name)] = req
    out, changes = [], []
    for line in requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            out.append(line)
            continue
        pin = pins.get(canonicalize_name(req.name))
        if pin is not None:
            pinned = next(s.version for s in pin.specifier if s.operator == "==")
            if not req.specifier.contains(pinned, prereleases=True):
                marker = f"; {req.marker}" if req.marker else ""
                new = f"{req.name}=={pinned}{marker}"
                changes.append(f"{line} -> {new} (torch pins {pin.name}=={pinned})")
                out.append(new)
                continue
        out.append(line)
    return out, changes


def rewrite_metadata(text: str, spec: BuildSpec, torch_requires: list[str]) -> tuple[str, list[str]]:
    head, sep, body = text.partition("\n\n")
    lines = head.splitlines()
    requires = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Requires-Dist:")]
    kept = [r for r in requires if canonicalize_name(Requirement(r).name) != "torch"]
    kept, changes = rewrite_dependencies(kept, torch_requires)
    out, placed = [], False
    for line in lines:
        if line.startswith("Version:"):
            out.append(f"Version: {spec.wheel_version}")
        elif line.startswith("Requires-Dist:"):
            if not placed:
                out += [f"Requires-Dist: {spec.torch_pin}", *(f"Requires-Dist: {r}" for r in kept)]
                placed = True
        else:
            out.append(line)
    if not placed:
        out += [f"Requires-Dist: {spec.torch_pin}", *(f"Requires-Dist: {r}" for r in kept)]
    return "\n".join(out) + (sep + body if sep else "\n"), changes


def torch_requires(env: Path) -> list[str]:
    """The Requires-Dist of the torch installed in a venv (its exact triton and CUDA library pins)."""
    metas = list(env.glob("lib/python*/site-packages/torch-*.dist-info/METADATA"))
    if not metas:
        return []
    return [
        line.split(":", 1)[1].strip() for line in metas[0].read_text().splitlines() if line.startswith("Requires-Dist:")
    ]
