"""The main job: build every planned tuple whose inputs are not yet published, publish, report.

Each tuple publishes the build number factory.run.builds.next_build gives it (none when its newest build
has its input key); losing a race for that number (409) re-plans instead of failing.

Pure orchestration: the builder (provision → verify for one tuple), the publisher (the index) and the
progress display are passed in, so the scheduling, skipping, failure isolation and reporting are tested
with fakes. Tuples run concurrently up to `jobs`; one failing tuple never stops the others.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from packaging.utils import parse_wheel_filename

from factory.errors import FactoryError
from factory.plan.spec import BuildSpec
from factory.run.builds import PublishedBuild, arch_list, next_build, replaced
from factory.run.publish import PublishConflict, PublishError
from index_server.contract import RUN_OUTCOMES, Cause, Outcome

_PUBLISH_ATTEMPTS = 3


class BuildResult(Protocol):
    @property
    def outcome(self) -> Outcome: ...  # BUILT, FAILED or SKIPPED

    @property
    def stage(self) -> str | None: ...

    @property
    def cause(self) -> Cause | None: ...

    @property
    def message(self) -> str | None: ...

    @property
    def wheel(self) -> Path | None: ...

    @property
    def log(self) -> Path | None: ...

    @property
    def input_key(self) -> str | None: ...


class Builder(Protocol):
    def input_key(self, spec: BuildSpec) -> str: ...

    def build(self, spec: BuildSpec, on_stage: Callable[[str], None], build: int) -> BuildResult: ...

    def retag(self, wheel: Path, build: int) -> Path: ...  # the same wheel under another build number


class Publisher(Protocol):
    def published_builds(self) -> dict[str, list[PublishedBuild]]: ...  # by tuple id

    def publish(self, wheel: Path) -> str: ...  # raises PublishConflict when the name holds other bytes

    def yank(self, filename: str, reason: str) -> None: ...

    def publish_report(self, report: dict[str, Any], logs: dict[str, Path]) -> None: ...


class Progress(Protocol):
    def start(self, spec: BuildSpec) -> None: ...

    def stage(self, spec: BuildSpec, stage: str) -> None: ...

    def finish(self, spec: BuildSpec, outcome: TupleOutcome) -> None: ...


@dataclass(frozen=True, kw_only=True)
class TupleOutcome:
    spec: BuildSpec
    outcome: Outcome  # one of RUN_OUTCOMES
    stage: str | None = None
    cause: Cause | None = None
    message: str | None = None
    wheel: str | None = None
    log: Path | None = None
    input_key: str | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.spec.id,
            "spec": self.spec.to_json(),
            "outcome": self.outcome,
            "stage": self.stage,
            "cause": self.cause,
            "message": self.message,
            "wheel": self.wheel,
            "input_key": self.input_key,
            "seconds": round(self.seconds, 1),
        }


@dataclass(kw_only=True)
class RunReport:
    run_id: str
    profile: str | None
    started: datetime
    finished: datetime | None = None
    tuples: list[TupleOutcome] = field(default_factory=list)
    # The plan's dropped combinations (Dropped.to_json), so the index's page can say why a release has
    # no wheel for a torch.
    dropped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[TupleOutcome]:
        return [t for t in self.tuples if t.outcome == Outcome.FAILED]

    def counts(self) -> dict[str, int]:
        return {str(o): sum(1 for t in self.tuples if t.outcome == o) for o in RUN_OUTCOMES}

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "profile": self.profile,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": self.finished.isoformat(timespec="seconds") if self.finished else None,
            "counts": self.counts(),
            "tuples": [t.to_json() for t in self.tuples],
            "dropped": self.dropped,
        }


class _EnvLocks:
    """One lock per provisioned environment, so two tuples never create the same env at once."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, spec: BuildSpec) -> threading.Lock:
        key = f"{spec.python}-{spec.torch}-{spec.torch_cuda}-{spec.cuda}"
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


