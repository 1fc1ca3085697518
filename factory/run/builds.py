"""Build numbers: which PEP 427 build a tuple publishes next, decided from its published builds (pure).

A tuple's builds are the wheels whose factory_build.json names its spec id. The newest (highest build
number) decides: the same input key means up to date (nothing to publish); another key, or none (a
wheel from before build tags and keys, counted as build 0), means build N+1. A tuple whose published
builds were made for another arch list is refused: a reduced-arch profile must not replace full-arch
wheels of the same tuple, nor the reverse, under one name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename


@dataclass(frozen=True, kw_only=True)
class PublishedBuild:
    filename: str
    build: int  # 0 for a wheel without a build tag
    input_key: str | None
    archs: tuple[str, ...]  # SASS archs, then "ptx:NN" when PTX is embedded
    platform_tags: tuple[str, ...]
    yanked: bool = False


@dataclass(frozen=True, kw_only=True)
class NextBuild:
    build: int | None  # None: up to date, publish nothing
    refusal: str | None = None  # why this tuple must not be published here


def arch_list(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The arch list of a spec (BuildSpec.to_json() form), as builds compare it."""
    ptx = spec.get("ptx")
    return (*spec.get("archs", ()), *((f"ptx:{ptx}",) if ptx else ()))


def published_build(filename: str, build_info: Mapping[str, Any] | None, yanked: bool) -> PublishedBuild | None:
    """One catalog/JSON file entry as a build of its tuple; None for a file that is no factory wheel."""
    if build_info is None or not isinstance(build_info.get("spec"), Mapping):
        return None
    try:
        _, _, tag, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return PublishedBuild(
        filename=filename,
        build=tag[0] if tag else 0,
        input_key=build_info.get("input_key"),
        archs=arch_list(build_info["spec"]),
        platform_tags=tuple(sorted({t.platform for t in tags})),
        yanked=yanked,
    )


def by_tuple(entries: Iterable[tuple[str, Mapping[str, Any] | None, bool]]) -> dict[str, list[PublishedBuild]]:
    """(filename, build_info, yanked) entries grouped by the spec id their build_info names."""
    out: dict[str, list[PublishedBuild]] = {}
    for filename, info, yanked in entries:
        found = published_build(filename, info, yanked)
        if found is not None and info is not None:
            out.setdefault(str(info["spec"]["id"]), []).append(found)
    return out


def next_build(published: Sequence[PublishedBuild], input_key: str, archs: tuple[str, ...]) -> NextBuild:
    """The build number a tuple with `input_key` publishes next, or None when its newest build has it."""
    live = [b for b in published if not b.yanked]
    other = sorted({b.archs for b in live if b.archs != archs})
    if other:
        return NextBuild(
            build=None,
            refusal=(
                f"the index holds builds of this tuple for archs {list(other[0])}, this build is for "
                f"{list(archs)}; a reduced-arch profile must not replace full-arch wheels (or the reverse). "
                "Publish it into another index (--data), or yank those builds first"
            ),
        )
    if not published:
        return NextBuild(build=1)
    newest = max(published, key=lambda b: b.build)
    if newest.input_key == input_key and not newest.yanked:
        return NextBuild(build=None)
    return NextBuild(build=newest.build + 1)


def replaced(published: Sequence[PublishedBuild], platform_tags: tuple[str, ...]) -> list[str]:
    """Older live builds to yank once a build with `platform_tags` is published: those whose platform
    tags differ (pip ranks platform-tag priority above the build tag, so they could still win)."""
    wanted = tuple(sorted(set(platform_tags)))
    return [b.filename for b in published if not b.yanked and b.platform_tags != wanted]


@dataclass(frozen=True, kw_only=True)
class PlannedBuilds:
    builds: dict[str, int]  # tuple id -> the build number to publish
    unchanged: list[str]  # ids whose newest build has their key
    refused: dict[str, str]  # id -> why it must not be published there


def plan_builds(
    keys: Mapping[str, tuple[str, tuple[str, ...]]], published: Mapping[str, Sequence[PublishedBuild]]
) -> PlannedBuilds:
    """`keys`: tuple id -> (input key, arch list); what each planned tuple publishes next."""
    builds: dict[str, int] = {}
    unchanged: list[str] = []
    refused: dict[str, str] = {}
    for ident, (key, archs) in keys.items():
        decided = next_build(published.get(ident, []), key, archs)
        if decided.refusal is not None:
            refused[ident] = decided.refusal
        elif decided.build is None:
            unchanged.append(ident)
        else:
            builds[ident] = decided.build
    return PlannedBuilds(builds=builds, unchanged=unchanged, refused=refused)
