"""Which GPU code a built extension really holds: its SASS archs and PTX, read from the ELF's fatbins.

nvcc embeds device code in a `.nv_fatbin` section: one or more fatbin containers (magic 0xBA55ED50, a
16-byte header whose last field is the size of the entries), each holding entries with a header of their
own — kind (1 PTX, 2 SASS/cubin), header size, payload size, and the target arch as a number (90 for
sm_90). Only headers are read; payloads (possibly compressed) are skipped. The same answer as
`cuobjdump --list-elf/--list-ptx` (tests/stages compare the two), without needing a toolkit at hand.
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path
from typing import Any

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

FATBIN_MAGIC = 0xBA55ED50
KIND_PTX, KIND_SASS = 1, 2


class NotAFatbin(ValueError):
    pass


def parse_fatbin(data: bytes) -> dict[str, set[str]]:
    """SASS and PTX archs of every container in a `.nv_fatbin` section's bytes."""
    found: dict[str, set[str]] = {"sass": set(), "ptx": set()}
    offset = 0
    while offset + 16 <= len(data):
        magic, _version, header_size, fat_size = struct.unpack_from("<IHHQ", data, offset)
        if magic != FATBIN_MAGIC:
            if any(data[offset:]):  # containers are padded with zeros
                raise NotAFatbin(f"no fatbin magic at offset {offset}")
            break
        entry, end = offset + header_size, offset + header_size + fat_size
        while entry + 32 <= end:
            kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
            (arch,) = struct.unpack_from("<I", data, entry + 28)
            if kind == KIND_SASS:
                found["sass"].add(str(arch))
            elif kind == KIND_PTX:
                found["ptx"].add(str(arch))
            if entry_header == 0:
                raise NotAFatbin(f"empty fatbin entry header at offset {entry}")
            entry += entry_header + payload
        offset = end
    return found


def elf_archs(data: bytes) -> dict[str, list[str]] | None:
    """{"sass": [...], "ptx": [...]} of one ELF file (archs sorted numerically), None if it has no fatbin."""
    try:
        section = ELFFile(io.BytesIO(data)).get_section_by_name(".nv_fatbin")
    except ELFError:
        return None
    if section is None:
        return None
    found = parse_fatbin(section.data())
    return {kind: sorted(archs, key=int) for kind, archs in found.items()}


def wheel_archs(wheel: Path) -> dict[str, Any]:
    """Per shared object of the wheel that holds device code, its archs; and their union over the wheel."""
    objects: dict[str, dict[str, list[str]]] = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in sorted(zf.namelist()):
            if name.endswith(".so"):
                archs = elf_archs(zf.read(name))
                if archs is not None:
                    objects[name] = archs
    union = {k: sorted({a for o in objects.values() for a in o[k]}, key=int) for k in ("sass", "ptx")}
    return {"sass": union["sass"], "ptx": union["ptx"], "objects": objects}
