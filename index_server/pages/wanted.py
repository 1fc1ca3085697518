"""A project's wanted list for its page, and what its files were built for (the sentinel's and the served
marks' view of them): pure, from the want store, the catalog's records and the factory's WantPlan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from index_server.contract import BuildLabel, python_of_tag
from index_server.sentinel import SentinelBuild
from index_server.storage.catalog import FileRecord
from index_server.wants import BuildFacts, Want, WantPlan, judge

SERVED, PLANNED, NOT_PLANNED, UNJUDGED = "served", "buildable", "not-buildable", "unjudged"


def build_facts(record: FileRecord) -> BuildFacts | None:
    """What a stored wheel was built for (its factory_build.json, else its build label); None for other files."""
    if record.filetype != "bdist_wheel":
        return None
    info = record.build_info
    spec = info.get("spec") if isinstance(info, dict) else None
    if isinstance(spec, dict):
        try:
            exact = spec.get("exact_torch_pin")
            torch_cuda = str(spec.get("torch_cuda", "")).replace(".", "")
            Version(str(spec["torch"])), Version(str(spec["python"])), int(str(spec["cuda"]).split(".")[0])
            return BuildFacts(
                project=record.project,
                version=str(Version(str(spec["version"])).public),
                torch_minor=str(spec["torch"]),
                cuda=str(spec["cuda"]),
                cxx11_abi=bool(spec["cxx11_abi"]),
                python=str(spec["python"]),
                exact_torch=f"{Version(str(spec['torch_version'])).public}+cu{torch_cuda}" if exact else None,
            )
        except (KeyError, InvalidVersion, ValueError):
            pass  # odd provenance (ingest checks new files; old rows may hold anything): the label decides
    label = BuildLabel.parse(record.version)
    python = python_of_tag(record.python_tag)
    if label is None or python is None:
        return None
    return BuildFacts(
        project=record.project,
        version=str(Version(record.version).public),
        torch_minor=label.torch_minor,
        cuda=f"{label.cuda.major}.{label.cuda.minor}",
        cxx11_abi=label.cxx11_abi,
        python=python,
    )


def sentinel_builds(records: Sequence[FileRecord], root_cuda_major: Mapping[str, int]) -> tuple[SentinelBuild, ...]:
    """The builds a project's sentinel names, newest release first, each with the channels that list it."""
    found: set[SentinelBuild] = set()
    for record in records:
        facts = build_facts(record)
        if facts is None or record.yanked_reason is not None:
            continue
        major = int(facts.cuda.split(".")[0])
        channels: tuple[str, ...] = (f"/cu{major}/simple/",)
        if root_cuda_major.get(facts.torch_minor) == major:
            channels = ("/simple/", *channels)
        found.add(SentinelBuild(facts.version, facts.torch_minor, facts.cuda, facts.cxx11_abi, facts.python, channels))

    def order(b: SentinelBuild) -> tuple[Version, Version, Version, str, bool]:
        return (Version(b.version), Version(b.torch), Version(b.python), b.cuda, b.abi)

    return tuple(sorted(found, key=order, reverse=True))


@dataclass(frozen=True)
class WantRow:
    want: Want
    status: str  # SERVED, PLANNED, NOT_PLANNED or UNJUDGED
    note: str

    @property
    def label(self) -> str:
        return self.want.key.label


def wanted_rows(wants: Sequence[Want], plan: WantPlan | None) -> list[WantRow]:
    """The page's rows: unserved wants first (most wanted first), then served ones, each with its status."""
    rows = []
    for want in wants:
        if want.served_by is not None:
            again = want.served_at is not None and want.last_seen > want.served_at
            note = f"served by {want.served_by}" + ("; asked again since" if again else "")
            rows.append(WantRow(want, SERVED, note))
        elif plan is None:
            rows.append(WantRow(want, UNJUDGED, "this index was started without the factory's matrix"))
        else:
            verdict = judge(want.key, plan)
            if verdict.buildable:
                note = f"the plan can build it ({want.key.project} {verdict.release}); the next wanted run does"
                rows.append(WantRow(want, PLANNED, note))
            else:
                rows.append(WantRow(want, NOT_PLANNED, verdict.reason))
    return sorted(rows, key=lambda r: r.status == SERVED)
