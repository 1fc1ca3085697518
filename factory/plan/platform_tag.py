"""PlatformTag: a Linux wheel platform tag and the glibc it promises, with PEP 600's meaning.

`manylinux_2_28_x86_64` promises glibc 2.28; the legacy aliases mean what PEP 600 says they mean
(manylinux1 = 2.5, manylinux2010 = 2.12, manylinux2014 = 2.17); `linux_x86_64` promises nothing.
What a project's wheels really need when their tag says less (torch's manylinux1 wheels need 2.17) is a
fact about that project, kept as data in the knowledge table, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.tags import parse_tag

# The three legacy tags, as PEP 600 defines them (packaging keeps its own copy private).
LEGACY_ALIASES = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_PEP600 = re.compile(r"manylinux_(\d+)_(\d+)_(\w+)")
_LEGACY = re.compile(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)")


class InvalidPlatformTag(ValueError):
    """The text is not a Linux wheel platform tag."""


@dataclass(frozen=True, kw_only=True)
class PlatformTag:
    tag: str  # as written, e.g. "manylinux1_x86_64"
    arch: str  # "x86_64"
    glibc: tuple[int, int] | None  # the floor the tag promises (PEP 600); None: no promise (linux_*)
    legacy: str | None = None  # "manylinux1" for a legacy alias, else None

    @classmethod
    def parse(cls, text: str) -> PlatformTag:
        """Raises InvalidPlatformTag for anything but a manylinux or linux_* tag."""
        try:
            (tag,) = parse_tag(f"py3-none-{text}")
        except ValueError:
            raise InvalidPlatformTag(f"{text!r} is not one platform tag") from None
        platform = tag.platform
        if m := _PEP600.fullmatch(platform):
            return cls(tag=platform, arch=m[3], glibc=(int(m[1]), int(m[2])))
        if m := _LEGACY.fullmatch(platform):
            return cls(tag=platform, arch=m[2], glibc=LEGACY_ALIASES[m[1]], legacy=m[1])
        if platform.startswith("linux_"):
            return cls(tag=platform, arch=platform.removeprefix("linux_"), glibc=None)
        raise InvalidPlatformTag(f"{text!r} is not a manylinux or linux platform tag")

    @classmethod
    def manylinux(cls, floor: str, arch: str = "x86_64") -> PlatformTag:
        """The PEP 600 tag of a glibc floor: '2.28' -> manylinux_2_28_x86_64."""
        major, minor = (int(x) for x in floor.split("."))
        return cls(tag=f"manylinux_{major}_{minor}_{arch}", arch=arch, glibc=(major, minor))

    @property
    def floor(self) -> str | None:
        """'2.28', or None for a tag that promises no glibc."""
        return None if self.glibc is None else f"{self.glibc[0]}.{self.glibc[1]}"

    def newer_than(self, other: PlatformTag) -> bool:
        """True when this tag needs a newer glibc than `other` promises (no promise counts as newest)."""
        mine = self.glibc or (99, 99)
        theirs = other.glibc or (99, 99)
        return mine > theirs

    def __str__(self) -> str:
        return self.tag
