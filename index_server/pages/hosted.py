"""Simple API pages of hosted projects: the catalog's files of one channel plus the sentinel sdist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from index_server.pages.channels import Channel, in_channel
from index_server.pages.simple import Link, ProjectPage
from index_server.pages.wanted import sentinel_builds
from index_server.sentinel import SentinelBuild, build_sentinel, sentinel_filename, sentinel_sha256
from index_server.storage.catalog import FileRecord


def file_link(record: FileRecord, files_base: str) -> Link:
    return Link(
        filename=record.filename,
        url=f"{files_base}{record.project}/{record.filename}",
        hashes={"sha256": record.sha256},
        requires_python=record.requires_python,
        core_metadata={"sha256": record.metadata_sha256} if record.metadata_sha256 else None,
        yanked=record.yanked_reason,
        size=record.size,
        upload_time=record.upload_time,
        factory_build=record.build_info,
    )


def sentinel_link(
    project: str, files_base: str, matrix_url: str, want_url: str | None = None, builds: tuple[SentinelBuild, ...] = ()
) -> Link:
    return Link(
        filename=sentinel_filename(project),
        url=f"{files_base}{project}/{sentinel_filename(project)}",
        hashes={"sha256": sentinel_sha256(project, matrix_url, want_url, builds)},
        size=len(build_sentinel(project, matrix_url, want_url, builds)),
    )


def hosted_page(
    project: str,
    records: Sequence[FileRecord],
    channel: Channel,
    root_cuda_major: Mapping[str, int],
    *,
    files_base: str,
    matrix_url: str,
    want_url: str | None = None,
) -> ProjectPage:
    """The channel's page of a hosted project; `files_base` is the files URL relative to the page. Its
    sentinel names the builds of all `records` and reports wants to `want_url` (None: it reports none)."""
    links = [file_link(r, files_base) for r in records if in_channel(r.version, channel, root_cuda_major)]
    builds = sentinel_builds(records, root_cuda_major)
    links.append(sentinel_link(project, files_base, matrix_url, want_url, builds))
    return ProjectPage(name=project, links=tuple(links))


def files_base_for(channel: Channel) -> str:
    """Relative URL from `<prefix>simple/<project>/` to `files/`."""
    return "../../files/" if channel.cuda_major is None else "../../../files/"


def matrix_url(base_url: str, project: str) -> str:
    return f"{base_url.rstrip('/')}/project/{project}/"


def want_url(base_url: str, project: str) -> str:
    """Where the sentinel reports a want (POST, see routers/wants.py)."""
    return f"{base_url.rstrip('/')}/wants/{project}"
