"""What a review of the first real run found missing from the workflows, each checked by `factory workflow
check` so it cannot come back unseen: pinned actions, permissions, credentials; publishing in each cell;
the run's own index for a profile; discovery reaching the plan; the cell's job (one patch, one run and
publish per Python, disk per step, the time limit, the tables, the pinned cibuildwheel); compile slots.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from workflow_docs import cells_problems, load, rebuild_problems, step

pytest.importorskip("yaml", reason="PyYAML (dev extra) reads the workflow files")

from factory.ci.hardening import check_permissions, check_pins
from factory.ci.workflow import compile_slots, index_for


def test_pins_are_commit_shas_of_node_24_releases() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    good = f"      - uses: actions/checkout@{sha} # v5.0.0\n      - uses: ./.github/workflows/x.yml\n"
    assert check_pins(good) == []
    found = check_pins(
        "- uses: actions/checkout@v5\n"
        f"  uses: actions/setup-python@{sha}\n"
        f"  uses: actions/checkout@{sha}  # v4.2.0\n"
        "  uses: someone/action@main\n"
    )
    assert [p.split(":")[0] for p in found] == ["line 1", "line 2", "line 3", "line 4"]
    assert "actions/checkout@v5 is not pinned to a commit SHA" in found[0]
    assert "no `# vX.Y.Z` comment" in found[1]
    assert "actions/checkout v4 runs on Node 20" in found[2]
    assert "someone/action@main is not pinned" in found[3]


def test_permissions_are_granted_per_job_and_checkouts_keep_no_token() -> None:
    doc = copy.deepcopy(load("build-cells.yml"))
    assert check_permissions(doc) == []
    doc["permissions"] = {"contents": "read"}
    del doc["jobs"]["cell"]["permissions"]
    checkout = next(s for s in doc["jobs"]["cell"]["steps"] if str(s.get("uses", "")).startswith("actions/checkout"))
    del checkout["with"]
    found = check_permissions(doc)
    assert any("set `permissions: {}`" in p for p in found)
    assert any("jobs.cell has no `permissions`" in p for p in found)
    assert any("persist-credentials: false" in p for p in found)


def test_schedule_shell_and_publishing_are_checked() -> None:
    def edit(doc: dict[Any, Any]) -> None:
        del doc[True]["schedule"]
        del doc["defaults"]
        # the review's blocker 3: one job downloading every cell's wheels to publish them
        doc["jobs"]["publish"] = {
            "needs": ["build1"], "runs-on": "ubuntu-latest", "permissions": {},
            "steps": [{"uses": "actions/download-artifact@v8", "with": {"pattern": "wheels-*"}}],
        }  # fmt: skip
        del doc["jobs"]["build2"]["secrets"]["FACTORY_UPLOAD_TOKEN"]

    found = rebuild_problems(edit)
    assert any("schedule" in p for p in found)
    assert any("shell: bash" in p for p in found)
    assert any("jobs.publish downloads artifacts: publishing is each cell's job" in p for p in found)
    assert any("jobs.build2 does not pass ['FACTORY_UPLOAD_TOKEN']" in p for p in found)


def test_a_profile_never_plans_against_the_production_index() -> None:
    def production(doc: dict[Any, Any]) -> None:
        plan_step = step(doc, "plan", "plan")
        plan_step["run"] = plan_step["run"].replace('--index "$index"', '--index "$FACTORY_INDEX_URL"')

    assert any("factory workflow index-url" in p for p in rebuild_problems(production))


def test_discovery_reaches_the_plan() -> None:
    def ignored(doc: dict[Any, Any]) -> None:
        step(doc, "plan", "Discover")["continue-on-error"] = True
        plan_step = step(doc, "plan", "plan")
        plan_step["run"] = plan_step["run"].replace("--knowledge work/tables/pytorch.toml", "")

    def not_handed_on(doc: dict[Any, Any]) -> None:
        doc["jobs"]["plan"]["steps"] = [
            s for s in doc["jobs"]["plan"]["steps"] if "tables every" not in str(s.get("name"))
        ]

    def none(doc: dict[Any, Any]) -> None:
        doc["jobs"]["plan"]["steps"] = [s for s in doc["jobs"]["plan"]["steps"] if "Discover" not in str(s.get("name"))]

    found = rebuild_problems(ignored)
    assert any("continue-on-error" in p for p in found)
    assert any("does not plan with the discovered tables (--knowledge work/tables/pytorch.toml)" in p for p in found)
    assert any("'factory-tables' artifact for the cells" in p for p in rebuild_problems(not_handed_on))
    assert any("no step runs `factory discover --write-releases" in p for p in rebuild_problems(none))


def test_the_review_blockers_are_caught_in_the_cells_workflow() -> None:
    """Blockers 2, 4 and 5 and the list after them, each put back into build-cells.yml."""

    def patch_per_python(doc: dict[Any, Any]) -> None:  # blocker 2
        env = step(doc, "cell", "build")["env"]
        env["CIBW_BEFORE_BUILD_LINUX"] += " && /opt/factory/bin/factory workflow patch --cell x --source {package}"

    def one_run_for_all(doc: dict[Any, Any]) -> None:  # blocker 5 (and 4: every Python's torch in one container)
        step(doc, "cell", "build")["run"] = 'cibuildwheel "$PACKAGE_DIR" --output-dir wheelhouse'

    def unmeasured(doc: dict[Any, Any]) -> None:
        env = step(doc, "cell", "build")["env"]
        env["CIBW_TEST_COMMAND"] = env["CIBW_TEST_COMMAND"].split(" &&")[0]

    def no_time_limit(doc: dict[Any, Any]) -> None:
        doc["jobs"]["cell"]["timeout-minutes"] = 360
        build = step(doc, "cell", "build")
        build["run"] = build["run"].replace("--time-limit-minutes 300", "--time-limit-minutes 340")

    def tables_after_install(doc: dict[Any, Any]) -> None:
        steps = doc["jobs"]["cell"]["steps"]
        tables = next(s for s in steps if "download-artifact" in str(s.get("uses")))
        steps.remove(tables)
        steps.append(tables)

    def unpinned(doc: dict[Any, Any]) -> None:
        install = step(doc, "cell", "The factory")
        install["run"] = "pip install . cibuildwheel"

    assert any("applies the patches: it runs per Python" in p for p in cells_problems(patch_per_python))
    found = cells_problems(one_run_for_all)
    assert any("calls cibuildwheel itself" in p for p in found)
    assert any("no step runs `factory workflow build-cell`" in p for p in found)
    assert any("['CIBW_TEST_COMMAND'] do not end with `factory workflow disk" in p for p in cells_problems(unmeasured))
    found = cells_problems(no_time_limit)
    assert any("timeout-minutes 360" in p for p in found) and any("--time-limit-minutes 340" in p for p in found)
    assert any("not downloaded into factory/data before" in p for p in cells_problems(tables_after_install))
    assert any("installs cibuildwheel unpinned; pyproject.toml pins ==4.3.5" in p for p in cells_problems(unpinned))


def test_compile_slots_cap_nvcc_threads_and_jobs_together() -> None:
    # GitHub's standard runner (4 cores, 16 GB): 4 device compiles at once, in all
    assert compile_slots(4, 16, 10) == (1, 4)  # full archs: upstream's 4 threads, one file at a time
    assert compile_slots(4, 16, 1) == (4, 1)  # sm_90 only: threads would idle, files in parallel
    assert compile_slots(16, 16, 10) == (1, 4)  # memory, not cores, bounds it
    assert compile_slots(2, 7, 10) == (1, 1)  # a small runner: one compile
    assert compile_slots(64, 256, 10) == (16, 4)
    for cores, memory, targets in ((4, 16, 10), (16, 64, 3), (8, 12, 2), (2, 3, 9)):
        jobs, threads = compile_slots(cores, memory, targets)
        assert jobs * threads <= max(1, min(cores, memory // 4)) and threads <= 4


def test_a_profile_publishes_to_its_own_index_only() -> None:
    both = {"FACTORY_INDEX_URL": "https://prod", "FACTORY_PROFILE_INDEX_URL": "https://staging"}
    assert index_for(None, both)[0] == "https://prod" and index_for("", both)[0] == "https://prod"
    assert index_for("quick", both)[0] == "https://staging"
    url, why = index_for("h200", {"FACTORY_INDEX_URL": "https://prod"})
    assert url is None and "FACTORY_PROFILE_INDEX_URL is not set, nothing is published" in why
