"""workflow: the rebuild workflow's cells, batches and per-cell cibuildwheel settings (all pure).

A *cell* is one (package, release, CUDA, torch build, ABI): every planned Python of it is built by one
cibuildwheel run in one job, so the device code compiled for the first Python is served to the others from
the compile cache. Cells are split into *batches* of at most GitHub's 256 jobs; rebuild.yml calls its
reusable build workflow once per batch slot. `cell_env` turns a cell into the environment its job hands
to cibuildwheel.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factory.plan.job import NO_NVCC_DEPFILE, torch_arch_list
from factory.plan.recipes import Recipe
from factory.plan.spec import BuildSpec

# Every cell is built in PyTorch's manylinux_2_28 CUDA builder image (toolkits under /usr/local/cuda-X.Y,
# manylinux's CPythons under /opt/python). PyTorch no longer builds the CentOS 7 (2_17) images, so the plan
# gives every tuple at least this floor (factory.plan.expand.BUILD_PLATFORM).
BUILDER_IMAGE = "pytorch/manylinux2_28-builder:cuda{cuda}"
BUILDER_PLATFORM = "manylinux_2_28_x86_64"
TORCH_INDEX = "https://download.pytorch.org/whl/cu{tag}"
GITHUB_MATRIX_LIMIT = 256  # jobs one matrix may expand to
# Inside the container: the factory's own venv (before-all), and per-cell scratch shared by its Pythons
CONTAINER_FACTORY = "/opt/factory"
SHARED_TORCH_INCLUDE = "/tmp/factory-torch-include"
CONTAINER_CCACHE = "/tmp/factory-ccache"  # a volume: the runner's SCRATCH/ccache, kept across the cell's Pythons
# Memory one device compile (cicc + ptxas of one arch of one .cu file) may take, from upstream's own
# MAX_JOBS=2 on 7-16 GB runners; nvcc runs `--threads N` of them per file, MAX_JOBS files at once.
GB_PER_DEVICE_COMPILE = 4
UPSTREAM_NVCC_THREADS = 4  # what the packages' setup.py hard-codes (`--threads 4`)
# Where a run publishes: the full matrix to the production index; a profile (fewer archs, a subset) to
# an index of its own, so its tuples never take the production names of the full-arch builds.
PRODUCTION_INDEX = "FACTORY_INDEX_URL"
PROFILE_INDEX = "FACTORY_PROFILE_INDEX_URL"


class CellError(ValueError):
    """The plan cannot be grouped or batched as the workflow needs."""


@dataclass(frozen=True, kw_only=True)
class Cell:
    id: str
    specs: tuple[BuildSpec, ...]  # one per Python, in plan order
    builds: tuple[int, ...] = ()  # each spec's PEP 427 build number (`factory plan --index`); empty: all 1

    @property
    def first(self) -> BuildSpec:
        return self.specs[0]

    def build_of(self, spec: BuildSpec) -> int:
        return self.builds[self.specs.index(spec)] if self.builds else 1

    def to_json(self) -> dict[str, Any]:
        s = self.first
        return {
            "id": self.id,
            "package": str(s.package),
            "version": str(s.version),
            "cuda": str(s.cuda),
            "torch": s.torch_minor,
            "torch_version": str(s.torch),
            "cxx11_abi": s.cxx11_abi,
            "platform": s.platform,
            "pythons": [x.python for x in self.specs],
            "tuples": [x.id for x in self.specs],
            "builds": {x.id: self.build_of(x) for x in self.specs},
        }


def cell_id(spec: BuildSpec) -> str:
    return f"{spec.package}-{spec.version}-cu{spec.cuda}-torch{spec.torch_minor}-abi{spec.abi_flag}"


def _shared_fields(spec: BuildSpec) -> tuple[tuple[str, str], ...]:
    """Everything a tuple's build depends on except its Python: equal across one cell."""
    data = spec.to_json()
    return tuple(sorted((k, repr(v)) for k, v in data.items() if k not in {"id", "python"}))


