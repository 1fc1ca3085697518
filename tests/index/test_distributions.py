from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fake_dists import sdist_bytes, wheel_bytes

from index_server.admit.distributions import inspect_distribution, parse_filename
from index_server.errors import InvalidDistribution, TooLarge
from index_server.settings import Limits


def _write(tmp_path: Path, filename: str, data: bytes) -> Path:
    path = tmp_path / filename
    path.write_bytes(data)
    return path


def test_valid_wheel_yields_metadata_and_build_info(tmp_path: Path) -> None:
    name, data = wheel_bytes(
        "Mamba_SSM",
        "2.3.2+cu.13.0.torch.2.14.abi.1",
        requires_python=">=3.9",
        build_info={"input_key": "abc"},
        tag="cp311-cp311-manylinux_2_28_x86_64",
    )
    dist = inspect_distribution(_write(tmp_path, name, data), name, Limits())
    assert dist.project == "mamba-ssm"
    assert str(dist.version) == "2.3.2+cu.13.0.torch.2.14.abi.1"
    assert dist.python_tag == "cp311"
    assert dist.requires_python == ">=3.9"
    assert dist.build_info == {"input_key": "abc"}
    assert b"Name: Mamba_SSM" in dist.metadata


def test_sdist_reads_pkg_info(tmp_path: Path) -> None:
    name, data = sdist_bytes("einops", "0.8.0")
    dist = inspect_distribution(_write(tmp_path, name, data), name, Limits())
    assert (dist.project, str(dist.version), dist.filetype) == ("einops", "0.8.0", "sdist")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata_name": "other"}, "does not match the file name's project"),
        ({"metadata_version": "9.9"}, "does not match the file name's version"),
        ({"tamper": True}, "RECORD hash mismatch"),
    ],
)
def test_contradicting_wheels_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    name, data = wheel_bytes("pkg", "1.0", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidDistribution, match=message):
        inspect_distribution(_write(tmp_path, name, data), name, Limits())


def test_unlisted_member_is_refused(tmp_path: Path) -> None:
    name, data = wheel_bytes("pkg", "1.0")
    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("pkg/extra.py", b"x = 1\n")
    with pytest.raises(InvalidDistribution, match="not listed with a hash in RECORD"):
        inspect_distribution(_write(tmp_path, name, buf.getvalue()), name, Limits())


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    name, data = wheel_bytes("pkg", "1.0", files={"pkg/zeros.bin": b"\0" * (64 * 1024 * 1024)})
    assert len(data) < 1024 * 1024
    with pytest.raises(TooLarge, match="zip bomb"):
        inspect_distribution(_write(tmp_path, name, data), name, Limits())
    with pytest.raises(TooLarge, match="uncompressed"):
        inspect_distribution(_write(tmp_path, name, data), name, Limits(max_uncompressed_bytes=1000))


def test_not_a_zip(tmp_path: Path) -> None:
    with pytest.raises(InvalidDistribution, match="not a zip archive"):
        inspect_distribution(
            _write(tmp_path, "pkg-1.0-py3-none-any.whl", b"hello"), "pkg-1.0-py3-none-any.whl", Limits()
        )


@pytest.mark.parametrize("filename", ["pkg.exe", "pkg-1.0.whl", "pkg-notaversion-py3-none-any.whl"])
def test_bad_filenames(filename: str) -> None:
    with pytest.raises(InvalidDistribution):
        parse_filename(filename)
