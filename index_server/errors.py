"""Domain errors raised by storage, catalog and ingest; routers map them to HTTP status codes."""

from __future__ import annotations

SHOWN_CHARS = 120  # of a name a message quotes: a refusal must not echo a 100 MB member name
MESSAGE_CHARS = 1000  # of a whole refusal, whatever it quotes


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """`repr(value)` cut to about `limit` characters, saying how long it was when cut."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def clipped(message: str, limit: int = MESSAGE_CHARS) -> str:
    return message if len(message) <= limit else f"{message[:limit]}... ({len(message)} characters in all)"


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


class UpstreamBusy(UpstreamError):
    """Every pass-through fetch slot stayed taken for the whole timeout."""

    status = 503


class Refused(InvalidDistribution):
    """A named ingest rule refused the file; `rule` is a stable identifier that the message quotes."""

    def __init__(self, rule: str, detail: str, *, status: int = 400) -> None:
        super().__init__(clipped(f"[{rule}] {detail}"))
        self.rule = rule
        self.status = status


class RefusedTooLarge(Refused, TooLarge):
    """A named size or expansion limit refused the file."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(rule, detail, status=413)


class InsufficientStorage(IndexError):
    """The disk filled up while a file was written; nothing of it was kept."""

    status = 507
