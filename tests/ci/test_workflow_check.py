"""The GitHub workflows against matrix.toml and the planner; their shell steps run for real here."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version
from spec_builders import make_spec
from workflow_docs import (
    ROOT,
    WORKFLOW_FILES,
    WORKFLOWS,
    cells_problems,
    full_cells,
    full_plan,
    load,
    rebuild_problems,
    step,
)

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from factory.ci.check import check_ci, check_coverage, check_rebuild  # noqa: E402
from factory.ci.check_cells import check_cells_workflow  # noqa: E402
from factory.ci.hardening import check_permissions  # noqa: E402
from factory.ci.workflow import (  # noqa: E402
    CellError,
    batches,
    cell_env,
    cells_of,
    compile_slots,
    render_env,
)
from factory.cli import build_parser, main  # noqa: E402
from factory.commands.common import plan_from_args  # noqa: E402
from factory.plan.expand import plan  # noqa: E402
from factory.plan.knowledge import load_knowledge  # noqa: E402
from factory.plan.matrix import load_matrix  # noqa: E402
from factory.plan.recipes import load_recipes, recipe_for  # noqa: E402

BIN = Path(sys.executable).parent


def synthetic_cells(count: int) -> list[Any]:
    """`count` distinct cells of two Pythons each (releases 1.0 … count), beyond what matrix.toml plans."""
    specs = [make_spec(version=Version(f"1.{i}"), python=py) for i in range(count) for py in ("3.11", "3.12")]
    return cells_of(specs)


def test_factory_workflow_check_passes_with_every_action_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    """The actions are used by commit SHA (read from each action's repository at its release tag, the tag
    kept as a comment), so the whole check passes; an action put back on a tag fails it."""
    code = main(["workflow", "check", "--matrix", str(ROOT / "matrix.toml"), "--workflows", str(WORKFLOWS)])
    out = capsys.readouterr().out
    assert code == 0 and "workflows agree" in out, out
    uses = sum(len(re.findall(r"^\s*(?:- )?uses: [\w-]+/[\w-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$",
                              (WORKFLOWS / n).read_text(), re.M)) for n in WORKFLOW_FILES)  # fmt: skip
    assert uses == 9


def test_an_action_used_by_tag_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "workflows"
    copy.mkdir()
    for name in WORKFLOW_FILES:
        (copy / name).write_text((WORKFLOWS / name).read_text())
    ci = copy / "ci.yml"
    ci.write_text(re.sub(r"actions/checkout@[0-9a-f]{40} # v[\d.]+", "actions/checkout@v5", ci.read_text()))
    code = main(["workflow", "check", "--matrix", str(ROOT / "matrix.toml"), "--workflows", str(copy)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1 and [line for line in out if "is not pinned to a commit SHA" in line] == out and len(out) == 1


def test_the_rest_of_the_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    m = load_matrix(ROOT / "matrix.toml")
    assert check_rebuild(load("rebuild.yml"), m, full_cells()) == []
    assert check_cells_workflow(load("build-cells.yml"), "4.3.5") == []
    assert all(check_permissions(load(n)) == [] for n in WORKFLOW_FILES)


def test_cells_group_every_python_of_one_build() -> None:
    (cells,) = full_cells().values()
    tuples = [t for c in cells for t in c.to_json()["tuples"]]
    # the counts follow the plan (compat.toml drops what builds showed; tests/plan checks the plan's own figures)
    assert len(tuples) == len(set(tuples)) == len(full_plan().include) and len(cells) > 190
    old = next(c for c in cells if c.id == "causal-conv1d-1.7.0-cu11.8-torch2.3-abi0")
    assert old.to_json()["pythons"] == ["3.9", "3.10", "3.11", "3.12"]
    with pytest.raises(CellError, match="more than its Python"):
        cells_of([make_spec(python="3.11"), make_spec(python="3.12", archs=("80",))])


def test_more_than_256_cells_are_covered_exactly_once() -> None:
    doc = load("rebuild.yml")
    cells = synthetic_cells(700)  # 3 batches of the 4 slots rebuild.yml declares
    assert len(cells) == 700 and [len(b) for b in batches(cells, 4)] == [256, 256, 188, 0]
    assert check_coverage(doc, cells, "synthetic") == []

    one_job_fewer = copy.deepcopy(doc)
    del one_job_fewer["jobs"]["build3"]
    assert any("188 cells built by no job" in p for p in check_coverage(one_job_fewer, cells, "synthetic"))

    twice = copy.deepcopy(doc)
    twice["jobs"]["build4"]["with"]["cells"] = "${{ needs.plan.outputs.batch1 }}"
    assert any("256 cells built by more than one job" in p for p in check_coverage(twice, cells, "synthetic"))

    too_many = synthetic_cells(1100)
    assert any("1100 cells do not fit 4 batch jobs" in p for p in check_coverage(doc, too_many, "synthetic"))


def test_batch_outputs_must_be_declared_and_come_from_the_factory() -> None:
    def no_output(doc: dict[Any, Any]) -> None:
        del doc["jobs"]["plan"]["outputs"]["batch2"]

    def hand_written(doc: dict[Any, Any]) -> None:
        step(doc, "plan", "plan")["run"] = 'echo "batch1={\\"include\\":[]}" >> "$GITHUB_OUTPUT"'

    assert any("outputs has no batch2" in p for p in rebuild_problems(no_output))
    assert any("factory workflow batches --slots N" in p for p in rebuild_problems(hand_written))


def test_profiles_offered_must_be_matrix_toml_profiles() -> None:
    def unknown(doc: dict[Any, Any]) -> None:
        doc[True]["workflow_dispatch"]["inputs"]["profile"]["options"].append("nightly")

    def missing(doc: dict[Any, Any]) -> None:
        doc[True]["workflow_dispatch"]["inputs"]["profile"]["options"].remove("quick")

    assert any("offers 'nightly'" in p for p in rebuild_problems(unknown))
    assert any("profile 'quick' is not among" in p for p in rebuild_problems(missing))


def test_cells_workflow_checks() -> None:
    def edit(doc: dict[Any, Any]) -> None:
        job = doc["jobs"]["cell"]
        job["strategy"]["fail-fast"] = True
        job["strategy"]["matrix"] = {"include": [{"id": "causal-conv1d-1.7.0-cu13.0-torch2.14-abi1"}]}
        build = step(doc, "cell", "build")
        build["env"]["CIBW_BEFORE_BUILD_LINUX"] = build["env"]["CIBW_BEFORE_BUILD_LINUX"].replace("setuptools ", "")
        build["env"]["CIBW_ENVIRONMENT_PASS_LINUX"] = "FACTORY_CELL FACTORY_UPLOAD_TOKEN"
        upload = next(s for s in job["steps"] if "upload-artifact" in str(s.get("uses")))
        del upload["with"]["retention-days"]
        job["steps"] = [s for s in job["steps"] if "Disk for" not in str(s.get("name"))]

    assert check_cells_workflow(load("build-cells.yml"), "4.3.5") == []
    found = cells_problems(edit)
    assert any("fail-fast must be false" in p for p in found)
    assert any("fromJSON(inputs.cells)" in p for p in found)
    assert any("does not install ['setuptools']" in p for p in found)
    assert any("'MAX_JOBS', 'FACTORY_NVCC_THREADS']" in p for p in found)
    assert any("hands ['FACTORY_UPLOAD_TOKEN'] to the container" in p for p in found)
    assert any("retention-days" in p for p in found)
    assert any("Docker's data root" in p for p in found)


def test_ci_runs_the_readme_test_command() -> None:
    ci = load("ci.yml")
    assert check_ci(ci) == []
    ci["jobs"]["test"]["steps"] = [s for s in ci["jobs"]["test"]["steps"] if s.get("run") != "bash .ci/run"]
    assert check_ci(ci)


def run_step(script: str, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run a workflow `run:` script with the shell Actions uses for `shell: bash`; return what it wrote
    to $GITHUB_OUTPUT and $GITHUB_ENV."""
    files = {k: tmp_path / k.lower() for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    full = {**os.environ, **env, **{k: str(v) for k, v in files.items()}, "PATH": f"{BIN}:{os.environ['PATH']}"}
    work = tmp_path / "checkout"  # the step's working directory: a checkout's matrix.toml, nothing else
    (work / "work" / "tables").mkdir(parents=True)
    shutil.copy(ROOT / "matrix.toml", work / "matrix.toml")
    for table in ("releases.toml", "pytorch.toml"):  # what the discover step writes when PyPI has nothing new
        shutil.copy(ROOT / "factory" / "data" / table, work / "work" / "tables" / table)
    argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    subprocess.run(argv, cwd=work, env=full, check=True, timeout=120)
    out: dict[str, str] = {}
    for key in ("GITHUB_OUTPUT", "GITHUB_ENV"):
        if files[key].exists():
            for line in files[key].read_text().splitlines():
                name, _, value = line.partition("=")
                out[name] = value
    return out


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_plan_step_emits_the_planner_cells(profile: str, tmp_path: Path) -> None:
    # without the index secret (a first run, a fork): every planned cell, every tuple at build 1
    env = {"PROFILE": profile, "FACTORY_INDEX_URL": "", "FACTORY_PROFILE_INDEX_URL": ""}
    outputs = run_step(step(load("rebuild.yml"), "plan", "plan")["run"], env, tmp_path)
    args = ["plan", "--json"] + ([] if profile == "full" else ["--profile", profile])
    expected = [c.to_json() for c in cells_of(plan_from_args(build_parser().parse_args(args)).include)]
    emitted = [c for n in range(1, 5) for c in json.loads(outputs[f"batch{n}"])["include"]]
    assert emitted == expected
    assert int(outputs["cells"]) == len(expected) == (2 if profile == "quick" else len(cells_of(full_plan().include)))
    assert outputs["profile"] == ("" if profile == "full" else profile)
    assert {n for c in emitted for n in c["builds"].values()} == {1}


def test_failing_factory_fails_the_cell_settings_step(tmp_path: Path) -> None:
    script = step(load("build-cells.yml"), "cell", "Cell settings")["run"]
    with pytest.raises(subprocess.CalledProcessError):  # piped into tee: only pipefail catches it
        run_step(script, {"PROFILE": "quick", "CELL": "no-such-cell"}, tmp_path)


def test_cell_settings_step(tmp_path: Path) -> None:
    cell = "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-abi1"
    script = step(load("build-cells.yml"), "cell", "Cell settings")["run"]
    builds = json.dumps({"mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1": 2}, indent=2)  # as toJSON writes
    env = run_step(script, {"PROFILE": "quick", "CELL": cell, "BUILDS": builds, "FACTORY_SCRATCH": "/mnt/f"}, tmp_path)
    assert env["CIBW_BUILD"] == "cp311-manylinux_x86_64"
    assert json.loads(env["FACTORY_BUILDS"]) == {"mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1": 2}
    assert env["CIBW_MANYLINUX_X86_64_IMAGE"] == "pytorch/manylinux2_28-builder:cuda13.0"
    assert env["FACTORY_CELL"] == cell and env["FACTORY_PROFILE"] == "quick"
    assert env["FACTORY_IMPORTS"] == "selective_scan_cuda"
    build_env = env["CIBW_ENVIRONMENT_LINUX"].split()
    assert "MAMBA_FORCE_BUILD=TRUE" in build_env and "MAMBA_FORCE_CXX11_ABI=TRUE" in build_env
    assert "TORCH_CUDA_ARCH_LIST=9.0" in build_env and "CUDA_HOME=/usr/local/cuda-13.0" in build_env
    assert "'ccache /usr/local/cuda-13.0/bin/nvcc'" in env["CIBW_ENVIRONMENT_LINUX"]
    # sized to this machine (sm_90 alone: one device target per file, so one nvcc thread)
    meminfo = Path("/proc/meminfo").read_text()
    memory_gb = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)[1]) / 1024 / 1024  # type: ignore[index]
    assert (env["MAX_JOBS"], env["FACTORY_NVCC_THREADS"]) == tuple(
        map(str, compile_slots(os.cpu_count() or 1, memory_gb, 1))
    )
    assert env["FACTORY_NVCC_THREADS"] == "1"
    assert env["CIBW_CONTAINER_ENGINE"] == "docker; create_args: --volume=/mnt/f/ccache:/tmp/factory-ccache"


