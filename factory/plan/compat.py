"""Compatibility learned by building (data/compat.toml): per (package, release, torch minor, CUDA major),
whether a real build compiled and imported, and for those that did not, the classified cause, the first
error line and the run report that found it. The planner drops known failures with that reason; pairs
not yet tried stay planned, since building them is how they are learned.

Everything here is pure except `load_compat`; `factory learn` writes rows from a run report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from factory.errors import ConfigError
from factory.plan.spec import BuildSpec
from index_server.contract import Cause, Outcome

# Failures that say something about the (release, torch, CUDA) pair itself. The rest (no network, a broken
# environment or toolkit, a refused floor, a full disk) say nothing about compatibility and are not learned.
LEARNED_CAUSES = {
    ("build", Cause.BUILD_FAILED): "the sources do not compile against this torch and toolkit",
    ("build", Cause.PATCH_FAILED): "a recipe patch no longer applies to this release's sources",
    ("verify", Cause.IMPORT_FAILED): "the built extension does not import with this torch",
    ("build", Cause.DEPENDENCY_CONFLICT): "the release's declared dependencies cannot be installed beside this torch",
    ("verify", Cause.DEPENDENCY_CONFLICT): "the release's declared dependencies cannot be installed beside this torch",
}
BUILT = (Outcome.PUBLISHED, Outcome.UNCHANGED)

_HEADER = """\
# Compatibility learned by building: one row per (package, release, torch minor, CUDA major) that a real
# `factory run` tried. Written by `factory learn --report REPORT.json` from the run's report; never by hand.
# `factory plan` drops the tuples of a row with builds = false, giving its cause and the report that
# found it; pairs without a row stay planned. To try a pair again (a recipe patch now fixes it), delete
# its row.
#
#   builds   true: every tuple of the pair in that run compiled, repaired and imported
#   cause    stage/cause of the failure (build/build-failed, build/patch-failed, verify/import-failed)
#   message  the first error line of the build log
#   report   the run id of the report that found it; tuple: the tuple id whose log shows it
"""

Key = tuple[NormalizedName, Version, str, int]  # package, release, torch minor, CUDA major


@dataclass(frozen=True, kw_only=True)
class PairResult:
    package: NormalizedName
    version: Version
    torch: str
    cuda: int
    builds: bool
    report: str
    tuple_id: str
    cause: str | None = None
    message: str | None = None

    @property
    def key(self) -> Key:
        return (self.package, self.version, self.torch, self.cuda)

    def reason(self) -> str:
        return (
            f"{self.package} {self.version} does not build for torch {self.torch} + CUDA {self.cuda}.x: "
            f"{self.cause}: {self.message} (learned by run {self.report}, tuple {self.tuple_id}; "
            "delete its row from factory/data/compat.toml to try again)"
        )

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "package": str(self.package),
            "version": str(self.version),
            "torch": self.torch,
            "cuda": self.cuda,
            "builds": self.builds,
        }
        if not self.builds:
            row |= {"cause": self.cause or "", "message": self.message or ""}
        return row | {"report": self.report, "tuple": self.tuple_id}


Compat = dict[Key, PairResult]


def outcomes_from_report(report: dict[str, Any]) -> list[PairResult]:
    """One outcome per pair the report tried: a failure if any of its tuples failed for a learned cause
    (the first such tuple gives the message), a success if all of them built, nothing otherwise."""
    run_id = report.get("run_id")
    if not run_id or not isinstance(report.get("tuples"), list):
        raise ConfigError("not a `factory run` report: it needs run_id and tuples; pass the report's JSON file")
    pairs: dict[Key, list[dict[str, Any]]] = {}
    for entry in report["tuples"]:
        spec = entry.get("spec", {})
        try:
            key = (
                canonicalize_name(spec["package"]),
                Version(spec["version"]),
                str(spec["torch"]),
                int(spec["cuda_major"]),
            )
        except (KeyError, InvalidVersion, ValueError) as bad:
            raise ConfigError(f"report {run_id}: tuple {entry.get('id', '?')!r} lacks a usable spec ({bad})") from None
        pairs.setdefault(key, []).append(entry)
    out = []
    for key, entries in pairs.items():
        failed = next((e for e in entries if (e.get("stage"), e.get("cause")) in LEARNED_CAUSES), None)
        package, version, torch, cuda = key
        pair = partial(PairResult, package=package, version=version, torch=torch, cuda=cuda, report=str(run_id))
        if failed is not None:
            cause = f"{failed['stage']}/{failed['cause']}"
            out.append(pair(builds=False, tuple_id=failed["id"], cause=cause, message=failed.get("message")))
        elif all(e.get("outcome") in BUILT for e in entries):
            out.append(pair(builds=True, tuple_id=entries[0]["id"]))
    return out


def learn(table: Compat, outcomes: list[PairResult]) -> Compat:
    """The table with newer outcomes in place of older ones of the same pair."""
    return dict(sorted({**table, **{o.key: o for o in outcomes}}.items(), key=lambda kv: _order(kv[0])))


def _order(key: Key) -> tuple[str, Version, Version, int]:
    return (key[0], key[1], Version(key[2]), key[3])


def known_failure(table: Compat, spec: BuildSpec) -> PairResult | None:
    found = table.get((spec.package, spec.version, spec.torch_minor, spec.cuda_major))
    return found if found is not None and not found.builds else None


def parse_compat(data: dict[str, Any], origin: str = "compat.toml") -> Compat:
    table: Compat = {}
    for i, row in enumerate(data.get("outcome", [])):
        where = f"{origin} [[outcome]] #{i + 1}"
        try:
            outcome = PairResult(
                package=canonicalize_name(row["package"]),
                version=Version(row["version"]),
                torch=str(row["torch"]),
                cuda=int(row["cuda"]),
                builds=bool(row["builds"]),
                report=str(row["report"]),
                tuple_id=str(row["tuple"]),
                cause=row.get("cause"),
                message=row.get("message"),
            )
        except KeyError as missing:
            raise ConfigError(f"{where}: missing field {missing}") from None
        except (InvalidVersion, ValueError) as bad:
            raise ConfigError(f"{where}: {bad}") from None
        if not outcome.builds and not outcome.cause:
            raise ConfigError(f"{where}: a failure needs its cause and message")
        table[outcome.key] = outcome
    return table


def render_compat(table: Compat) -> str:
    out = [_HEADER]
    for key in sorted(table, key=_order):
        out.append("\n[[outcome]]\n")
        for k, v in table[key].to_row().items():
            out.append(f"{k} = {_toml_value(v)}\n")
    return "".join(out)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{text}"'


def load_compat(path: Path | None = None) -> Compat:
    if path is None:
        return _default_compat()
    if not path.exists():
        return {}
    try:
        return parse_compat(tomllib.loads(path.read_text()), str(path))
    except tomllib.TOMLDecodeError as bad:
        raise ConfigError(f"{path}: not valid TOML: {bad}") from None


@cache
def _default_compat() -> Compat:
    text = resources.files("factory").joinpath("data/compat.toml").read_text()
    return parse_compat(tomllib.loads(text), "factory/data/compat.toml")