def cells_of(specs: Sequence[BuildSpec], builds: Mapping[str, int] | None = None) -> list[Cell]:
    """The tuples grouped per cell; `builds` gives each tuple id its build number (default 1). The Pythons
    of one cell share every key input but their Python, yet their build numbers may differ (a Python new to
    the cell starts at 1)."""
    numbers = dict(builds or {})
    bad = {i: n for i, n in numbers.items() if not isinstance(n, int) or isinstance(n, bool) or n < 1}
    if bad:
        raise CellError(f"build numbers are whole numbers from 1; got {bad}")
    grouped: dict[str, list[BuildSpec]] = {}
    fields: dict[str, tuple[tuple[str, str], ...]] = {}
    for spec in specs:
        key = cell_id(spec)
        if key in fields and fields[key] != _shared_fields(spec):
            raise CellError(f"{spec.id}: differs from the other Pythons of {key} in more than its Python")
        fields.setdefault(key, _shared_fields(spec))
        grouped.setdefault(key, []).append(spec)
    return [
        Cell(id=key, specs=tuple(group), builds=tuple(numbers.get(s.id, 1) for s in group))
        for key, group in grouped.items()
    ]


def only_tuples(cell: Cell, builds: Mapping[str, int]) -> Cell:
    """The cell cut to the tuples `builds` names (those the index-aware plan left to build), numbered."""
    unknown = sorted(set(builds) - {s.id for s in cell.specs})
    if unknown:
        raise CellError(f"cell {cell.id} plans no tuple {unknown[0]!r}; the build map belongs to another plan")
    if not builds:
        raise CellError(f"cell {cell.id}: the build map names none of its tuples")
    (cut,) = cells_of([s for s in cell.specs if s.id in builds], builds)
    return cut


def batches(cells: Sequence[Cell], slots: int) -> list[list[Cell]]:
    """`slots` lists of at most GITHUB_MATRIX_LIMIT cells each (trailing ones empty), in plan order."""
    if len(cells) > slots * GITHUB_MATRIX_LIMIT:
        raise CellError(
            f"{len(cells)} cells do not fit {slots} batch jobs of {GITHUB_MATRIX_LIMIT}: "
            "add build jobs to rebuild.yml and raise its --slots"
        )
    return [list(cells[i * GITHUB_MATRIX_LIMIT : (i + 1) * GITHUB_MATRIX_LIMIT]) for i in range(slots)]


def builds_of_plan(data: Any, planned: Sequence[BuildSpec]) -> dict[str, int]:
    """Tuple id -> build number from `factory plan --json [--index URL]` output: the tuples it still
    includes, each at its "build" (1 where the plan did not ask an index). Every id must be one of
    `planned` (the same matrix and profile planned again here)."""
    include = data.get("include") if isinstance(data, dict) else None
    if not isinstance(include, list) or not all(isinstance(t, dict) and "id" in t for t in include):
        raise CellError('not the output of `factory plan --json`: no "include" list of tuples with an "id"')
    known = {s.id for s in planned}
    strangers = [str(t["id"]) for t in include if t["id"] not in known]
    if strangers:
        raise CellError(
            f"the plan names {len(strangers)} tuples this matrix and profile do not plan (e.g. {strangers[0]}): "
            "plan and batch with the same --matrix and --profile"
        )
    return {str(t["id"]): t.get("build", 1) for t in include}


def batch_outputs(cells: Sequence[Cell], slots: int) -> dict[str, str]:
    """$GITHUB_OUTPUT values: batchN (a matrix of cells) and sizeN per slot, and the totals."""
    out: dict[str, str] = {}
    for n, batch in enumerate(batches(cells, slots), start=1):
        out[f"batch{n}"] = json.dumps({"include": [c.to_json() for c in batch]}, separators=(",", ":"))
        out[f"size{n}"] = str(len(batch))
    out["cells"] = str(len(cells))
    out["tuples"] = str(sum(len(c.specs) for c in cells))
    return out


def builder_image(spec: BuildSpec) -> str:
    if spec.platform != BUILDER_PLATFORM:
        raise CellError(f"{spec.id}: no builder image for the floor {spec.platform} (only {BUILDER_PLATFORM})")
    return BUILDER_IMAGE.format(cuda=spec.cuda)


def cibw_identifier(spec: BuildSpec) -> str:
    """cibuildwheel's build identifier: `cp311-manylinux_x86_64`."""
    return f"{spec.python_tag}-manylinux_x86_64"