def run_matrix(
    specs: Iterable[BuildSpec],
    *,
    builder: Builder,
    publisher: Publisher,
    progress: Progress,
    jobs: int,
    profile: str | None = None,
    dropped: Sequence[Mapping[str, Any]] = (),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunReport:
    if jobs < 1:
        raise FactoryError(f"--jobs must be at least 1 (got {jobs})")
    report = RunReport(run_id=_run_id(clock()), profile=profile, started=clock(), dropped=[dict(d) for d in dropped])
    published = publisher.published_builds()
    env_lock = _EnvLocks()
    publish_lock = threading.Lock()

    def one(spec: BuildSpec) -> TupleOutcome:
        progress.start(spec)
        began = time.monotonic()
        try:
            outcome = _one_tuple(spec, builder, publisher, progress, published, env_lock, publish_lock)
        except Exception as err:  # isolate any tuple's crash from the others
            outcome = TupleOutcome(
                spec=spec,
                outcome=Outcome.FAILED,
                stage="internal",
                cause=Cause.INTERNAL_ERROR,
                message=f"{type(err).__name__}: {err}",
            )
        outcome = _with_seconds(outcome, time.monotonic() - began)
        progress.finish(spec, outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="tuple") as pool:
        report.tuples = list(pool.map(one, list(specs)))
    report.finished = clock()
    logs = {t.spec.id: t.log for t in report.tuples if t.log is not None and t.log.exists()}
    publisher.publish_report(report.to_json(), logs)
    return report


def _one_tuple(
    spec: BuildSpec,
    builder: Builder,
    publisher: Publisher,
    progress: Progress,
    published: dict[str, list[PublishedBuild]],
    env_lock: Callable[[BuildSpec], threading.Lock],
    publish_lock: threading.Lock,
) -> TupleOutcome:
    progress.stage(spec, "provision")
    key: str | None
    try:
        with env_lock(spec):
            key = builder.input_key(spec)
    except FactoryError:
        key = None  # the build below reaches the same failure and records it, classified
    archs = arch_list(spec.to_json())
    builds = published.get(spec.id, [])
    decided = next_build(builds, key or "", archs)
    if decided.refusal is not None:
        return TupleOutcome(
            spec=spec, outcome=Outcome.FAILED, stage="publish", cause=Cause.PUBLISH_REJECTED,
            message=decided.refusal, input_key=key,
        )  # fmt: skip
    if decided.build is None:
        return TupleOutcome(spec=spec, outcome=Outcome.UNCHANGED, input_key=key)
    result = builder.build(spec, lambda stage: progress.stage(spec, stage), decided.build)
    recorded = TupleOutcome(
        spec=spec,
        outcome=Outcome.SKIPPED if result.outcome == Outcome.SKIPPED else Outcome.FAILED,
        stage=result.stage,
        cause=result.cause,
        message=result.message,
        log=result.log,
        input_key=result.input_key or key,
    )
    if result.outcome != Outcome.BUILT or result.wheel is None:
        return recorded
    progress.stage(spec, "publish")
    wheel = result.wheel
    try:
        with publish_lock:
            for _ in range(_PUBLISH_ATTEMPTS):
                try:
                    filename = publisher.publish(wheel)
                    break
                except PublishConflict:  # another publisher took this build number: re-plan
                    builds = publisher.published_builds().get(spec.id, [])
                    again = next_build(builds, recorded.input_key or "", archs)
                    if again.build is None:
                        return replace(recorded, outcome=Outcome.UNCHANGED, stage=None, cause=None, message=None)
                    wheel = builder.retag(wheel, again.build)
            else:
                raise PublishError(f"{wheel.name}: still conflicting after {_PUBLISH_ATTEMPTS} re-plans")
            stale = replaced(builds, tuple(sorted({t.platform for t in parse_wheel_filename(filename)[3]})))
            for old in stale:
                publisher.yank(old, f"replaced by {filename} (other platform tags)")
    except FactoryError as err:
        return replace(recorded, stage="publish", cause=Cause.PUBLISH_REJECTED, message=str(err))
    return replace(recorded, outcome=Outcome.PUBLISHED, stage=None, cause=None, message=None, wheel=filename)


def _with_seconds(outcome: TupleOutcome, seconds: float) -> TupleOutcome:
    return replace(outcome, seconds=seconds)


def _run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def default_jobs(cpu_count: int, mem_gib: float, gib_per_job: float = 6.0, cores_per_job: int = 2) -> int:
    """Concurrent tuples the machine can hold: nvcc takes GBs per job and each tuple compiles in parallel."""
    return max(1, min(cpu_count // cores_per_job, int(mem_gib // gib_per_job)))
