"""factory_build.json checked against the schema the factory writes (`contract.BuildInfo`), before the
catalog keeps it and every page of its project shows it.

The check is read off the contract's TypedDicts, so a field added there is checked here without an edit:
each key the contract declares must hold its declared type (str, int, float, bool, None, list[X],
dict[str, X], a nested TypedDict with its required keys, a Literal or an enum, Any); keys it does not
declare are kept as they are (a newer factory may write more). The spec must then describe the file it
came in: its package, release and CPython are the file name's, and its torch and CUDA are versions.
"""

from __future__ import annotations

import json
import re
import types
import typing
from enum import Enum
from typing import Any, Literal, NotRequired, Required, Union, get_args, get_origin, is_typeddict

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from index_server.admit.names import ParsedName
from index_server.contract import BUILD_INFO_NAME, BuildInfo, tag_of_python
from index_server.errors import Refused, shown

CONTENT = 422
_PYTHON = re.compile(r"\d+\.\d+")


def _fields(typed_dict: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """(key -> type, required keys) of a TypedDict, read from NotRequired / Required and `total` (its
    `__required_keys__` is wrong under `from __future__ import annotations` on Python 3.11)."""
    fields: dict[str, Any] = {}
    required = set()
    for key, hint in typing.get_type_hints(typed_dict, include_extras=True).items():
        origin = get_origin(hint)
        fields[key] = get_args(hint)[0] if origin in (NotRequired, Required) else hint
        if origin is Required or (origin is not NotRequired and typed_dict.__total__):
            required.add(key)
    return fields, frozenset(required)


def supported(hint: Any) -> bool:
    """Whether `type_errors` understands `hint` (a test walks the contract with it)."""
    origin = get_origin(hint)
    if hint is Any or hint in (str, int, float, bool, type(None), list, dict):
        return True
    if isinstance(hint, type) and issubclass(hint, Enum):
        return True
    if is_typeddict(hint):
        return all(supported(h) for h in _fields(hint)[0].values())
    if origin is Literal:
        return True
    if origin in (Union, types.UnionType, list, dict, NotRequired, Required):
        return all(supported(a) for a in get_args(hint))
    return False


def type_errors(value: Any, hint: Any, where: str) -> list[str]:
    """What in `value` (parsed JSON) does not have the type `hint` declares; [] when all of it does."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return []
    if origin in (Union, types.UnionType):
        options = [type_errors(value, a, where) for a in args]
        return [] if any(not o for o in options) else min(options, key=len)
    if hint is type(None):
        return [] if value is None else [f"{where} must be null, not {shown(value, 40)}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{where} must be true or false, not {shown(value, 40)}"]
    if hint in (int, float):
        allowed = (int,) if hint is int else (int, float)
        ok = isinstance(value, allowed) and not isinstance(value, bool)
        return [] if ok else [f"{where} must be a number ({hint.__name__}), not {shown(value, 40)}"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{where} must be a string, not {shown(value, 40)}"]
    if isinstance(hint, type) and issubclass(hint, Enum):
        allowed_values = [e.value for e in hint]
        return [] if value in allowed_values else [f"{where} must be one of {allowed_values}, not {shown(value, 40)}"]
    if origin is Literal:
        return [] if value in args else [f"{where} must be one of {list(args)}, not {shown(value, 40)}"]
    if hint is list or origin is list:
        if not isinstance(value, list):
            return [f"{where} must be a list, not {shown(value, 40)}"]
        item = args[0] if args else Any
        return [e for i, v in enumerate(value) for e in type_errors(v, item, f"{where}[{i}]")]
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            return [f"{where} must be an object, not {shown(value, 40)}"]
        item = args[1] if args else Any
        return [e for k, v in value.items() for e in type_errors(v, item, f"{where}.{k}")]
    if is_typeddict(hint):
        return _typed_dict_errors(value, hint, where)
    return []  # an annotation the contract may add later; `supported` makes a test say so


def _typed_dict_errors(value: Any, hint: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be an object, not {shown(value, 40)}"]
    fields, required = _fields(hint)
    errors = [f"{where}.{key} is missing" for key in sorted(required) if key not in value]
    for key, field_hint in fields.items():
        if key in value:
            errors += type_errors(value[key], field_hint, f"{where}.{key}")
    return errors


def _spec_errors(spec: dict[str, Any], parsed: ParsedName) -> list[str]:
    """The spec against the file it came in (types already checked)."""
    errors = []
    if canonicalize_name(spec["package"]) != parsed.project:
        errors.append(f"spec.package {shown(spec['package'], 60)} is not the file's project {parsed.project}")
    try:
        if Version(spec["version"]).public != parsed.version.public:
            errors.append(f"spec.version {shown(spec['version'], 60)} is not the file's release")
    except InvalidVersion:
        errors.append(f"spec.version {shown(spec['version'], 60)} is not a PEP 440 version")
    for key in ("torch", "cuda", "torch_version"):
        try:
            Version(spec[key])
        except InvalidVersion:
            errors.append(f"spec.{key} {shown(spec[key], 60)} is not a version")
    python = spec["python"]
    cpython_tags = {t.interpreter for t in parsed.tags if t.abi != "abi3" and t.interpreter.startswith("cp")}
    if not _PYTHON.fullmatch(python):
        errors.append(f"spec.python {shown(python, 60)} is not a CPython version like 3.11")
    elif cpython_tags and tag_of_python(python) not in cpython_tags:
        errors.append(f"spec.python {python} does not match the file's tag {', '.join(sorted(cpython_tags))}")
    return errors


def check_build_info(raw: bytes, parsed: ParsedName) -> dict[str, Any]:
    """The parsed record, or Refused [build-info] saying every way it breaks the contract."""
    filename = parsed.filename
    try:
        info = json.loads(raw)
    except (ValueError, RecursionError) as err:
        detail = "nests too deeply" if isinstance(err, RecursionError) else f"is not JSON ({err})"
        raise Refused("build-info", f"{filename}: {BUILD_INFO_NAME} {detail}", status=CONTENT) from None
    errors = _typed_dict_errors(info, BuildInfo, BUILD_INFO_NAME)
    if not errors and "spec" in info:
        errors = _spec_errors(info["spec"], parsed)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise Refused(
            "build-info",
            f"{filename}: {BUILD_INFO_NAME} does not match the factory's schema: {'; '.join(errors[:3])}{more}",
            status=CONTENT,
        )
    return dict(info)
