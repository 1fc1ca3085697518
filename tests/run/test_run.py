import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version
from spec_builders import make_spec

from factory.context import BuildContext
from factory.errors import FactoryError
from factory.plan.spec import BuildSpec
from factory.process import Completed
from factory.run.builds import PublishedBuild, arch_list
from factory.run.matrix_run import TupleOutcome, default_jobs, run_matrix
from factory.run.publish import PublishConflict
from factory.stages.provision import Toolchain, provision


def spec(package: str, python: str = "3.11") -> BuildSpec:
    return make_spec(package=package, version=Version("1.0"), python=python, archs=())


@dataclass
class Result:
    outcome: str
    stage: str | None = None
    cause: str | None = None
    message: str | None = None
    wheel: Path | None = None
    log: Path | None = None
    input_key: str | None = None


class FakeBuilder:
    def __init__(
        self,
        tmp: Path,
        fail: set[str] = frozenset(),
        crash: set[str] = frozenset(),
        barrier: threading.Barrier | None = None,
    ) -> None:
        self.tmp, self.fail, self.crash, self.barrier = tmp, fail, crash, barrier
        self.built: list[str] = []
        self.numbers: list[int] = []
        self.platform: str | None = None  # another platform tag than the spec's, for the yank test
        self.key_calls_in_flight = 0
        self.max_key_overlap = 0
        self.lock = threading.Lock()

    def input_key(self, s: BuildSpec) -> str:
        with self.lock:
            self.key_calls_in_flight += 1
            self.max_key_overlap = max(self.max_key_overlap, self.key_calls_in_flight)
        threading.Event().wait(0.05)
        with self.lock:
            self.key_calls_in_flight -= 1
        return "key-" + s.id

    def retag(self, wheel: Path, build: int) -> Path:
        parts = wheel.name.split("-")
        target = wheel.with_name("-".join([*parts[:2], str(build), *parts[3:]]))
        wheel.rename(target)
        return target

    def build(self, s: BuildSpec, on_stage: Callable[[str], None], build: int) -> Result:
        on_stage("build")
        if self.barrier is not None:
            self.barrier.wait()
        if s.package in self.crash:
            raise RuntimeError("boom")
        log = self.tmp / f"{s.id}.log"
        log.write_text(f"log of {s.id}\n")
        with self.lock:
            self.built.append(s.id)
        if s.package in self.fail:
            return Result(
                "failed",
                stage="build",
                cause="compiler-error",
                message="csrc/x.cu(3): error: bad",
                log=log,
                input_key="key-" + s.id,
            )
        wheel = self.tmp / wheel_name(s, build)
        wheel.write_bytes(b"wheel")
        self.numbers.append(build)
        return Result("built", stage="verify", wheel=wheel, log=log, input_key="key-" + s.id)


def wheel_name(s: BuildSpec, build: int, platform: str | None = None) -> str:
    return f"{s.package}-1.0-{build}-{s.python_tag}-{s.python_tag}-{platform or s.platform}.whl"


def build_of(s: BuildSpec, build: int, key: str, platform: str | None = None) -> PublishedBuild:
    return PublishedBuild(
        filename=wheel_name(s, build, platform),
        build=build,
        input_key=key,
        archs=arch_list(s.to_json()),
        platform_tags=(platform or s.platform,),
    )


class FakePublisher:
    def __init__(
        self,
        keys: set[str] = frozenset(),
        reject: set[str] = frozenset(),
        builds: dict[str, list[PublishedBuild]] | None = None,
        race: dict[str, PublishedBuild] | None = None,
    ) -> None:
        """`keys`: "key-<id>" of tuples published as build 1; `race`: a build another publisher
        stores (under the same name as ours) just before our first publish of that tuple."""
        self.builds = {k[len("key-") :]: [] for k in keys} | dict(builds or {})
        self.keys = set(keys)
        self.reject = reject
        self.race = dict(race or {})
        self.files: list[str] = []
        self.yanked: list[str] = []
        self.reports: list[tuple[dict[str, Any], dict[str, Path]]] = []

    def published_builds(self) -> dict[str, list[PublishedBuild]]:
        out = {i: list(b) for i, b in self.builds.items()}
        for key in self.keys:
            ident = key[len("key-") :]
            out[ident] = [*out[ident], PublishedBuild(
                filename=f"{ident}.whl", build=1, input_key=key, archs=(), platform_tags=()
            )]  # fmt: skip
        return out

    def publish(self, wheel: Path) -> str:
        if any(r in wheel.name for r in self.reject):
            raise FactoryError(f"{wheel.name}: rejected by the index")
        for ident, other in list(self.race.items()):
            if other.filename == wheel.name:
                del self.race[ident]
                self.builds.setdefault(ident, []).append(other)
                raise PublishConflict(f"{wheel.name}: other bytes under this name")
        self.files.append(wheel.name)
        return wheel.name

    def yank(self, filename: str, reason: str) -> None:
        self.yanked.append(filename)

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None:
        self.reports.append((report, logs))


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def start(self, s: BuildSpec) -> None:
        self.events.append(("start", s.id, ""))

    def stage(self, s: BuildSpec, stage: str) -> None:
        self.events.append(("stage", s.id, stage))

    def finish(self, s: BuildSpec, o: TupleOutcome) -> None:
        self.events.append(("finish", s.id, o.outcome))


