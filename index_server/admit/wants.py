"""Rules on a sentinel's want report: the JSON body, each field, and the platform its User-Agent names.

Every refusal is a `Refused` with a named rule, like the upload rules. The User-Agent is read the way pip
writes its own (`pip/26.0 {"cpu": "x86_64", "libc": {"lib": "glibc", "version": "2.36"}, "system": {"name":
"Linux", ...}, ...}`), which the sentinel imitates; anything else leaves the platform "unknown".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from index_server.errors import Refused
from index_server.wants import WantKey

MAX_BODY_BYTES = 2048
MAX_USER_AGENT = 1024
_REQUIRED = ("torch", "cuda", "cxx11_abi", "python")
_OPTIONAL = ("release",)
_CUDA = re.compile(r"[1-9][0-9]?\.[0-9]{1,2}")
_PYTHON = re.compile(r"3\.[0-9]{1,2}")
_PLATFORM_PART = re.compile(r"[A-Za-z0-9_]{1,24}")
_GLIBC = re.compile(r"[1-9]\.[0-9]{1,3}")
_RELEASE_CHARS = re.compile(r"[A-Za-z0-9.,<>=!~* ]{1,100}")
_VISIBLE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no space: Version() would strip whitespace


@dataclass(frozen=True, kw_only=True)
class ParsedReport:
    key: WantKey
    glibc: str | None


def check_content_type(value: str | None) -> None:
    if (value or "").split(";")[0].strip().lower() != "application/json":
        raise Refused("want-content-type", f"send the want as application/json, not {value!r}", status=415)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _body(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise Refused("want-size", f"a want is at most {MAX_BODY_BYTES} bytes; this one has {len(raw)}", status=413)
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_object, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise Refused("want-json", f"the body is not one JSON object: {err}") from None
    if not isinstance(data, dict):
        raise Refused("want-json", f"the body is a JSON {type(data).__name__}, not an object")
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise Refused("want-field-unknown", f"unknown fields {unknown[:5]}; a want has {[*_REQUIRED, *_OPTIONAL]}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise Refused("want-field-missing", f"missing {missing}; a want has {list(_REQUIRED)} (and release)")
    return data


def _string(data: dict[str, Any], name: str, limit: int) -> str:
    value = data[name]
    if not isinstance(value, str) or len(value) > limit or not _VISIBLE.fullmatch(value):
        raise Refused(f"want-{name}", f"{name} must be a short ASCII string, not {str(value)[:40]!r}")
    return value


def _torch(data: dict[str, Any]) -> str:
    text = _string(data, "torch", 40)
    try:
        version = Version(text)
    except InvalidVersion:
        raise Refused("want-torch", f"torch {text!r} is not a version") from None
    if version.epoch or len(version.release) < 2 or not (1 <= version.major <= 9) or version.minor > 99:
        raise Refused("want-torch", f"torch {text!r} is not a torch release (e.g. 2.14.1)")
    return version.public


def _release(data: dict[str, Any]) -> str:
    value = data.get("release")
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _RELEASE_CHARS.fullmatch(value):
        raise Refused("want-release", f"release must be a version specifier such as '==1.7.0', not {str(value)[:40]!r}")
    try:
        spec = SpecifierSet(value)
    except InvalidSpecifier:
        raise Refused("want-release", f"release {value!r} is not a version specifier") from None
    if len(list(spec)) > 4:
        raise Refused("want-release", f"release {value!r} has more than 4 clauses")
    return str(spec)


def parse_report(project: str, raw: bytes, user_agent: str | None) -> ParsedReport:
    """The want a report body names for `project` (already checked to be hosted), or Refused."""
    data = _body(raw)
    torch = _torch(data)
    cuda = _string(data, "cuda", 8)
    if not _CUDA.fullmatch(cuda):
        raise Refused("want-cuda", f"cuda {cuda!r} is not a CUDA version such as 13.0")
    if not isinstance(data["cxx11_abi"], bool):
        raise Refused("want-abi", f"cxx11_abi must be true or false, not {str(data['cxx11_abi'])[:20]!r}")
    python = _string(data, "python", 8)
    if not _PYTHON.fullmatch(python):
        raise Refused("want-python", f"python {python!r} is not a CPython 3 version such as 3.12")
    platform, glibc = platform_of(user_agent)
    key = WantKey(
        project=project,
        release=_release(data),
        torch=torch,
        cuda=cuda,
        cxx11_abi=data["cxx11_abi"],
        python=python,
        platform=platform,
    )
    return ParsedReport(key=key, glibc=glibc)


def platform_of(user_agent: str | None) -> tuple[str, str | None]:
    """("linux_x86_64", "2.36") from a pip-style User-Agent; ("unknown", None) from anything else."""
    if not user_agent or len(user_agent) > MAX_USER_AGENT:
        return "unknown", None
    _, _, rest = user_agent.partition(" ")
    try:
        info = json.loads(rest, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        return "unknown", None
    if not isinstance(info, dict):
        return "unknown", None
    system: dict[str, Any] = info["system"] if isinstance(info.get("system"), dict) else {}
    name, cpu = system.get("name"), info.get("cpu")
    if not (isinstance(name, str) and isinstance(cpu, str)) or not (
        _PLATFORM_PART.fullmatch(name) and _PLATFORM_PART.fullmatch(cpu)
    ):
        return "unknown", None
    libc: dict[str, Any] = info["libc"] if isinstance(info.get("libc"), dict) else {}
    version = libc.get("version")
    glibc = version if libc.get("lib") == "glibc" and isinstance(version, str) and _GLIBC.fullmatch(version) else None
    return f"{name.lower()}_{cpu}", glibc