def test_old_torch_cells_build_in_the_2_28_image_and_get_that_floor() -> None:
    m, k, r = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    cells = {c.id: c for c in cells_of(plan(m, k, r).include)}
    old = cells["causal-conv1d-1.7.0-cu11.8-torch2.3-abi0"]
    env = cell_env(old, recipe_for(r, old.first.package), None)
    assert env["CIBW_MANYLINUX_X86_64_IMAGE"] == "pytorch/manylinux2_28-builder:cuda11.8"
    assert (
        env["CIBW_BUILD"]
        == "cp39-manylinux_x86_64 cp310-manylinux_x86_64 cp311-manylinux_x86_64 cp312-manylinux_x86_64"
    )
    assert {s.platform for s in old.specs} == {"manylinux_2_28_x86_64"}  # torch 2.3's own floor is 2_17
    assert env["FACTORY_TORCH_REQUIREMENT"] == "torch==2.3.1+cu118"
    assert env["FACTORY_TORCH_INDEX"] == "https://download.pytorch.org/whl/cu118"
    assert env["FACTORY_PROFILE"] == ""
    with pytest.raises(CellError, match="newline"):
        render_env({"A": "x\ny"})


def test_hook_commands_survive_cibuildwheel_placeholders() -> None:
    from cibuildwheel.util.helpers import prepare_command

    build = step(load("build-cells.yml"), "cell", "build")["env"]
    command = prepare_command(build["CIBW_REPAIR_WHEEL_COMMAND_LINUX"], wheel="/w/x.whl", dest_dir="/out")
    assert '--sdist "$FACTORY_SDIST" --torch-python python --wheel /w/x.whl --dest /out &&' in command
    assert "factory repair" in command and '--cell "$FACTORY_CELL" --wheel /w/x.whl)"' in command
    assert '--build "$(/opt/factory/bin/factory workflow tuple-build' in command
    assert '--builds "$FACTORY_BUILDS" --wheel /w/x.whl)"' in command
    before = prepare_command(build["CIBW_BEFORE_BUILD_LINUX"], package="/project/work/src/x", project="/project")
    assert "factory workflow patch" not in before  # once per cell, on the runner (the sdist step)
    passed = build["CIBW_ENVIRONMENT_PASS_LINUX"].split()
    assert {
        "MAX_JOBS", "FACTORY_CELL", "FACTORY_PROFILE", "FACTORY_TORCH_REQUIREMENT", "FACTORY_IMPORTS",
        "FACTORY_BUILDS", "FACTORY_SDIST",
    } <= set(passed)  # fmt: skip