def test_builds_publishes_and_reports(tmp_path: Path) -> None:
    specs = [spec("a"), spec("b")]
    pub, prog = FakePublisher(), Recorder()
    dropped = [{"package": "pkg", "version": "0.9", "torch": "2.14", "reason": "the sdist has no CUDA sources"}]
    report = run_matrix(specs, builder=FakeBuilder(tmp_path), publisher=pub, progress=prog, jobs=1, dropped=dropped)
    assert [t.outcome for t in report.tuples] == ["published", "published"]
    assert len(pub.files) == 2
    ((data, logs),) = pub.reports
    assert data["counts"] == {"published": 2, "unchanged": 0, "failed": 0, "skipped": 0}
    assert set(logs) == {s.id for s in specs}
    assert data["tuples"][0]["input_key"] == "key-" + specs[0].id
    assert data["dropped"] == dropped  # the index's page says why a release has no wheel
    assert ("stage", specs[0].id, "publish") in prog.events


def test_rerun_with_nothing_changed_builds_nothing(tmp_path: Path) -> None:
    specs = [spec("a"), spec("b")]
    builder = FakeBuilder(tmp_path)
    pub = FakePublisher(keys={"key-" + s.id for s in specs})
    report = run_matrix(specs, builder=builder, publisher=pub, progress=Recorder(), jobs=2)
    assert [t.outcome for t in report.tuples] == ["unchanged", "unchanged"]
    assert builder.built == [] and pub.files == []


