"""Pure pieces of the build spine: flags, patches, failure classification, metadata, guard."""

import sys
import types
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version
from spec_builders import make_spec

from factory.plan.job import gencode_flags, resolve, torch_arch_list
from factory.plan.platform_tag import PlatformTag
from factory.plan.recipes import load_recipes
from factory.plan.spec import BuildSpec
from factory.stages.auditwheel import check_show
from factory.stages.build_log import classify_failure
from factory.stages.patches import apply_patches
from factory.stages.records import StageFailed
from factory.stages.repair_plan import render_guard
from factory.stages.wheel_metadata import rewrite_dependencies, rewrite_metadata


def spec(**kw: object) -> BuildSpec:
    return make_spec(**{"archs": ("80", "90"), "ptx": "90", **kw})


def test_gencode_and_arch_list() -> None:
    s = spec(archs=("80", "90", "120"), ptx="120")
    assert gencode_flags(s) == [
        "-gencode", "arch=compute_80,code=sm_80",
        "-gencode", "arch=compute_90,code=sm_90",
        "-gencode", "arch=compute_120,code=sm_120",
        "-gencode", "arch=compute_120,code=compute_120",
    ]  # fmt: skip
    assert torch_arch_list(s) == "8.0;9.0;12.0+PTX"
    assert torch_arch_list(spec(archs=("90",), ptx=None)) == "9.0"


def test_real_recipe_patches_apply_to_a_setup_py_shaped_like_upstream(tmp_path: Path) -> None:
    setup = tmp_path / "setup.py"
    setup.write_text(
        "cc_flag = []\n"
        'cc_flag.append("-gencode")\ncc_flag.append("arch=compute_75,code=sm_75")\n'
        'cc_flag.append("-gencode")\ncc_flag.append("arch=compute_80,code=sm_80")\n'
        'if v >= 11.8:\n    cc_flag.append("-gencode")\n    cc_flag.append("arch=compute_90,code=sm_90")\n'
        'if v >= 12.8:\n    cc_flag.append("-gencode")\n    cc_flag.append("arch=compute_100,code=sm_100")\n'
        'args = {"cxx": ["-O3", "-std=c++17"], "nvcc": ["-std=c++17"]}\n'
    )
    s = spec(archs=("90",), ptx=None)
    applied = apply_patches(tmp_path, resolve(s, load_recipes()).patches)
    text = setup.read_text()
    assert "compute_75" not in text and "compute_100" not in text
    assert "cc_flag = ['-gencode', 'arch=compute_90,code=sm_90']" in text
    assert text.count("-std=c++20") == 2 and "c++17" not in text
    assert [p["name"] for p in applied] == ["archs-from-tuple", "gencode-list", "cxx20-for-torch-2.13"]
    compile(text, "setup.py", "exec")  # still valid Python


def test_cxx20_patch_only_for_new_torch() -> None:
    recipe = load_recipes()[canonicalize_name("mamba-ssm")]
    old = spec(torch=Version("2.9.1"), cuda=Version("12.8"), torch_cuda=Version("12.8"))
    assert "cxx20-for-torch-2.13" not in [p.name for p in recipe.patches_for(old)]
    assert "cxx20-for-torch-2.13" in [p.name for p in recipe.patches_for(spec())]


def test_patch_that_no_longer_matches_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text("nothing to see\n")
    with pytest.raises(StageFailed, match="upstream changed") as err:
        apply_patches(tmp_path, resolve(spec(), load_recipes()).patches)
    assert err.value.cause == "patch-failed"


@pytest.mark.parametrize(
    ("log", "cause", "line"),
    [
        (
            'ninja: build\n/src/csrc/a.cu(6): error: identifier "requires" is undefined\nmore\n',
            "compiler-error",
            '/src/csrc/a.cu(6): error: identifier "requires" is undefined',
        ),
        (
            "/src/b.cpp:12:5: error: 'span' is not a member of 'std'\n",
            "compiler-error",
            "/src/b.cpp:12:5: error: 'span' is not a member of 'std'",
        ),
        (
            "x.o: undefined reference to `foo'\ncollect2: error: ld returned 1 exit status\n",
            "link-error",
            "x.o: undefined reference to `foo'",
        ),
        (
            "Traceback\nModuleNotFoundError: No module named 'torch'\n",
            "build-dependency-missing",
            "ModuleNotFoundError: No module named 'torch'",
        ),
    ],
)
def test_classify_failure(log: str, cause: str, line: str) -> None:
    assert classify_failure(log) == (cause, line)