def test_tuple_id_picks_the_wheels_python(capsys: pytest.CaptureFixture[str]) -> None:
    cell = "causal-conv1d-1.7.0-cu11.8-torch2.3-abi0"
    args = ["workflow", "tuple-id", "--matrix", str(ROOT / "matrix.toml"), "--cell", cell, "--wheel"]
    assert main([*args, "causal_conv1d-1.7.0-cp310-cp310-linux_x86_64.whl"]) == 0
    assert capsys.readouterr().out.strip() == "causal-conv1d-1.7.0-cu11.8-torch2.3-cp310-abi0"
    assert main([*args, "causal_conv1d-1.7.0-cp313-cp313-linux_x86_64.whl"]) != 0
    assert "plans no cp313 tuple" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sdist", "cell", "cxx20"),
    [
        ("mamba_ssm-2.3.2.post1", "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-abi1", True),
        ("causal_conv1d-1.7.0", "causal-conv1d-1.7.0-cu13.0-torch2.14-abi1", False),
    ],
)
def test_patch_applies_the_recipe_to_the_upstream_setup_py(
    sdist: str, cell: str, cxx20: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / sdist
    source.mkdir()
    upstream = ROOT / "tests" / "fixtures" / "pypi" / "sdists" / sdist / "setup.py.txt"
    shutil.copy(upstream, source / "setup.py")
    args = ["workflow", "patch", "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick"]
    assert main([*args, "--cell", cell, "--source", str(source)]) == 0
    patched = (source / "setup.py").read_text()
    assert "cc_flag = ['-gencode', 'arch=compute_90,code=sm_90']" in patched
    assert "arch=compute_80,code=sm_80" not in patched  # upstream's own list is gone
    assert ("-std=c++20" in patched) == cxx20 and ("-std=c++17" not in patched) == cxx20
    assert "patched setup.py" in capsys.readouterr().out
    compile(patched, "setup.py", "exec")  # still Python


def test_plan_json_cells(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--json", "--cells", "--matrix", str(ROOT / "matrix.toml")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["include"]) == len(full_plan().include)
    assert len(data["cells"]) == len(cells_of(full_plan().include))
    assert sorted(t for c in data["cells"] for t in c["tuples"]) == sorted(t["id"] for t in data["include"])
    cp315 = [d for d in data["dropped"] if d.get("python") == "3.15" and d["package"] == "mamba-ssm"]
    assert any("no cp315 wheel" in d["reason"] and d["torch"] == "2.15" for d in cp315)


def test_cibuildwheel_can_build_every_planned_python(tmp_path: Path) -> None:
    m, k, r = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    cells = cells_of(plan(m, k, r).include)
    wanted = {i for c in cells for i in cell_env(c, recipe_for(r, c.first.package), None)["CIBW_BUILD"].split()}
    build = step(load("build-cells.yml"), "cell", "build")["env"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    env = {**os.environ, "CIBW_BUILD": " ".join(sorted(wanted)), "CIBW_ARCHS_LINUX": build["CIBW_ARCHS_LINUX"]}
    done = subprocess.run(
        [str(BIN / "cibuildwheel"), "--print-build-identifiers", "--platform", "linux"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == wanted


OLD_CELL = "causal-conv1d-1.7.0-cu11.8-torch2.3-abi0"  # Pythons 3.9 to 3.12 in the full matrix


def old_tuple(python: str) -> str:
    return f"causal-conv1d-1.7.0-cu11.8-torch2.3-cp{python.replace('.', '')}-abi0"


def index_plan(tmp_path: Path, builds: dict[str, int]) -> Path:
    """What `factory plan --json --cells --index URL` writes when the index holds every other tuple."""
    data = json.loads(_plan_json())
    included = [{**t, "build": builds[t["id"]]} for t in data["include"] if t["id"] in builds]
    body = {**data, "include": included, "unchanged": [t["id"] for t in data["include"] if t["id"] not in builds]}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(body))
    return path


def _plan_json() -> str:
    args = build_parser().parse_args(["plan", "--json", "--matrix", str(ROOT / "matrix.toml")])
    return json.dumps(plan_from_args(args).to_json())


def test_batches_carry_each_tuples_build_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the index holds cp39 to cp311 of one cell at an older key (build 2 next) and never had cp312 (build 1)
    builds = {old_tuple("3.9"): 2, old_tuple("3.10"): 2, old_tuple("3.12"): 1}
    argv = ["workflow", "batches", "--slots", "4", "--matrix", str(ROOT / "matrix.toml")]
    assert main([*argv, "--plan", str(index_plan(tmp_path, builds))]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert out["cells"] == "1" and out["tuples"] == "3" and out["size1"] == "1" and out["size2"] == "0"
    (cell,) = json.loads(out["batch1"])["include"]
    assert cell["id"] == OLD_CELL and cell["pythons"] == ["3.9", "3.10", "3.12"] and cell["builds"] == builds

    # nothing new on the index: zero cells, every slot empty (rebuild.yml then skips build and publish)
    assert main([*argv, "--plan", str(index_plan(tmp_path, {}))]) == 0
    out = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert out["cells"] == "0" and all(out[f"size{n}"] == "0" for n in range(1, 5))

    stranger = tmp_path / "other.json"
    stranger.write_text(json.dumps({"include": [{"id": "nope-1.0-cu13.0-torch2.14-cp311-abi1", "build": 1}]}))
    assert main([*argv, "--plan", str(stranger)]) != 0
    assert "do not plan" in capsys.readouterr().err


def test_cell_env_and_hook_use_the_per_tuple_build_map(capsys: pytest.CaptureFixture[str]) -> None:
    builds = json.dumps({old_tuple("3.10"): 3, old_tuple("3.12"): 1})
    base = ["--matrix", str(ROOT / "matrix.toml"), "--cell", OLD_CELL, "--builds", builds]
    assert main(["workflow", "cell-env", *base]) == 0
    env = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines())
    assert env["CIBW_BUILD"] == "cp310-manylinux_x86_64 cp312-manylinux_x86_64"  # only what the plan left
    for wheel, number in (("cp310", "3"), ("cp312", "1")):
        assert (
            main(["workflow", "tuple-build", *base, "--wheel", f"causal_conv1d-1.7.0-{wheel}-{wheel}-linux_x86_64.whl"])
            == 0
        )
        assert capsys.readouterr().out.strip() == number
    assert main(["workflow", "tuple-build", *base, "--wheel", "causal_conv1d-1.7.0-cp39-cp39-linux_x86_64.whl"]) != 0
    assert "plans no cp39 tuple" in capsys.readouterr().err
    bad = ["--matrix", str(ROOT / "matrix.toml"), "--cell", OLD_CELL, "--builds", json.dumps({old_tuple("3.9"): 0})]
    assert main(["workflow", "cell-env", *bad]) != 0
    assert "whole numbers from 1" in capsys.readouterr().err


def test_index_plan_build_and_sdist_flags_are_required() -> None:
    def no_index(doc: dict[Any, Any]) -> None:
        plan_step = step(doc, "plan", "plan")
        plan_step["run"] = plan_step["run"].replace("--cells --index", "--cells")

    def no_hook_flags(doc: dict[Any, Any]) -> None:
        build = step(doc, "cell", "build")["env"]
        hook = build["CIBW_REPAIR_WHEEL_COMMAND_LINUX"]
        build["CIBW_REPAIR_WHEEL_COMMAND_LINUX"] = hook.replace("--build ", "--x ").replace("--sdist ", "--y ")
        build["CIBW_ENVIRONMENT_PASS_LINUX"] = build["CIBW_ENVIRONMENT_PASS_LINUX"].replace("FACTORY_SDIST", "")

    assert any("factory plan --json --cells --index URL" in p for p in rebuild_problems(no_index))
    found = cells_problems(no_hook_flags)
    assert any("does not pass --build" in p for p in found) and any("does not pass --sdist" in p for p in found)
    assert any("['FACTORY_SDIST']" in p for p in found)
