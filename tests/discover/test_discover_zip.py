"""Reading a wheel's METADATA: PEP 658 first, else byte ranges of the zip (no network: MockTransport)."""

from __future__ import annotations

import io
import struct
import zipfile

import httpx
import pytest
from fake_pypi import range_response, wheel_zip

from factory.discover.pypi import PyPI, PyPIError, ReleaseFile
from factory.discover.remote_zip import read_zip_member

URL = "https://files.example/packages/torch-9.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
META = "Metadata-Version: 2.1\nName: torch\nVersion: 9.1.0\nRequires-Dist: nvidia-cuda-runtime==13.1.80\n"


def release_file(url: str = URL) -> ReleaseFile:
    return ReleaseFile(
        filename=url.rsplit("/", 1)[-1],
        url=url,
        packagetype="bdist_wheel",
        size=0,
        sha256="",
        yanked=False,
        core_metadata=False,
    )


class Server:
    """One wheel behind a URL; the .metadata file is 404 unless given."""

    def __init__(self, data: bytes, metadata: str | None = None, honour_range: bool = True) -> None:
        self.data, self.metadata, self.honour_range = data, metadata, honour_range
        self.ranges: list[str] = []
        self.metadata_status = 200 if metadata is not None else 404

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(".metadata"):
            return httpx.Response(self.metadata_status, text=self.metadata or "")
        header = request.headers.get("range")
        self.ranges.append(header)
        return range_response(self.data, header if self.honour_range else None)

    def pypi(self) -> PyPI:
        return PyPI(httpx.Client(transport=httpx.MockTransport(self)), "https://pypi.example")


def test_metadata_read_by_range_without_the_rest_of_the_wheel() -> None:
    data = wheel_zip(release_file().filename, META, padding=2_000_000)
    server = Server(data)
    pypi = server.pypi()
    got = pypi.wheel_metadata(release_file())
    assert got.text == META and got.via == "range"
    assert server.ranges[0] == "bytes=-65536"
    # the tail holds the end record, the directory and (last in this wheel) METADATA itself: one request
    assert server.ranges == ["bytes=-65536"]
    assert got.bytes_read < 70_000 < len(data)


def test_central_directory_before_the_tail_is_fetched_by_offset() -> None:
    data = wheel_zip(release_file().filename, META, members=3000)
    pieces: list[str] = []

    def read(url: str, spec: str) -> tuple[bytes, int]:
        pieces.append(spec)
        response = range_response(data, f"bytes={spec}")
        return response.content, len(data)

    assert read_zip_member(read, URL, lambda n: n.endswith(".dist-info/METADATA"), tail_size=64) == META.encode()
    assert pieces[0] == "-64" and len(pieces) == 3  # tail, central directory, member


def _zip64(data: bytes) -> bytes:
    """The same archive with its end record pointing to a zip64 end record (as big wheels have)."""
    at = data.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<II", data, at + 12)
    (count,) = struct.unpack_from("<H", data, at + 10)
    record = struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, at, 1)
    end = bytearray(data[at:])
    end[12:20] = b"\xff" * 8
    return data[:at] + record + locator + bytes(end)


@pytest.mark.parametrize("tail", [65536, 50])  # 50: the locator is in the tail, the record is not
def test_zip64_end_record(tail: int) -> None:
    data = _zip64(wheel_zip(release_file().filename, META))
    assert zipfile.ZipFile(io.BytesIO(data)).read("torch-9.1.0.dist-info/METADATA") == META.encode()

    def read(url: str, spec: str) -> tuple[bytes, int]:
        return range_response(data, f"bytes={spec}").content, len(data)

    assert read_zip_member(read, URL, lambda n: n.endswith("/METADATA"), tail_size=tail) == META.encode()


def test_zip64_extra_fields_for_offsets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 100)  # every offset past 100 bytes goes to the zip64 extra
    data = wheel_zip(release_file().filename, META, padding=4096)
    server = Server(data)
    assert server.pypi().wheel_metadata(release_file()).text == META


def test_pep658_file_is_preferred() -> None:
    server = Server(wheel_zip(release_file().filename, META), metadata="Name: torch\nVersion: 9.1.0\n")
    got = server.pypi().wheel_metadata(release_file())
    assert got.via == "pep658" and got.text.startswith("Name: torch")
    assert server.ranges == []


def test_server_ignoring_range_is_refused_not_downloaded() -> None:
    server = Server(wheel_zip(release_file().filename, META), honour_range=False)
    with pytest.raises(PyPIError, match="instead of 206"):
        server.pypi().wheel_metadata(release_file())


def test_metadata_server_error_is_reported() -> None:
    server = Server(wheel_zip(release_file().filename, META))
    server.metadata_status = 503
    with pytest.raises(PyPIError, match="HTTP 503"):
        server.pypi().wheel_metadata(release_file())


def test_not_a_zip() -> None:
    server = Server(b"this is not a zip file at all" * 10)
    with pytest.raises(PyPIError, match="end-of-central-directory"):
        server.pypi().wheel_metadata(release_file())


def test_corrupt_member_fails_the_crc() -> None:
    data = bytearray(wheel_zip(release_file().filename, META))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("torch-9.1.0.dist-info/METADATA")
    body = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[body + 2] ^= 0xFF
    server = Server(bytes(data))
    with pytest.raises(PyPIError, match=r"CRC|damaged"):
        server.pypi().wheel_metadata(release_file())


def test_project_404_names_the_project() -> None:
    pypi = PyPI(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(404))), "https://p.example")
    with pytest.raises(PyPIError, match="no project 'mamba-ssm'"):
        pypi.releases("Mamba_SSM")
