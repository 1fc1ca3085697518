"""`factory run`'s progress where no terminal draws the live bar: a line per start and stage change."""

from __future__ import annotations

import io
import re

from rich.console import Console
from spec_builders import make_spec

from factory.run.matrix_run import TupleOutcome
from factory.run.progress import RichProgress
from index_server.contract import Outcome


def _progress(out: io.StringIO, terminal: bool) -> RichProgress:
    return RichProgress(Console(file=out, force_terminal=terminal, width=200), total=1)


def test_a_log_file_shows_each_tuples_stages_as_they_happen() -> None:
    out = io.StringIO()
    spec = make_spec()
    with _progress(out, terminal=False) as progress:
        progress.start(spec)
        progress.stage(spec, "provision")
        progress.stage(spec, "provision")  # announced twice (run loop, then pipeline): one line
        progress.stage(spec, "build")
        assert out.getvalue().count(f"{spec.id}: provision") == 1
        assert re.search(rf"^\d\d:\d\d:\d\d   {re.escape(spec.id)}: build$", out.getvalue(), re.M)
        progress.finish(spec, TupleOutcome(spec=spec, outcome=Outcome.PUBLISHED, seconds=12.0))
    lines = out.getvalue().splitlines()
    assert any(line.endswith(f"start {spec.id}") for line in lines)
    assert any(f"published {spec.id} (12 s)" in line for line in lines)


def test_a_terminal_gets_the_live_bar_not_the_lines() -> None:
    out = io.StringIO()
    spec = make_spec()
    with _progress(out, terminal=True) as progress:
        progress.start(spec)
        progress.stage(spec, "build")
    assert f"start {spec.id}" not in out.getvalue()
