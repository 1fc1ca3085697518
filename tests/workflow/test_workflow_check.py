"""The GitHub workflows against matrix.toml and the planner; their shell steps run for real here."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from factory.cli import main  # noqa: E402
from factory.commands.common import plan_from_args  # noqa: E402
from factory.knowledge import load_knowledge  # noqa: E402
from factory.matrix import load_matrix  # noqa: E402
from factory.plan import plan  # noqa: E402
from factory.recipes import load_recipes, recipe_for  # noqa: E402
from factory.workflow import check_ci, check_rebuild, render_env, tuple_env  # noqa: E402

ROOT = Path(__file__).parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def rebuild() -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / "rebuild.yml").read_text())


def step(doc: dict[Any, Any], job: str, name_part: str) -> dict[str, Any]:
    return next(s for s in doc["jobs"][job]["steps"] if name_part in str(s.get("name", "")) + str(s.get("id", "")))


def sizes() -> dict[str, int]:
    m, k, r = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    return {"full": len(plan(m, k, r).include)}


def test_factory_workflow_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["workflow", "check", "--matrix", str(ROOT / "matrix.toml"), "--workflows", str(WORKFLOWS)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "workflows agree" in out


def problems_after(edit: Any) -> list[str]:
    doc = copy.deepcopy(rebuild())
    edit(doc)
    return check_rebuild(doc, load_matrix(ROOT / "matrix.toml"), sizes())


def test_hand_written_matrix_is_refused() -> None:
    def edit(doc: dict[Any, Any]) -> None:
        doc["jobs"]["build"]["strategy"]["matrix"] = {"include": [{"id": "causal-conv1d-1.7.0-cu13.0"}]}

    assert any("is not `${{ fromJSON" in p for p in problems_after(edit))


def test_matrix_must_come_from_factory_plan() -> None:
    def edit(doc: dict[Any, Any]) -> None:
        step(doc, "plan", "plan")["run"] = 'echo "matrix={\\"include\\":[]}" >> "$GITHUB_OUTPUT"'

    assert any("does not come from a step running `factory plan --json`" in p for p in problems_after(edit))


def test_profiles_offered_must_be_matrix_toml_profiles() -> None:
    def unknown(doc: dict[Any, Any]) -> None:
        doc[True]["workflow_dispatch"]["inputs"]["profile"]["options"].append("nightly")

    def missing(doc: dict[Any, Any]) -> None:
        doc[True]["workflow_dispatch"]["inputs"]["profile"]["options"].remove("quick")

    assert any("offers 'nightly'" in p for p in problems_after(unknown))
    assert any("profile 'quick' is not among" in p for p in problems_after(missing))


def test_fail_fast_schedule_and_publish_are_checked() -> None:
    def edit(doc: dict[Any, Any]) -> None:
        doc["jobs"]["build"]["strategy"]["fail-fast"] = True
        del doc[True]["schedule"]
        step(doc, "publish", "Upload")["run"] = "twine upload dist/*"

    found = problems_after(edit)
    assert any("fail-fast must be false" in p for p in found)
    assert any("schedule" in p for p in found)
    assert any("twine upload" in p for p in found)


def test_matrix_limit() -> None:
    doc = rebuild()
    assert any("at most 256" in p for p in check_rebuild(doc, load_matrix(ROOT / "matrix.toml"), {"full": 300}))


def test_ci_runs_the_readme_test_command() -> None:
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    assert check_ci(ci) == []
    step(ci, "test", "")  # has steps
    ci["jobs"]["test"]["steps"] = [s for s in ci["jobs"]["test"]["steps"] if s.get("run") != "bash .ci/run"]
    assert check_ci(ci)


def run_step(script: str, env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Run a workflow `run:` script with bash as Actions does; return what it wrote to $GITHUB_OUTPUT/ENV."""
    files = {k: tmp_path / k.lower() for k in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")}
    full = {**os.environ, **env, **{k: str(v) for k, v in files.items()}, "PATH": f"{BIN}:{os.environ['PATH']}"}
    work = tmp_path / "checkout"  # the step's working directory: a checkout's matrix.toml, nothing else
    work.mkdir()
    shutil.copy(ROOT / "matrix.toml", work / "matrix.toml")
    subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, env=full, check=True, timeout=120)
    out: dict[str, str] = {}
    for key in ("GITHUB_OUTPUT", "GITHUB_ENV"):
        if files[key].exists():
            for line in files[key].read_text().splitlines():
                name, _, value = line.partition("=")
                out[name] = value
    return out


@pytest.mark.skipif(shutil.which("jq") is None, reason="the plan step uses jq, as on GitHub's runners")
@pytest.mark.parametrize("profile", ["quick", "full"])
def test_plan_step_emits_the_planner_matrix(profile: str, tmp_path: Path) -> None:
    outputs = run_step(step(rebuild(), "plan", "plan")["run"], {"PROFILE": profile}, tmp_path)
    matrix = json.loads(outputs["matrix"])
    args = ["plan", "--json"] + ([] if profile == "full" else ["--profile", profile])
    from factory.cli import build_parser

    expected = [s.to_json() for s in plan_from_args(build_parser().parse_args(args)).include]
    assert matrix == {"include": expected}
    assert int(outputs["count"]) == len(expected) == (2 if profile == "quick" else len(expected))


