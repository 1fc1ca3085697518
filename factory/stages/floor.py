"""A wheel's glibc floor, when it cannot reach its tuple's: the lowest floor auditwheel grants, and the
versioned symbols that keep it there (read from the ELF files themselves, against auditwheel's policies).
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection
from elftools.elf.sections import SymbolTableSection

from factory.plan.platform_tag import PlatformTag


@cache
def _policies() -> dict[str, dict[str, set[str]]]:
    """manylinux policy name -> symbol-version prefix -> the versions it allows (x86_64), from auditwheel."""
    text = resources.files("auditwheel.policy").joinpath("manylinux-policy.json").read_text()
    out = {}
    for policy in json.loads(text):
        versions = policy.get("symbol_versions", {}).get("x86_64", {})
        out[policy["name"]] = {prefix: set(allowed) for prefix, allowed in versions.items()}
    return out


def allowed_versions(platform: str) -> dict[str, set[str]]:
    tag = PlatformTag.parse(platform)
    return _policies()[f"manylinux_{tag.glibc[0]}_{tag.glibc[1]}"] if tag.glibc else {}


def versioned_imports(elf: ELFFile) -> list[tuple[str, str]]:
    """(symbol, version) of every undefined dynamic symbol that names a version (`memcpy`, `GLIBC_2.14`)."""
    dynsym = elf.get_section_by_name(".dynsym")
    versym = elf.get_section_by_name(".gnu.version")
    verneed = elf.get_section_by_name(".gnu.version_r")
    if not isinstance(dynsym, SymbolTableSection) or not isinstance(versym, GNUVerSymSection):
        return []
    if not isinstance(verneed, GNUVerNeedSection):
        return []
    names = {}
    for _, auxiliaries in verneed.iter_versions():
        for aux in auxiliaries:
            names[aux.entry["vna_other"]] = aux.name
    found = []
    for i, symbol in enumerate(dynsym.iter_symbols()):
        if symbol.entry["st_shndx"] != "SHN_UNDEF" or not symbol.name:
            continue
        index = versym.get_symbol(i).entry["ndx"]
        if isinstance(index, int) and index in names:
            found.append((symbol.name, names[index]))
    return found


def symbols_above(data: bytes | Path, platform: str) -> list[str]:
    """`symbol@VERSION` of each import `platform`'s policy does not allow, sorted."""
    allowed = allowed_versions(platform)
    with open(data, "rb") if isinstance(data, Path) else io.BytesIO(data) as handle:
        imports = versioned_imports(ELFFile(handle))
    above = set()
    for symbol, version in imports:
        prefix, _, number = version.partition("_")
        if prefix in allowed and number not in allowed[prefix]:
            above.add(f"{symbol}@{version}")
    return sorted(above)


def wheel_symbols_above(wheel: Path, platform: str) -> dict[str, list[str]]:
    """Per shared object in the wheel, the imports above `platform`'s policy (objects with none left out)."""
    out = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            if name.endswith(".so") or ".so." in name.rsplit("/", 1)[-1]:
                above = symbols_above(zf.read(name), platform)
                if above:
                    out[name] = above
    return out


def raised_floor_record(wanted: str, granted: str, symbols: dict[str, list[str]]) -> dict[str, Any]:
    """What factory_build.json says of a wheel whose floor sits above its tuple's (pure)."""
    first = next((s for found in symbols.values() for s in found), "unknown")
    return {
        "wanted": wanted,
        "granted": granted,
        "raised_by": symbols,
        "why": f"floor raised from {_glibc(wanted)} to {_glibc(granted)} by {first}",
    }


def _glibc(platform: str) -> str:
    tag = PlatformTag.parse(platform)
    return f"{tag.glibc[0]}.{tag.glibc[1]}" if tag.glibc else platform
