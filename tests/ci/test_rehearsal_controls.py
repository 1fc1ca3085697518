"""The rehearsal (tests/ci/rehearsal.py) with each blocker the review of the first real run found put
back: each must fail it, with a message naming it. The package-data control fails at before-all and is in
the integration tier; the others build at least one Python each (2-5 minutes apiece here): `make slow`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from rehearsal import (
    BUILDS,
    TUPLE,
    Job,
    Machine,
    Result,
    build_step,
    check_disk,
    check_exit,
    check_published,
    load_doc,
    report,
)

pytestmark = pytest.mark.timeout(1800)

# --- the five blockers, each put back ---------------------------------------------------------------------


def old_package_data(checkout: Path) -> None:
    """Blocker 1: the wheel ships data/*.toml only."""
    pyproject = checkout / "pyproject.toml"
    text, count = re.subn(
        r'^factory = \["data/\*\*/\*"\]$', 'factory = ["data/*.toml"]', pyproject.read_text(), flags=re.M
    )
    assert count == 1
    pyproject.write_text(text)


def patch_per_python_in_one_run(doc: dict[str, Any]) -> None:
    """Blocker 2: the patches in before-build (once per Python), every Python in one cibuildwheel run."""
    sdist = next(s for s in doc["jobs"]["cell"]["steps"] if "curl" in str(s.get("run", "")))
    sdist["run"] = "\n".join(line for line in sdist["run"].splitlines() if "factory workflow patch" not in line)
    build = build_step(doc)
    build["env"]["CIBW_BEFORE_BUILD_LINUX"] += (
        " && /opt/factory/bin/factory workflow patch --matrix /project/matrix.toml"
        ' ${FACTORY_PROFILE:+--profile "$FACTORY_PROFILE"} --cell "$FACTORY_CELL" --source {package}'
    )
    build["run"] = 'cibuildwheel "$PACKAGE_DIR" --output-dir wheelhouse'


def publish_elsewhere(doc: dict[str, Any]) -> None:
    """Blocker 3: the cell's job only builds (a later job was to gather and publish the matrix's wheels)."""
    env = build_step(doc)["env"]
    for secret in ("FACTORY_INDEX_URL", "FACTORY_PROFILE_INDEX_URL", "FACTORY_UPLOAD_TOKEN"):
        del env[secret]


def one_run_for_all(doc: dict[str, Any]) -> None:
    """Blockers 4 and 5: every Python of the cell in one cibuildwheel run, so in one container."""
    build_step(doc)["run"] = 'cibuildwheel "$PACKAGE_DIR" --output-dir wheelhouse'


@dataclass(frozen=True)
class Control:
    edit_doc: Callable[[dict[str, Any]], None] | None
    edit_checkout: Callable[[Path], None] | None
    builds: dict[str, int]
    fail: dict[str, str] | None
    caught: tuple[tuple[Callable[[Result], None], str], ...]  # (check, the message it must fail with)


ONLY_CP311 = {TUPLE.format(py="cp311"): 3}
NEGATIVE_CONTROLS = {
    "1-package-data": Control(None, old_package_data, ONLY_CP311, None,
                              ((check_exit, r"libc_single_threaded\.c: No such file"),)),
    "2-patch-per-python": Control(patch_per_python_in_one_run, None, BUILDS, None,
                                  ((check_exit, r"patch 'gencode-list' expects 'cc_flag = \[\]' .* found 0x"),)),
    "3-publish-elsewhere": Control(publish_elsewhere, None, ONLY_CP311, None,
                                   ((check_published, "the cell's job did not publish"),)),
    # cp312 fails at its test, after its torch is installed beside cp311's
    "4-5-one-run-for-all": Control(one_run_for_all, None, BUILDS, {"identifier": "cp312-manylinux_x86_64",
                                                                    "stage": "test"},
                                   ((check_disk, "a container held more than one Python's torch at once"),
                                    (check_published, "did not publish tiny_ext-0.1.0.*-3-cp311"))),
}  # fmt: skip


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.integration if n == "1-package-data" else pytest.mark.slow)
             for n in NEGATIVE_CONTROLS],
)  # fmt: skip
def test_each_blocker_put_back_fails_the_rehearsal(name: str, tmp_path: Path, machine: Machine, index: str) -> None:
    control = NEGATIVE_CONTROLS[name]
    doc = copy.deepcopy(load_doc())
    if control.edit_doc is not None:
        control.edit_doc(doc)
    r = Job(doc, tmp_path, machine, index, control.builds).run(control.fail, control.edit_checkout)
    report(r)
    for check, message in control.caught:
        with pytest.raises(AssertionError, match=message):
            check(r)
