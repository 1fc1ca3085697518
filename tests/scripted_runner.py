"""A factory.process.Runner for unit tests: records every command and answers through `answer`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from factory.process import Completed


class ScriptedRunner:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str], Path | None]] = []

    def __call__(
        self,
        argv: Sequence[object],
        *,
        env: Mapping[str, str],
        cwd: Path | None,
        log: Path,
        timeout: float | None = None,
    ) -> Completed:
        a = [str(x) for x in argv]
        self.calls.append((a, dict(env), cwd))
        code, output = self.answer(a, dict(env), cwd)
        return Completed(tuple(a), code, 0.1, output)

    def answer(self, argv: list[str], env: dict[str, str], cwd: Path | None) -> tuple[int, str]:
        """(exit status, output) of one command; subclasses also leave the files it would."""
        raise NotImplementedError