def build_environment(spec: BuildSpec, recipe: Recipe) -> str:
    """CIBW_ENVIRONMENT: recipe switches, archs, the image's toolkit, and the compile cache shared by the
    cell's Pythons (nvcc through ccache keyed without the build folder, torch's headers on one path)."""
    cuda_home = f"/usr/local/cuda-{spec.cuda}"
    env = {
        **recipe.build_env(spec),
        "TORCH_CUDA_ARCH_LIST": torch_arch_list(spec),
        "CUDA_HOME": cuda_home,
        "PYTORCH_NVCC": f"ccache {cuda_home}/bin/nvcc",
        "CCACHE_DIR": CONTAINER_CCACHE,
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_SLOPPINESS": "include_file_mtime,include_file_ctime,time_macros,file_stat_matches",
        **NO_NVCC_DEPFILE,
        "FACTORY_TORCH_INCLUDE": SHARED_TORCH_INCLUDE,
        "PYTHONPATH": f"{CONTAINER_FACTORY}/hooks",
        "LDFLAGS": f"{CONTAINER_FACTORY}/shim/libc_single_threaded.o",
    }
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), f"PATH={cuda_home}/bin:$PATH"])


def compile_slots(cores: int, memory_gb: float, device_targets: int) -> tuple[int, int]:
    """(MAX_JOBS, nvcc threads) for a runner: at most one device compile per core and per
    GB_PER_DEVICE_COMPILE of memory, in all; threads only as many as a file has targets (archs + PTX)."""
    budget = max(1, min(cores, int(memory_gb // GB_PER_DEVICE_COMPILE)))
    threads = max(1, min(UPSTREAM_NVCC_THREADS, device_targets, budget))
    return max(1, budget // threads), threads


def device_targets(spec: BuildSpec) -> int:
    """How many device targets nvcc compiles each file for: one per SASS arch, one more for the PTX."""
    return len(spec.archs) + (1 if spec.ptx else 0)


def runner_env(cell: Cell, cores: int, memory_gb: float, scratch: str) -> dict[str, str]:
    """What the cell's job sizes to its runner: compile parallelism, and the compile cache's volume."""
    jobs, threads = compile_slots(cores, memory_gb, device_targets(cell.first))
    return {
        "MAX_JOBS": str(jobs),
        "FACTORY_NVCC_THREADS": str(threads),
        "CIBW_CONTAINER_ENGINE": f"docker; create_args: --volume={scratch}/ccache:{CONTAINER_CCACHE}",
    }


def index_for(profile: str | None, env: Mapping[str, str]) -> tuple[str | None, str]:
    """The index a run plans against and publishes to, and why. The full matrix: PRODUCTION_INDEX; a
    profile: PROFILE_INDEX only, never the production one (without it the run publishes nothing)."""
    if not profile:
        url = env.get(PRODUCTION_INDEX) or None
        return url, f"the full matrix: {PRODUCTION_INDEX}" + ("" if url else " is not set, nothing is published")
    url = env.get(PROFILE_INDEX) or None
    why = f"profile {profile!r}: {PROFILE_INDEX}, never {PRODUCTION_INDEX}"
    return url, why + ("" if url else f"; {PROFILE_INDEX} is not set, nothing is published")


def cell_env(cell: Cell, recipe: Recipe, profile: str | None) -> dict[str, str]:
    """What the build job exports (to $GITHUB_ENV) before it runs cibuildwheel for one cell."""
    spec = cell.first
    return {
        "CIBW_BUILD": " ".join(cibw_identifier(s) for s in cell.specs),
        "CIBW_MANYLINUX_X86_64_IMAGE": builder_image(spec),
        "CIBW_ENVIRONMENT_LINUX": build_environment(spec, recipe),
        "FACTORY_CELL": cell.id,
        "FACTORY_BUILDS": json.dumps({s.id: cell.build_of(s) for s in cell.specs}, separators=(",", ":")),
        "FACTORY_PROFILE": profile or "",
        "FACTORY_TORCH_REQUIREMENT": spec.torch_requirement,
        "FACTORY_TORCH_INDEX": TORCH_INDEX.format(tag=spec.torch_cuda_tag),
        "FACTORY_IMPORTS": ",".join(recipe.import_modules),
    }


def tuple_of(cell: Cell, python_tag: str) -> BuildSpec:
    """The cell's tuple for a wheel's Python tag (`cp311`), for the repair hook."""
    for spec in cell.specs:
        if spec.python_tag == python_tag:
            return spec
    have = ", ".join(s.python_tag for s in cell.specs)
    raise CellError(f"cell {cell.id} plans no {python_tag} tuple (it has {have})")


def render_env(env: dict[str, str]) -> str:
    """KEY=VALUE lines, the $GITHUB_ENV / $GITHUB_OUTPUT format (no value may span lines)."""
    for key, value in env.items():
        if "\n" in value:
            raise CellError(f"{key}: a $GITHUB_ENV value cannot contain a newline")
    return "".join(f"{k}={v}\n" for k, v in env.items())
