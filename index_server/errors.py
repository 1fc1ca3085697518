"""Domain errors raised by storage, catalog and ingest; routers map them to HTTP status codes."""

from __future__ import annotations


class IndexError(Exception):
    """Base class: the message says what went wrong, why, and the fix."""

    status = 400


class InvalidDistribution(IndexError):
    """The file is not a valid wheel or sdist, or its contents contradict its name."""

    status = 400


class FileConflict(IndexError):
    """A file of this name already exists with other bytes; published files are immutable."""

    status = 409


class TooLarge(InvalidDistribution):
    """The upload or its uncompressed contents exceed the index's limits."""

    status = 413


class UnknownFile(IndexError):
    """No such project or file in the catalog."""

    status = 404


class UpstreamError(IndexError):
    """The pass-through upstream index failed or answered something unusable."""

    status = 502


class Refused(InvalidDistribution):
    """A named ingest rule refused the file; `rule` is a stable identifier that the message quotes."""

    def __init__(self, rule: str, detail: str, *, status: int = 400) -> None:
        super().__init__(f"[{rule}] {detail}")
        self.rule = rule
        self.status = status


class RefusedTooLarge(Refused, TooLarge):
    """A named size or expansion limit refused the file."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule, detail, status=413)


class InsufficientStorage(IndexError):
    """The disk filled up while a file was written; nothing of it was kept."""

    status = 507