def test_tuple_settings_step(tmp_path: Path) -> None:
    tuple_id = "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1"
    env = run_step(step(rebuild(), "build", "Tuple settings")["run"], {"PROFILE": "quick", "TUPLE": tuple_id}, tmp_path)
    assert env["CIBW_BUILD"] == "cp311-manylinux_x86_64"
    assert env["CIBW_MANYLINUX_X86_64_IMAGE"] == "pytorch/manylinux2_28-builder:cuda13.0"
    assert env["FACTORY_TUPLE"] == tuple_id and env["FACTORY_PROFILE"] == "quick"
    assert env["FACTORY_IMPORTS"] == "selective_scan_cuda"
    build_env = env["CIBW_ENVIRONMENT_LINUX"].split()
    assert "MAMBA_FORCE_BUILD=TRUE" in build_env and "MAMBA_FORCE_CXX11_ABI=TRUE" in build_env
    assert "TORCH_CUDA_ARCH_LIST=9.0" in build_env and "CUDA_HOME=/usr/local/cuda-13.0" in build_env


def test_tuple_env_per_floor_and_torch_build() -> None:
    m, k, r = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    specs = {s.id: s for s in plan(m, k, r).include}
    old = specs["causal-conv1d-1.7.0-cu11.8-torch2.3-cp310-abi0"]
    env = tuple_env(old, recipe_for(r, old.package), None)
    assert env["CIBW_MANYLINUX_X86_64_IMAGE"] == "pytorch/manylinux-builder:cuda11.8"
    assert env["FACTORY_TORCH_REQUIREMENT"] == "torch==2.3.1+cu118"
    assert env["FACTORY_TORCH_INDEX"] == "https://download.pytorch.org/whl/cu118"
    assert env["FACTORY_PROFILE"] == ""
    with pytest.raises(ValueError, match="newline"):
        render_env({"A": "x\ny"})


def test_repair_command_survives_cibuildwheel_placeholders() -> None:
    from cibuildwheel.util.helpers import prepare_command

    build = step(rebuild(), "build", "cibuildwheel")
    command = prepare_command(build["env"]["CIBW_REPAIR_WHEEL_COMMAND_LINUX"], wheel="/w/x.whl", dest_dir="/out")
    assert command.endswith("--wheel /w/x.whl --dest /out")
    assert (
        "factory repair" in command
        and '--id "$FACTORY_TUPLE"' in command
        and '${FACTORY_PROFILE:+--profile "$FACTORY_PROFILE"}' in command
    )
    before = prepare_command(build["env"]["CIBW_BEFORE_BUILD_LINUX"], package="/project/work/src/x")
    assert "factory workflow patch" in before and before.endswith("--source /project/work/src/x")
    passed = build["env"]["CIBW_ENVIRONMENT_PASS_LINUX"].split()
    assert {"FACTORY_TUPLE", "FACTORY_PROFILE", "FACTORY_TORCH_REQUIREMENT", "FACTORY_IMPORTS"} <= set(passed)


@pytest.mark.parametrize(
    ("sdist", "tuple_id", "cxx20"),
    [
        ("mamba_ssm-2.3.2.post1", "mamba-ssm-2.3.2.post1-cu13.0-torch2.14-cp311-abi1", True),
        ("causal_conv1d-1.7.0", "causal-conv1d-1.7.0-cu13.0-torch2.14-cp311-abi1", False),
    ],
)
def test_patch_applies_the_recipe_to_the_upstream_setup_py(
    sdist: str, tuple_id: str, cxx20: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / sdist
    source.mkdir()
    upstream = ROOT / "tests" / "fixtures" / "pypi" / "sdists" / sdist / "setup.py.txt"
    shutil.copy(upstream, source / "setup.py")
    args = ["workflow", "patch", "--matrix", str(ROOT / "matrix.toml"), "--profile", "quick"]
    assert main([*args, "--id", tuple_id, "--source", str(source)]) == 0
    patched = (source / "setup.py").read_text()
    assert "cc_flag = ['-gencode', 'arch=compute_90,code=sm_90']" in patched
    assert "arch=compute_80,code=sm_80" not in patched  # upstream's own list is gone
    assert ("-std=c++20" in patched) == cxx20 and ("-std=c++17" not in patched) == cxx20
    assert "patched setup.py" in capsys.readouterr().out
    compile(patched, "setup.py", "exec")  # still Python


def test_cibuildwheel_can_build_every_planned_python(tmp_path: Path) -> None:
    m, k, r = load_matrix(ROOT / "matrix.toml"), load_knowledge(), load_recipes()
    wanted = {tuple_env(s, recipe_for(r, s.package), None)["CIBW_BUILD"] for s in plan(m, k, r).include}
    build = step(rebuild(), "build", "cibuildwheel")["env"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "0"\n')
    env = {
        **os.environ,
        "CIBW_BUILD": " ".join(sorted(wanted)),
        "CIBW_ARCHS_LINUX": build["CIBW_ARCHS_LINUX"],
    }
    done = subprocess.run(
        [str(BIN / "cibuildwheel"), "--print-build-identifiers", "--platform", "linux"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == wanted
