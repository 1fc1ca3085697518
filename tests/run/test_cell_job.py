"""The cell job's driver with a fake cibuildwheel and a fake index: one run per Python, each published
before the next starts, a failure kept to its Python, the time limit kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from spec_builders import make_spec

from factory.ci.workflow import cells_of
from factory.errors import FactoryError
from factory.process import Completed, ProcessTimeout
from factory.run.cell_job import CellJob, report, run_cell_job
from factory.run.upload import Uploaded

CELL = cells_of([make_spec(python=p) for p in ("3.10", "3.11", "3.12")])[0]


class FakeCibuildwheel:
    """Writes one wheel per run into --output-dir; fails (or runs past its limit) for the Pythons named."""

    def __init__(self, clock: list[float], fail: Sequence[str] = (), slow: Sequence[str] = ()) -> None:
        self.clock, self.fail, self.slow, self.runs = clock, set(fail), set(slow), []

    def __call__(self, argv: Sequence[object], *, env: Mapping[str, str], cwd: Path | None, log: Path,
                 timeout: float | None = None) -> Completed:  # fmt: skip
        ident = env["CIBW_BUILD"]
        self.runs.append((ident, timeout, dict(env)))
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"building {ident}\n")
        if ident in self.slow:
            self.clock[0] += timeout or 0
            raise ProcessTimeout([str(a) for a in argv], timeout or 0, log)
        self.clock[0] += 600
        if ident in self.fail:
            return Completed(tuple(map(str, argv)), 1, 600.0, "error: nvcc died\n")
        out = Path(str(argv[argv.index("--output-dir") + 1]))
        out.mkdir(parents=True)
        (out / f"pkg-1.0-{ident.split('-')[0]}-linux.whl").write_bytes(b"wheel")
        return Completed(tuple(map(str, argv)), 0, 600.0, "ok\n")


class FakeIndex:
    def __init__(self, refuse: Sequence[str] = ()) -> None:
        self.refuse, self.uploaded = set(refuse), []

    def upload(self, wheel: Path) -> Uploaded:
        if any(r in wheel.name for r in self.refuse):
            raise FactoryError(f"{wheel.name}: the index refused it: 400 bad")
        self.uploaded.append(wheel.name)
        return Uploaded(filename=wheel.name, answer="200 OK: stored", attempts=1)


def job(tmp_path: Path, deadline: float = 10_000, unpublished: Path | None = None) -> CellJob:
    return CellJob(cell=CELL, package_dir=tmp_path / "src", output_dir=tmp_path / "wheelhouse", logs=tmp_path / "logs",
                   deadline=deadline, env={"CIBW_ARCHS_LINUX": "x86_64"}, unpublished=unpublished,
                   df=(tmp_path,))  # fmt: skip


def test_each_python_is_published_before_the_next_is_built(tmp_path: Path) -> None:
    clock, index, said = [0.0], FakeIndex(), []
    cibw = FakeCibuildwheel(clock)

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("::group::"):
            said.append(f"published so far: {len(index.uploaded)}")

    runs = run_cell_job(job(tmp_path), cibw, index, clock=lambda: clock[0], say=say)
    assert [r.outcome for r in runs] == ["published"] * 3
    assert [i for i, _, _ in cibw.runs] == [
        "cp310-manylinux_x86_64",
        "cp311-manylinux_x86_64",
        "cp312-manylinux_x86_64",
    ]
    assert [line for line in said if line.startswith("published so far")] == [
        f"published so far: {n}" for n in range(3)
    ]
    assert any(line.startswith("disk runner-before-cp310-manylinux_x86_64: df ") for line in said)


def test_one_pythons_failure_keeps_the_others_and_fails_visibly(tmp_path: Path) -> None:
    clock, index = [0.0], FakeIndex(refuse=["cp312"])
    cibw = FakeCibuildwheel(clock, fail=["cp311-manylinux_x86_64"])
    runs = run_cell_job(job(tmp_path, unpublished=tmp_path / "kept"), cibw, index, clock=lambda: clock[0], say=print)
    assert [r.outcome for r in runs] == ["published", "failed", "failed"]
    assert index.uploaded == ["pkg-1.0-cp310-linux.whl"]
    assert "cibuildwheel exit 1: error: nvcc died" in runs[1].detail
    assert runs[2].detail.startswith("built, not published:")
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["pkg-1.0-cp312-linux.whl"]  # for the artifact
    table, errors = report(CELL.id, runs)
    assert "| cp311-manylinux_x86_64 | failed |" in table
    assert [e.split(" ")[1] for e in errors] == ["cp311-manylinux_x86_64", "cp312-manylinux_x86_64"]
    assert all(e.startswith(f"::error::{CELL.id} ") for e in errors)


def test_the_time_limit_stops_the_running_python_and_starts_no_more(tmp_path: Path) -> None:
    clock = [0.0]
    cibw = FakeCibuildwheel(clock, slow=["cp311-manylinux_x86_64"])
    runs = run_cell_job(job(tmp_path, deadline=1000), cibw, FakeIndex(), clock=lambda: clock[0], say=lambda _: None)
    assert [r.outcome for r in runs] == ["published", "failed", "not-started"]
    assert [t for _, t, _ in cibw.runs] == [1000, 400]  # each run gets what is left of the limit
    assert "stopped at the build time limit" in runs[1].detail


def test_without_an_index_the_wheels_are_built_and_kept(tmp_path: Path) -> None:
    clock = [0.0]
    runs = run_cell_job(job(tmp_path, unpublished=tmp_path / "kept"), FakeCibuildwheel(clock), None,
                        clock=lambda: clock[0], say=lambda _: None)  # fmt: skip
    assert [r.outcome for r in runs] == ["built"] * 3 and report(CELL.id, runs)[1] == []
    assert len(list((tmp_path / "kept").iterdir())) == 3
