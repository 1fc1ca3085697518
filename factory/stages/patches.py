"""The patch engine: a job's rendered patches applied to an unpacked sdist, each checked to match."""

from __future__ import annotations

import re
from pathlib import Path

from factory.plan.job import RenderedPatch
from factory.stages.records import StageFailed
from index_server.contract import Cause


def apply_patches(source: Path, patches: tuple[RenderedPatch, ...]) -> list[dict[str, object]]:
    """Edit the files under `source`; a patch that matches fewer times than it expects fails the build."""
    applied = []
    for patch in patches:
        target = source / patch.file
        text = target.read_text()
        if patch.regex:
            new, count = re.subn(patch.find, lambda _m, r=patch.replacement: r, text)  # type: ignore[misc]
        else:
            count = text.count(patch.find)
            new = text.replace(patch.find, patch.replacement)
        if count < patch.count:
            raise StageFailed(
                "build",
                Cause.PATCH_FAILED,
                f"patch {patch.name!r} expects {patch.find!r} at least {patch.count}x in {patch.file}, found {count}x; "
                "upstream changed: update factory/data/recipes.toml",
            )
        target.write_text(new)
        applied.append({"name": patch.name, "file": patch.file, "replacements": count, "why": patch.why})
    return applied
