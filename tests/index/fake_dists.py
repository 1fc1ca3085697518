"""Builders of tiny but valid wheels and sdists for the index tests (no real torch, nothing compiled)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_bytes(
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    requires: tuple[str, ...] = (),
    requires_python: str | None = None,
    build_info: dict[str, Any] | None = None,
    files: dict[str, bytes] | None = None,
    tamper: bool = False,
    metadata_name: str | None = None,
    metadata_version: str | None = None,
    build: int | None = None,
) -> tuple[str, bytes]:
    """(filename, bytes) of a wheel; `tamper` changes a file after RECORD was written."""
    dist = canonicalize_name(name).replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    module = dist
    contents = dict(files or {f"{module}/__init__.py": f"__version__ = {version!r}\n".encode()})
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {metadata_name or name}",
        f"Version: {metadata_version or version}",
    ]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    contents[f"{dist_info}/METADATA"] = ("\n".join(lines) + "\n").encode()
    contents[f"{dist_info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: fake_dists\n"
        f"Root-Is-Purelib: {'true' if 'none-any' in tag else 'false'}\nTag: {tag}\n"
        + (f"Build: {build}\n" if build is not None else "")
    ).encode()
    if build_info is not None:
        contents[f"{dist_info}/factory_build.json"] = json.dumps(build_info).encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items())
    record += f"{dist_info}/RECORD,,\n"
    if tamper:
        first = next(iter(contents))
        contents[first] = contents[first] + b"# tampered\n"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    build_part = f"{build}-" if build is not None else ""
    return f"{dist}-{version}-{build_part}{tag}.whl", out.getvalue()


def write_wheel(directory: Path, name: str, version: str, **kwargs: Any) -> Path:
    filename, data = wheel_bytes(name, version, **kwargs)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_bytes(data)
    return path


def sdist_bytes(name: str, version: str) -> tuple[str, bytes]:
    base = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for member, data in (
            (f"{base}/PKG-INFO", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()),
            (f"{base}/setup.py", b"raise SystemExit('not buildable')\n"),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"{base}.tar.gz", out.getvalue()


def build_spec_json(version: str, cuda: str, torch_minor: str, python: str = "3.11") -> dict[str, Any]:
    """A factory_build.json record shaped like the factory's (spec from BuildSpec.to_json())."""
    from packaging.version import Version

    from factory.plan.spec import BuildSpec

    torch_version = {"2.9": "2.9.0", "2.14": "2.14.1"}.get(torch_minor, f"{torch_minor}.0")
    spec = BuildSpec(
        package=canonicalize_name("mamba-ssm"),
        version=Version(version),
        cuda=Version(cuda),
        torch=Version(torch_version),
        torch_cuda=Version(cuda),
        python=python,
        cxx11_abi=True,
        platform="manylinux_2_28_x86_64",
    )
    return {"spec": spec.to_json(), "input_key": hashlib.sha256(spec.id.encode()).hexdigest()}


def mamba_build(
    directory: Path,
    cuda: str,
    torch_minor: str,
    *,
    release: str = "2.3.2.post1",
    name: str = "mamba-ssm",
    build: int | None = None,
) -> Path:
    """A dummy build of `name` for (cuda, torch minor, cp311), pinned to that torch like the factory's."""
    major, minor = torch_minor.split(".")
    c_major, c_minor = cuda.split(".")
    label = f"cu.{c_major}.{c_minor}.torch.{major}.{minor}.abi.1"
    info = build_spec_json(release, cuda, torch_minor)
    info["spec"]["package"] = str(canonicalize_name(name))
    return write_wheel(
        directory,
        name,
        f"{release}+{label}",
        tag="cp311-cp311-manylinux_2_28_x86_64",
        requires=(f"torch>={torch_minor},<{major}.{int(minor) + 1}", "einops"),
        requires_python=">=3.9",
        build_info=info,
        build=build,
        files={f"{canonicalize_name(name).replace('-', '_')}/__init__.py": f"BUILD = {build}\n".encode()},
    )


def spec_wheel(directory: Path, spec: Any, build: int | None = None, input_key: str = "k") -> Path:
    """An installable dummy wheel for a BuildSpec, named, labelled, tagged and pinned like the factory's."""
    return write_wheel(
        directory,
        str(spec.package),
        str(spec.wheel_version),
        tag=f"{spec.python_tag}-{spec.python_tag}-{spec.platform}",
        requires=(spec.torch_pin,),
        build_info={"spec": spec.to_json(), "input_key": input_key},
        build=build,
    )
