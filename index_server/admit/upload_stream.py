"""An upload's multipart body read as it arrives: form fields kept in memory within caps, the one file
part written straight into the store's temp folder on the data disk and hashed on the way.

Nothing goes to the system's temp folder and nothing is copied twice: the file lands on the filesystem of
its final rename. `on_file` sees the file part's name (and the fields sent before it) before a byte of
it is written, so a bad name is refused first; a body past `max_file_bytes` is refused at the chunk
that crosses it; a full data disk is InsufficientStorage (507) and the partial file is removed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from index_server.errors import Refused, RefusedTooLarge, shown
from index_server.storage.files import ChunkWriter, FileStore

FILE_FIELD = "content"
MAX_FIELD_BYTES = 4 * 1024 * 1024  # a field (twine sends the whole README as `description`)
MAX_FIELDS_BYTES = 8 * 1024 * 1024
MAX_PARTS = 200
MAX_HEADER_BYTES = 8 * 1024  # one part header line
_WRITE_BATCH = 1 << 20  # file bytes handed to a worker thread at a time


def _bad_form(detail: str) -> Refused:
    return Refused("form-malformed", f"the upload's multipart body {detail}")


@dataclass
class ReceivedFile:
    filename: str
    path: Path  # a temporary of the store: moved into place by ingest, removed by the caller otherwise
    size: int
    digests: dict[str, str]  # sha256, md5, blake2_256 (hex)


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _FormReader:
    """The parser's callbacks: fields collected, the file part's bytes queued for the writer."""

    def __init__(self, store: FileStore, max_file_bytes: int, on_file: Callable[[str, dict[str, str]], None]) -> None:
        self.store, self.max_file_bytes, self.on_file = store, max_file_bytes, on_file
        self.fields: dict[str, str] = {}
        self.filename = ""
        self.writer: ChunkWriter | None = None
        self.pending = bytearray()
        self._part = _Part()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._parts = 0
        self._field_bytes = 0

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise _bad_form(f"has more than {MAX_PARTS} parts")
        self._part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._header_name) + len(self._header_value) > MAX_HEADER_BYTES:
            raise _bad_form(f"has a part header longer than {MAX_HEADER_BYTES} bytes")

    def on_header_end(self) -> None:
        self._part.headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name, self._header_value = bytearray(), bytearray()

    def on_headers_finished(self) -> None:
        disposition = dict(self._part.headers).get(b"content-disposition", b"")
        _kind, options = parse_options_header(disposition)
        if b"name" not in options:
            raise _bad_form("has a part without a name")
        self._part.name = options[b"name"].decode("utf-8", errors="replace")
        if b"filename" not in options:
            return
        if self._part.name != FILE_FIELD or self.writer is not None:
            raise Refused(
                "form-content", f"only one file part, named {FILE_FIELD!r}, is accepted (got {shown(self._part.name)})"
            )
        filename = options[b"filename"].decode("utf-8", errors="replace")
        self.on_file(filename, dict(self.fields))  # may refuse the name before a byte is written
        path = self.store.new_temp(".upload")
        self.writer = ChunkWriter(path, self.max_file_bytes, filename)
        self._part.filename = self.filename = filename

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part.filename is not None:
            self.pending += data[start:end]
            return
        self._field_bytes += end - start
        self._part.data += data[start:end]
        if len(self._part.data) > MAX_FIELD_BYTES or self._field_bytes > MAX_FIELDS_BYTES:
            raise RefusedTooLarge("form-field-size", f"form field {shown(self._part.name, 40)} is too large")

    def on_part_end(self) -> None:
        if self._part.filename is None:
            self.fields[self._part.name] = self._part.data.decode("utf-8", errors="replace")


async def receive_upload(
    stream: AsyncIterator[bytes],
    content_type: str,
    store: FileStore,
    *,
    max_file_bytes: int,
    on_file: Callable[[str, dict[str, str]], None],
) -> tuple[dict[str, str], ReceivedFile | None]:
    """(the form's fields, the file part written to a temporary of `store`, or None when there was none)."""
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Refused("form-content", "the upload must be multipart/form-data with a boundary")
    reader = _FormReader(store, max_file_bytes, on_file)
    callbacks = {
        "on_part_begin": reader.on_part_begin,
        "on_part_data": reader.on_part_data,
        "on_part_end": reader.on_part_end,
        "on_header_field": reader.on_header_field,
        "on_header_value": reader.on_header_value,
        "on_header_end": reader.on_header_end,
        "on_headers_finished": reader.on_headers_finished,
    }
    parser = MultipartParser(options[b"boundary"], callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in stream:
            parser.write(chunk)
            if reader.writer is not None and len(reader.pending) >= _WRITE_BATCH:
                await _flush(reader)
        parser.finalize()
        if reader.writer is None:
            return reader.fields, None
        await _flush(reader)
        digests = await anyio.to_thread.run_sync(reader.writer.finish)
    except BaseException as err:
        if reader.writer is not None:
            reader.writer.abort()
        if isinstance(err, FormParserError):
            raise _bad_form("cannot be parsed") from None
        raise
    writer = reader.writer
    return reader.fields, ReceivedFile(filename=reader.filename, path=writer.path, size=writer.size, digests=digests)


async def _flush(reader: _FormReader) -> None:
    assert reader.writer is not None
    batch, reader.pending = bytes(reader.pending), bytearray()
    if batch:
        await anyio.to_thread.run_sync(reader.writer.write, batch)
