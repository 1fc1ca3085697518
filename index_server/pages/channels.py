"""CUDA channels: which files each of `/simple/`, `/cu11/simple/`, `/cu12/simple/`, `/cu13/simple/` lists.

`/cuN/` lists builds made with CUDA major N. The root lists, per torch minor, the build for the CUDA major
of PyPI's own torch of that minor, so a bare `--index-url .../simple` suits anyone with torch from PyPI.
Files whose version carries no build label (pure Python, sdists, the sentinel) appear in every channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from index_server.contract import BuildLabel
from index_server.errors import shown

CHANNELS = (11, 12, 13)


@dataclass(frozen=True)
class Channel:
    cuda_major: int | None  # None: the root channel

    @property
    def prefix(self) -> str:
        """URL path prefix, '' or 'cu12/'."""
        return "" if self.cuda_major is None else f"cu{self.cuda_major}/"

    @property
    def name(self) -> str:
        return "root" if self.cuda_major is None else f"cu{self.cuda_major}"

    @classmethod
    def parse(cls, text: str | None) -> Channel:
        """'cu12' -> Channel(12); None or '' -> the root."""
        if not text:
            return cls(None)
        if text.startswith("cu") and text[2:].isdigit() and int(text[2:]) in CHANNELS:
            return cls(int(text[2:]))
        raise ValueError(f"unknown channel {shown(text, 40)}: use cu11, cu12 or cu13")


ROOT = Channel(None)
ALL_CHANNELS = (ROOT, *(Channel(m) for m in CHANNELS))


def in_channel(version: str, channel: Channel, root_cuda_major: Mapping[str, int]) -> bool:
    label = BuildLabel.parse(version)
    if label is None:
        return True
    if channel.cuda_major is not None:
        return label.cuda_major == channel.cuda_major
    return root_cuda_major.get(label.torch_minor) == label.cuda_major
