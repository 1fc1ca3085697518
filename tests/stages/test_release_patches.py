"""Each release matrix.toml plans gets its recipe's patches applied to its own upstream files.

The fixtures under tests/fixtures/pypi/sdists/<sdist>/ are files of PyPI's sdists, stored as `<file>.txt`
(so ruff skips them): every release's setup.py, and the other files a patch of that release edits.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.version import Version
from spec_builders import make_spec

from factory.plan.expand import selected_releases
from factory.plan.job import resolve
from factory.plan.matrix import load_matrix
from factory.plan.recipes import load_recipes, recipe_for
from factory.plan.releases import Release, load_releases
from factory.plan.spec import BuildSpec
from factory.stages.patches import apply_patches
from factory.stages.records import StageFailed

ROOT = Path(__file__).resolve().parents[2]
SDISTS = ROOT / "tests" / "fixtures" / "pypi" / "sdists"


def policy_releases() -> list[Release]:
    matrix = load_matrix(ROOT / "matrix.toml")
    releases = load_releases()
    full = matrix.profile(None)
    return [r for entry in matrix.packages for r in selected_releases(entry, releases, full)]


def representative(release: Release) -> BuildSpec:
    """torch 2.14 + CUDA 13.0 + CPython 3.11, new ABI, sm_90 and its PTX."""
    return make_spec(package=release.package, version=release.version, ptx="90")


def unpack_fixture(release: Release, into: Path) -> Path:
    source = into / release.sdist.removesuffix(".tar.gz")
    fixture = SDISTS / source.name
    assert (fixture / "setup.py.txt").is_file(), f"no fixture of {release.sdist}'s setup.py in {fixture}"
    for stored in fixture.rglob("*.txt"):
        target = source / stored.relative_to(fixture).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stored, target)
    return source


@pytest.mark.parametrize("release", policy_releases(), ids=lambda r: f"{r.package}-{r.version}")
def test_patches_apply_to_the_release_s_own_files(release: Release, tmp_path: Path) -> None:
    spec = representative(release)
    patches = resolve(spec, load_recipes()).patches
    source = unpack_fixture(release, tmp_path)
    applied = apply_patches(source, patches)
    assert [a["name"] for a in applied] == [p.name for p in patches]
    setup = (source / "setup.py").read_text()
    compile(setup, "setup.py", "exec")  # still Python
    assert (
        "cc_flag = ['-gencode', 'arch=compute_90,code=sm_90', '-gencode', 'arch=compute_90,code=compute_90']" in setup
    )
    assert 'cc_flag.append("-gencode")' not in setup  # upstream's own arch list is gone
    if release.package == "mamba-ssm":  # torch >= 2.13 needs C++20; causal-conv1d leaves it to torch
        assert "-std=c++17" not in setup and "-std=c++20" in setup
        # mamba-ssm < 2.3 imports a name transformers 5 removed: its pyproject.toml (setup.py before 2.2.3) caps it
        if release.version < Version("2.3"):
            project = source / "pyproject.toml"
            assert '"transformers<5",' in (project.read_text() if project.exists() else setup)
    else:
        assert "-std=c++20" not in setup


def test_every_planned_release_has_its_fixture() -> None:
    names = {r.sdist.removesuffix(".tar.gz") for r in policy_releases()}
    assert len([n for n in names if n.startswith("causal_conv1d")]) >= 3
    assert len([n for n in names if n.startswith("mamba_ssm")]) >= 3
    assert names <= {d.name for d in SDISTS.iterdir()}


def test_mamba_2_2_5_gets_the_cccl3_patches(tmp_path: Path) -> None:
    release = next(r for r in policy_releases() if str(r.version) == "2.2.5")
    source = unpack_fixture(release, tmp_path)
    apply_patches(source, resolve(representative(release), load_recipes()).patches)
    scan = (source / "csrc" / "selective_scan" / "reverse_scan.cuh").read_text()
    assert "cub::LaneId" not in scan and "cub::CTA_SYNC()" not in scan
    assert scan.count("__syncthreads()") >= 2
    # CUDA 12 has cub::LaneId and cub::CTA_SYNC: no such patch there
    cu12 = make_spec(version=Version("2.2.5"), cuda=Version("12.8"), torch_cuda=Version("12.8"))
    assert not any(p.name.startswith("cccl3") for p in recipe_for(load_recipes(), "mamba-ssm").patches_for(cu12))


def test_a_patch_that_no_longer_applies_fails_with_its_name(tmp_path: Path) -> None:
    release = next(r for r in policy_releases() if str(r.version) == "2.2.5")
    source = unpack_fixture(release, tmp_path)
    scan = source / "csrc" / "selective_scan" / "reverse_scan.cuh"
    scan.write_text(scan.read_text().replace("cub::LaneId()", "cub::laneid()"))  # "upstream changed"
    patches = resolve(representative(release), load_recipes()).patches
    with pytest.raises(StageFailed, match="patch 'cccl3-lane-id' expects 'cub::LaneId\\(\\)' at least 1x"):
        apply_patches(source, patches)


FAKE_TORCH_2_3 = (
    "import types\nlibrary = types.SimpleNamespace()  # torch 2.3: no custom_op\nTensor = type('Tensor', (), {})\n"
)


@pytest.mark.parametrize("release", [r for r in policy_releases() if (SDISTS / r.sdist.removesuffix(".tar.gz") /
                         "causal_conv1d" / "cpp_functions.py.txt").exists()], ids=lambda r: str(r.version))  # fmt: skip
def test_causal_conv1d_imports_on_torch_2_3_with_the_custom_op_fallback(release: Release, tmp_path: Path) -> None:
    """torch 2.3 lacks torch.library.custom_op: the op wrappers become plain functions calling the extension."""
    old = make_spec(package=release.package, version=release.version, torch=Version("2.3.1"),
                    cuda=Version("12.4"), torch_cuda=Version("12.1"), cxx11_abi=False, ptx="90")  # fmt: skip
    patches = resolve(old, load_recipes()).patches
    assert {"custom-op-fallback", "custom-op-decorators"} <= {p.name for p in patches}
    source = unpack_fixture(release, tmp_path / "src")
    apply_patches(source, patches)
    module = (source / "causal_conv1d" / "cpp_functions.py").read_text()
    assert "@torch.library.custom_op(" not in module
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(FAKE_TORCH_2_3)
    (tmp_path / "causal_conv1d_cuda.py").write_text("def causal_conv1d_fwd(*args):\n    print('called', args)\n")
    (tmp_path / "cpp_functions.py").write_text(module)
    call = (
        "import cpp_functions; cpp_functions._causal_conv1d_fwd_cpp(x=1, weight=2, bias=None, seq_idx=None, "
        "initial_states=None, out=3, final_states_out=None, silu_activation=True)"
    )
    done = subprocess.run([sys.executable, "-c", call], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "called (1, 2, None, None, None, 3, None, True)"
    # torch 2.4 and newer keep upstream's registered ops
    assert not {"custom-op-fallback", "custom-op-decorators"} & {
        p.name for p in resolve(representative(release), load_recipes()).patches
    }
