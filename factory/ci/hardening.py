"""hardening: what the workflows grant and trust, checked (pure): token permissions, pinned actions,
credentials left out of the checkout.

- `permissions: {}` at the top of every workflow, and each job granted what it needs in its own
  `permissions` (a reusable workflow's jobs get at most what the calling job grants).
- Every action pinned to a full commit SHA, with the release it is as a comment (`@<40 hex> # v5.0.0`);
  a tag can be moved to other code, a SHA cannot. The release must run on Node 24 (MIN_ACTION_MAJOR).
- `persist-credentials: false` on every checkout: otherwise the job's token is written to .git/config,
  which the build container sees (cibuildwheel copies the checkout to /project and mounts / at /host).
"""

from __future__ import annotations

import re
from typing import Any

# Oldest major of each action that runs on Node 24 (GitHub stopped running Node 20 actions)
MIN_ACTION_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
}
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
_PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")
_TAGGED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@v(?P<major>\d+)")
_RELEASE = re.compile(r"^v(?P<major>\d+)(?:\.\d+){0,2}\b")


def check_pins(text: str) -> list[str]:
    """Every `uses:` of an action (not a local ./ workflow or action) pinned to a commit SHA and named."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        m = _USES_LINE.match(line)
        if m is None or m["ref"].startswith("./"):
            continue
        ref, comment = m["ref"], (m["comment"] or "").strip()
        pinned, tagged = _PINNED.match(ref), _TAGGED.match(ref)
        action = pinned["action"] if pinned else (tagged["action"] if tagged else ref.split("@")[0])
        if pinned is None:
            problems.append(
                f"line {number}: {ref} is not pinned to a commit SHA: use {action}@<40-hex commit> # vX.Y.Z "
                "(a tag can be moved to other code)"
            )
            major = int(tagged["major"]) if tagged else None
        else:
            release = _RELEASE.match(comment)
            if release is None:
                problems.append(f"line {number}: {ref} has no `# vX.Y.Z` comment naming the release it pins")
                continue
            major = int(release["major"])
        least = MIN_ACTION_MAJOR.get(action)
        if least is not None and major is not None and major < least:
            problems.append(f"line {number}: {action} v{major} runs on Node 20; use v{least} or newer")
    return problems


def _jobs(doc: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    return {n: j for n, j in (doc.get("jobs") or {}).items() if isinstance(j, dict)}


def check_permissions(doc: dict[Any, Any]) -> list[str]:
    """`permissions: {}` on top, a `permissions` of its own on every job, and checkouts without credentials."""
    problems = []
    if doc.get("permissions") != {}:
        problems.append(
            f"top-level permissions are {doc.get('permissions')!r}: set `permissions: {{}}` and grant each job "
            "what it needs"
        )
    for name, job in _jobs(doc).items():
        if "permissions" not in job:
            problems.append(f"jobs.{name} has no `permissions` of its own (e.g. `contents: read`)")
        elif job["permissions"] in ("write-all", "read-all"):
            problems.append(f"jobs.{name}: permissions {job['permissions']!r}; grant the scopes it needs")
        for step in job.get("steps") or []:
            if not isinstance(step, dict) or not str(step.get("uses", "")).startswith("actions/checkout@"):
                continue
            if (step.get("with") or {}).get("persist-credentials") is not False:
                problems.append(
                    f"jobs.{name}: actions/checkout without `persist-credentials: false` (the token would be "
                    "written to .git/config)"
                )
    return problems