def test_resume_builds_only_what_is_missing(tmp_path: Path) -> None:
    specs = [spec("a"), spec("b"), spec("c")]
    builder = FakeBuilder(tmp_path)
    pub = FakePublisher(keys={"key-" + specs[0].id})  # a finished before the run was killed
    report = run_matrix(specs, builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    assert sorted(builder.built) == sorted([specs[1].id, specs[2].id])
    assert report.counts()["unchanged"] == 1 and report.counts()["published"] == 2


def test_failure_is_isolated_and_classified(tmp_path: Path) -> None:
    specs = [spec("broken"), spec("crashes"), spec("fine")]
    builder = FakeBuilder(tmp_path, fail={"broken"}, crash={"crashes"})
    pub = FakePublisher()
    report = run_matrix(specs, builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    by = {t.spec.package: t for t in report.tuples}
    assert by["broken"].outcome == "failed" and by["broken"].cause == "compiler-error"
    assert by["broken"].message == "csrc/x.cu(3): error: bad" and by["broken"].stage == "build"
    assert by["crashes"].outcome == "failed" and by["crashes"].cause == "internal-error"
    assert "boom" in (by["crashes"].message or "")
    assert by["fine"].outcome == "published"
    assert [t.spec.package for t in report.failed] == ["broken", "crashes"]
    assert pub.reports, "the report is published even when tuples fail"


def test_publish_rejection_is_a_failure(tmp_path: Path) -> None:
    specs = [spec("a"), spec("b")]
    pub = FakePublisher(reject={"a-"})
    report = run_matrix(specs, builder=FakeBuilder(tmp_path), publisher=pub, progress=Recorder(), jobs=1)
    first = report.tuples[0]
    assert first.outcome == "failed" and first.stage == "publish" and first.cause == "publish-rejected"
    assert report.tuples[1].outcome == "published"


def test_tuples_run_concurrently(tmp_path: Path) -> None:
    # both builds must be inside build() at once, or the barrier breaks and they fail
    barrier = threading.Barrier(2, timeout=10)
    builder = FakeBuilder(tmp_path, barrier=barrier)
    report = run_matrix([spec("a"), spec("b")], builder=builder, publisher=FakePublisher(), progress=Recorder(), jobs=2)
    assert [t.outcome for t in report.tuples] == ["published", "published"]


def test_input_keys_of_one_env_are_computed_one_at_a_time(tmp_path: Path) -> None:
    builder = FakeBuilder(tmp_path)
    run_matrix(
        [spec("a"), spec("b"), spec("c")],
        builder=builder,
        publisher=FakePublisher(),
        progress=Recorder(),
        jobs=3,
    )
    assert builder.max_key_overlap == 1


class SlowInstaller:
    """A runner standing in for uv, nvcc and the env's python: installs take a while and are counted."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_at_once = 0
        self.venvs = 0

    def __call__(self, argv: Sequence[object], *, env: Mapping[str, str], cwd: Path | None, log: Path) -> Completed:
        args = tuple(str(a) for a in argv)
        if args[-1] == "--version":
            return Completed(args, 0, 0.0, "Cuda compilation tools, release 13.0, V13.0.88\n")
        if args[1] == "-c":
            probe = {"torch": "2.14.1", "cuda": "13.0", "abi": True, "include": "/torch/include"}
            return Completed(args, 0, 0.0, json.dumps(probe) + "\n")
        with self.lock:
            self.in_flight += 1
            self.most_at_once = max(self.most_at_once, self.in_flight)
            self.venvs += args[1] == "venv"
        time.sleep(0.2)  # long enough for a second, unlocked provisioner to start the same install
        if args[1] == "venv" or "--target" in args:  # what uv would have made: the env, the toolkit folder
            Path(args[-1] if args[1] == "venv" else args[args.index("--target") + 1]).mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.in_flight -= 1
        return Completed(args, 0, 0.2, "")


def test_one_env_is_never_provisioned_twice_at_once(tmp_path: Path) -> None:
    # two tuples of one env provision it at the same moment, through provisioning's own lock
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.11").touch(mode=0o755)
    ctx = BuildContext(cache=tmp_path / "cache", uv=Path("uv"), recipes={}, base_env={"PATH": str(bin_dir)})
    runner, start = SlowInstaller(), threading.Barrier(2, timeout=10)

    def provision_one(package: str) -> Toolchain:
        start.wait()
        return provision(spec(package), ctx, runner, tmp_path / f"{package}.log")

    with ThreadPoolExecutor(2) as pool:
        chains = list(pool.map(provision_one, ["a", "b"]))
    assert runner.most_at_once == 1, "two installs into one cache ran at once"
    assert runner.venvs == 1, "the second tuple created the env again instead of reusing it"
    assert chains[0].env == chains[1].env and chains[0].torch_version == "2.14.1"


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(FactoryError, match="at least 1"):
        run_matrix([spec("a")], builder=FakeBuilder(tmp_path), publisher=FakePublisher(), progress=Recorder(), jobs=0)


def test_default_jobs_from_machine() -> None:
    assert default_jobs(2, 24) == 1
    assert default_jobs(16, 128) == 8
    assert default_jobs(64, 16) == 2


def test_changed_key_publishes_the_next_build_and_keeps_the_old(tmp_path: Path) -> None:
    s = spec("a")
    builder = FakeBuilder(tmp_path)
    pub = FakePublisher(builds={s.id: [build_of(s, 1, "old-key")]})
    report = run_matrix([s], builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    assert report.tuples[0].outcome == "published" and builder.numbers == [2]
    assert pub.files == [wheel_name(s, 2)] and pub.yanked == []  # same platform tags: build 1 stays live


def test_equal_key_on_the_newest_build_publishes_nothing(tmp_path: Path) -> None:
    s = spec("a")
    builder = FakeBuilder(tmp_path)
    pub = FakePublisher(builds={s.id: [build_of(s, 1, "old-key"), build_of(s, 2, "key-" + s.id)]})
    report = run_matrix([s], builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    assert report.tuples[0].outcome == "unchanged" and builder.built == [] and pub.files == []


def test_losing_a_race_for_a_number_replans_with_the_next(tmp_path: Path) -> None:
    s = spec("a")
    builder = FakeBuilder(tmp_path)
    pub = FakePublisher(race={s.id: build_of(s, 1, "someone-else")})
    report = run_matrix([s], builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    assert report.tuples[0].outcome == "published"
    assert pub.files == [wheel_name(s, 2)]


def test_losing_a_race_to_the_same_inputs_is_unchanged(tmp_path: Path) -> None:
    s = spec("a")
    pub = FakePublisher(race={s.id: build_of(s, 1, "key-" + s.id)})
    report = run_matrix([s], builder=FakeBuilder(tmp_path), publisher=pub, progress=Recorder(), jobs=1)
    assert report.tuples[0].outcome == "unchanged" and pub.files == []


def test_a_rebuild_with_other_platform_tags_yanks_what_it_replaces(tmp_path: Path) -> None:
    s = spec("a")
    old = build_of(s, 1, "old-key", platform="manylinux_2_17_x86_64")
    pub = FakePublisher(builds={s.id: [old]})
    report = run_matrix([s], builder=FakeBuilder(tmp_path), publisher=pub, progress=Recorder(), jobs=1)
    assert report.tuples[0].outcome == "published" and pub.yanked == [old.filename]


def test_reduced_arch_build_is_refused_beside_full_arch_builds(tmp_path: Path) -> None:
    reduced = make_spec(package="a", version=Version("1.0"), archs=("90",))
    full = make_spec(package="a", version=Version("1.0"), archs=("80", "90", "100"), ptx="120")
    pub = FakePublisher(builds={reduced.id: [build_of(full, 1, "full-key")]})
    builder = FakeBuilder(tmp_path)
    report = run_matrix([reduced], builder=builder, publisher=pub, progress=Recorder(), jobs=1)
    outcome = report.tuples[0]
    assert outcome.outcome == "failed" and outcome.cause == "publish-rejected"
    assert "reduced-arch" in (outcome.message or "") and "'80'" in (outcome.message or "")
    assert builder.built == [] and pub.files == []