def test_dependency_rewrite_follows_torchs_own_pin() -> None:
    requires = ["triton>=3.5.0", "einops", "packaging"]
    torch_pins = ['triton==3.3.1; platform_system == "Linux"', "sympy>=1.13.3", "filelock"]
    new, changes = rewrite_dependencies(requires, torch_pins)
    assert new == ["triton==3.3.1", "einops", "packaging"]
    assert changes and "torch pins triton==3.3.1" in changes[0]
    same, none = rewrite_dependencies(["triton>=3.5.0"], ["triton==3.6.0"])
    assert same == ["triton>=3.5.0"] and none == []


def test_metadata_gets_label_and_pin() -> None:
    meta = (
        "Metadata-Version: 2.1\nName: mamba_ssm\nVersion: 2.3.2.post1\nRequires-Dist: torch\n"
        "Requires-Dist: triton>=3.5.0\nRequires-Dist: einops\n\nLong description\n"
    )
    text, _ = rewrite_metadata(meta, spec(), ["triton==3.8.0"])
    assert "Version: 2.3.2.post1+cu.13.0.torch.2.14.abi.1\n" in text
    assert "Requires-Dist: torch>=2.14,<2.15\n" in text and "Requires-Dist: torch\n" not in text
    assert "Requires-Dist: triton>=3.5.0" in text and text.endswith("\n\nLong description\n")


def test_show_must_agree_with_the_floor() -> None:
    ok = {"sym_tag": "manylinux_2_24_x86_64", "external_libs": {"libc10.so": None, "libcudart.so.13": "/x"}}
    check_show(ok, spec().platform)
    with pytest.raises(StageFailed, match="newer than the floor") as err:
        check_show({"sym_tag": "manylinux_2_34_x86_64", "external_libs": {}}, spec().platform)
    assert err.value.cause == "repair-refused-floor"
    with pytest.raises(StageFailed, match=r"libfoo\.so"):
        check_show({"sym_tag": "manylinux_2_17_x86_64", "external_libs": {"libfoo.so": "/x"}}, spec().platform)
    assert PlatformTag.parse("manylinux2014_x86_64").glibc == (2, 17)
    assert PlatformTag.parse("manylinux1_x86_64").glibc == (2, 5)  # PEP 600's meaning
    assert PlatformTag.parse("linux_x86_64").newer_than(PlatformTag.parse("manylinux_2_28_x86_64"))


def _run_guard(s: BuildSpec, torch_version: str, cuda: str | None, abi: bool) -> None:
    fake = types.ModuleType("torch")
    fake.__version__ = torch_version  # type: ignore[attr-defined]
    fake.version = types.SimpleNamespace(cuda=cuda)  # type: ignore[attr-defined]
    fake._C = types.SimpleNamespace(_GLIBCXX_USE_CXX11_ABI=abi)  # type: ignore[attr-defined]
    saved = sys.modules.get("torch")
    sys.modules["torch"] = fake
    try:
        exec(compile(render_guard(s, {"sass": ["90"], "ptx": []}, ()), "_factory_guard.py", "exec"), {})
    finally:
        if saved is None:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved


def test_import_guard() -> None:
    s = spec()
    _run_guard(s, "2.14.1+cu130", "13.0", True)  # the matching torch loads
    with pytest.raises(ImportError, match=r"torch 2\.9\.1\+cu128 is installed.*cu12/simple"):
        _run_guard(s, "2.9.1+cu128", "12.8", True)
    with pytest.raises(ImportError, match=r"CUDA 12\.6, this build for CUDA 13"):
        _run_guard(s, "2.14.1+cu126", "12.6", True)
    with pytest.raises(ImportError, match="ABI=0"):
        _run_guard(s, "2.14.1", "13.0", False)
    with pytest.raises(ImportError, match="CPU-only"):
        _run_guard(s, "2.14.1+cpu", None, True)


def test_completed_summary_names_the_error() -> None:
    from factory.process import Completed

    out = "Resolved 3 packages\n  × No solution found: torch==9.9 is unavailable\nerror: resolution failed\nhint: x\n"
    assert Completed(("uv",), 1, 0.1, out).summary() == "error: resolution failed"
    assert Completed(("x",), 1, 0.1, "first\nlast\n\n").summary() == "last"
    assert Completed(("x",), 1, 0.1, "").summary() == "(no output)"
