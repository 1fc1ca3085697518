"""`factory serve`: the package index on a host and port.

The only place that reads FACTORY_UPLOAD_TOKENS; everything else gets IndexSettings.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from factory.commands.index_options import (
    DEFAULT_MATRIX,
    IndexCommandError,
    add_data,
    hosted_names,
    root_cuda_major,
    want_plan,
)
from index_server.admit.names import project_name
from index_server.settings import DEFAULT_NEVER_UPSTREAM, DEFAULT_UPSTREAM, IndexSettings

TOKENS_ENV = "FACTORY_UPLOAD_TOKENS"


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the package index (Simple API, uploads, web matrix)")
    add_data(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--upstream",
        default=DEFAULT_UPSTREAM,
        help=f"simple index for names not hosted here (default {DEFAULT_UPSTREAM}); 'none' disables it",
    )
    serve.add_argument("--upstream-ttl", type=float, default=600.0, help="seconds upstream pages are cached")
    serve.add_argument(
        "--upstream-timeout",
        type=_positive_seconds,
        default=20.0,
        metavar="SECONDS",
        help="longest one upstream fetch may take, redirects and body included (default 20)",
    )
    serve.add_argument(
        "--hosted",
        action="append",
        default=[],
        type=_project,
        metavar="NAME",
        help="a project this index hosts, never answered from upstream even before its first build "
        "(repeatable; every package of --matrix and of the recipes is hosted already)",
    )
    serve.add_argument(
        "--matrix",
        type=Path,
        default=None,
        help="the matrix whose packages are hosted and whose plan judges wanted tuples on the pages "
        "(default: ./matrix.toml when there is one; none: wants unjudged)",
    )
    serve.add_argument(
        "--never-upstream",
        action="append",
        metavar="PATTERN",
        help="name pattern never served from upstream (repeatable; default: " + " ".join(DEFAULT_NEVER_UPSTREAM) + ")",
    )
    serve.add_argument("--public-url", help="the index's public base URL (default: from each request)")
    serve.add_argument("--access-log", type=Path, help="append 'METHOD PATH STATUS' per request to this file")
    # issue 10: worker processes (each its own SQLite connections and page cache)
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")
    serve.add_argument("--worker-header", action="store_true", help="add X-Index-Worker: <pid> to every answer")
    # issue 23: what sentinels report
    serve.add_argument("--no-wants", action="store_true", help="sentinels report nothing; /wants/ records nothing")
    serve.set_defaults(handler=run_serve)


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> IndexSettings:
    tokens = frozenset(t.strip() for t in environ.get(TOKENS_ENV, "").split(",") if t.strip())
    upstream = None if args.upstream in ("none", "") else args.upstream
    return IndexSettings(
        data_dir=args.data,
        upload_tokens=tokens,
        upstream_url=upstream,
        upstream_ttl_s=args.upstream_ttl,
        upstream_timeout_s=args.upstream_timeout,
        hosted=hosted_names(args.matrix, args.hosted),
        never_upstream=tuple(args.never_upstream) if args.never_upstream else DEFAULT_NEVER_UPSTREAM,
        root_cuda_major=root_cuda_major(args),
        public_url=args.public_url,
        access_log=args.access_log,
        worker_header=args.worker_header,
        record_wants=not args.no_wants,
        want_plan=want_plan(matrix, args) if (matrix := args.matrix or DEFAULT_MATRIX).is_file() else None,
    )


def _project(text: str) -> str:
    name = project_name(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a project name (letters, digits and . _ -)")
    return name


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds between 0 and 86400 (e.g. 20)")
    return value


def run_serve(args: argparse.Namespace) -> int:
    import tempfile

    import uvicorn

    from index_server.worker_entry import APP_FACTORY, SETTINGS_ENV, write_settings_file

    if args.workers < 1:
        raise IndexCommandError(f"--workers {args.workers}: give at least 1 worker process")
    settings = settings_from_args(args, dict(os.environ))
    url = f"http://{args.host}:{args.port}"
    print(f"factory index serving {settings.data_dir} at {url}/ with {args.workers} worker(s)", flush=True)
    print(f"  pip install PACKAGE --index-url {url}/simple", flush=True)
    print(f"  hosted, never from upstream: {', '.join(sorted(settings.hosted)) or 'none'}", flush=True)
    if not settings.upload_tokens:
        print(f"  uploads disabled: set {TOKENS_ENV}=token1,token2 to enable /legacy/", flush=True)
    # The workers are fresh processes: they get the settings from a private file the environment names.
    with tempfile.TemporaryDirectory(prefix="factory-serve-") as private:
        os.environ[SETTINGS_ENV] = str(write_settings_file(settings, Path(private)))
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            access_log=False,  # per-request lines cost more than the cached page itself; see --access-log
        )
    return 0
