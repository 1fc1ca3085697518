"""Wanted tuples planned (pure): the index's wants mapped to tuples, most wanted first, the rest with why not.

`widen` expands every torch build the knowledge table has (every CUDA variant, not only the newest of a
major), for every CPython it knows and every release the matrix names, honouring the matrix's axes,
excludes and compat.toml: the result is the `WantPlan` table the index judges wants by, and the tuple of
each buildable entry. `plan_wanted` takes a want from the selected plan where one of its tuples serves it
(a newer toolkit of the same CUDA major does), else from that table with the selected profile's build
settings (archs, PTX, torch source), so a want outside every profile's slice is still planned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.utils import NormalizedName
from packaging.version import Version

from factory.plan.compat import Compat
from factory.plan.expand import expand, selected_releases
from factory.plan.knowledge import Knowledge
from factory.plan.matrix import MatrixConfig, Profile
from factory.plan.platform_tag import PlatformTag
from factory.plan.recipes import Recipe
from factory.plan.releases import ReleaseTable, load_releases
from factory.plan.spec import BuildSpec
from index_server.wants import BUILDABLE, BuildFacts, Want, WantKey, WantPlan, entry_key, fits, judge


@dataclass(frozen=True)
class Widened:
    table: WantPlan
    specs: dict[str, BuildSpec]  # entry key -> the tuple the selected settings build for it


def widen(
    matrix: MatrixConfig,
    knowledge: Knowledge,
    recipes: dict[NormalizedName, Recipe],
    settings: Profile,
    *,
    releases: ReleaseTable | None = None,
    compat: Compat | None = None,
) -> Widened:
    """Every combination a want can name, judged by the full matrix; tuples built with `settings`."""
    releases = load_releases() if releases is None else releases
    reasons: list[str] = []
    entries: dict[str, int] = {}
    specs: dict[str, BuildSpec] = {}

    def code(reason: str) -> int:
        if reason not in reasons:
            reasons.append(reason)
        return reasons.index(reason)

    universe = sorted(
        {p for m in knowledge.minors.values() for p in (*m.pythons, *m.experimental_pythons)}, key=Version
    )
    built = {
        str(e.name): [str(r.version) for r in reversed(selected_releases(e, releases, Profile(name="full")))]
        for e in matrix.packages
    }
    torch_builds: dict[str, dict[str, str]] = {}
    majors = ", ".join(str(m) for m in matrix.cuda_majors)
    for minor in knowledge.minors.values():
        verdicts = {}
        for variant in minor.variants():
            if minor.version not in matrix.torch:
                why = f"matrix.toml's torch axis ({matrix.torch}) leaves out torch {minor.minor}"
            elif variant.cuda.major not in matrix.cuda_majors:
                why = f"matrix.toml builds CUDA {majors} only"
            else:
                why = ""
            verdicts[f"{variant.cuda}/{int(variant.cxx11_abi)}"] = why
        torch_builds[minor.minor] = verdicts
        cudas = tuple(v.cuda for v in minor.variants() if not verdicts[f"{v.cuda}/{int(v.cxx11_abi)}"])
        if not cudas:
            continue
        slice_ = Profile(
            name=settings.name,
            torch=(minor.minor,),
            cuda=cudas,
            python=tuple(universe),
            archs=settings.archs,
            ptx=settings.ptx,
            torch_from_pypi=settings.torch_from_pypi,
            torch_from_pypi_any_cuda=settings.torch_from_pypi_any_cuda,
            cuda_stand_in=settings.cuda_stand_in,
            torch_floor=settings.torch_floor,
            accept_raised_floor=settings.accept_raised_floor,
        )
        expanded = expand(matrix, knowledge, recipes, slice_, releases=releases, compat=compat)
        for spec in expanded.include:
            key = entry_key(spec.package, str(spec.version), minor.minor, str(spec.cuda), spec.cxx11_abi, spec.python)
            if matrix.python is not None and spec.python not in matrix.python:
                entries[key] = code(f"matrix.toml's python axis builds CPython {', '.join(matrix.python)} only")
                continue
            entries[key], specs[key] = BUILDABLE, spec
        for d in expanded.dropped:
            if d.torch == "*":
                entries[f"{d.package}|{d.version}|*"] = code(d.reason)
            elif d.cuda is not None and d.python is not None and d.cxx11_abi is not None:
                key = entry_key(d.package, str(d.version), minor.minor, d.cuda, d.cxx11_abi, d.python)
                entries.setdefault(key, code(d.reason))
    table = WantPlan(
        platform=f"linux_{matrix.arch}", releases=built, torch_builds=torch_builds, entries=entries, reasons=reasons
    )
    return Widened(table=table, specs=specs)


def facts_of(spec: BuildSpec) -> BuildFacts:
    return BuildFacts(
        project=spec.package,
        version=str(spec.version),
        torch_minor=spec.torch_minor,
        cuda=str(spec.cuda),
        cxx11_abi=spec.cxx11_abi,
        python=spec.python,
        exact_torch=f"{spec.torch.public}+cu{spec.torch_cuda_tag}" if spec.exact_torch_pin else None,
    )


@dataclass(frozen=True)
class WantedTuple:
    spec: BuildSpec
    wants: tuple[Want, ...]

    @property
    def count(self) -> int:
        return sum(w.count for w in self.wants)


@dataclass(frozen=True)
class NotPlanned:
    want: Want
    reason: str


@dataclass(frozen=True)
class WantedPlan:
    include: list[WantedTuple] = field(default_factory=list)  # most wanted first
    not_planned: list[NotPlanned] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "wanted": [
                {"id": t.spec.id, "count": t.count, "asked_as": [w.key.label for w in t.wants]} for t in self.include
            ],
            "not_planned": [{**n.want.to_json(), "reason": n.reason} for n in self.not_planned],
        }


def _glibc_refusal(key: WantKey, glibc: str | None, spec: BuildSpec) -> str | None:
    floor = PlatformTag.parse(spec.platform).glibc
    if glibc is None or floor is None:
        return None
    if tuple(int(x) for x in glibc.split(".")) < floor:
        need = f"{floor[0]}.{floor[1]}"
        return f"{spec.id}'s wheel needs glibc {need} ({spec.platform}); {key.label} was asked on glibc {glibc}"
    return None


def plan_wanted(wants: Sequence[Want], selected: Sequence[BuildSpec], widened: Widened) -> WantedPlan:
    """The unserved wants as tuples: from `selected` (the profile's plan) where one serves the want, newest
    release first; else from the widened table. Most wanted first (summed over the wants a tuple serves)."""
    order = sorted((w for w in wants if w.served_by is None), key=lambda w: (-w.count, -w.last_seen.timestamp()))
    chosen: dict[str, tuple[BuildSpec, list[Want]]] = {}
    result = WantedPlan()
    for want in order:
        key = want.key
        if key.platform not in (widened.table.platform, "unknown"):
            result.not_planned.append(NotPlanned(want, judge(key, widened.table).reason))
            continue
        serving = [s for s in selected if fits(key, facts_of(s))]
        if serving:
            spec = max(serving, key=lambda s: (s.version, s.cuda))
        else:
            verdict = judge(key, widened.table)
            if not verdict.buildable or verdict.release is None:
                result.not_planned.append(NotPlanned(want, verdict.reason))
                continue
            spec = widened.specs[
                entry_key(key.project, verdict.release, key.torch_minor, key.cuda, key.cxx11_abi, key.python)
            ]
        refusal = _glibc_refusal(key, want.glibc, spec)
        if refusal is not None:
            result.not_planned.append(NotPlanned(want, refusal))
            continue
        chosen.setdefault(spec.id, (spec, []))[1].append(want)
    tuples = [WantedTuple(spec, tuple(asked)) for spec, asked in chosen.values()]
    result.include.extend(sorted(tuples, key=lambda t: -t.count))
    return result
