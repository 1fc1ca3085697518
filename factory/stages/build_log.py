"""Reading a failed build's output: its first telling error line and the cause it points to."""

from __future__ import annotations

import re

from index_server.contract import Cause

_ERROR = re.compile(r"(\(\d+\): error|:\d+:\d+: (fatal )?error|: fatal error|#error|error: ‘|\berror:)", re.I)
_LINK = re.compile(r"(undefined reference to|ld returned \d+ exit status|cannot find -l)")


def first_error(output: str) -> str:
    for line in output.splitlines():
        if _ERROR.search(line) or _LINK.search(line):
            return line.strip()
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def classify_failure(output: str) -> tuple[Cause, str]:
    """(cause, first error line) of a failed build log."""
    for line in output.splitlines():
        if _ERROR.search(line) and not _LINK.search(line):
            return Cause.COMPILER_ERROR, line.strip()
        if _LINK.search(line):
            return Cause.LINK_ERROR, line.strip()
    if "ModuleNotFoundError" in output or "No module named" in output:
        return Cause.BUILD_DEPENDENCY_MISSING, first_error(output)
    return Cause.BUILD_FAILED, first_error(output)
