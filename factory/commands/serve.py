"""`factory serve`: the package index on a host and port.

The only place that reads FACTORY_UPLOAD_TOKENS; everything else gets IndexSettings.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from factory.commands.index_options import add_data, root_cuda_major
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
        "--never-upstream",
        action="append",
        metavar="PATTERN",
        help="name pattern never served from upstream (repeatable; default: " + " ".join(DEFAULT_NEVER_UPSTREAM) + ")",
    )
    serve.add_argument("--public-url", help="the index's public base URL (default: from each request)")
    serve.add_argument("--access-log", type=Path, help="append 'METHOD PATH STATUS' per request to this file")
    serve.set_defaults(handler=run_serve)


def settings_from_args(args: argparse.Namespace, environ: dict[str, str]) -> IndexSettings:
    tokens = frozenset(t.strip() for t in environ.get(TOKENS_ENV, "").split(",") if t.strip())
    upstream = None if args.upstream in ("none", "") else args.upstream
    return IndexSettings(
        data_dir=args.data,
        upload_tokens=tokens,
        upstream_url=upstream,
        upstream_ttl_s=args.upstream_ttl,
        never_upstream=tuple(args.never_upstream) if args.never_upstream else DEFAULT_NEVER_UPSTREAM,
        root_cuda_major=root_cuda_major(args),
        public_url=args.public_url,
        access_log=args.access_log,
    )


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from index_server.app import create_app

    settings = settings_from_args(args, dict(os.environ))
    app = create_app(settings)
    url = f"http://{args.host}:{args.port}"
    print(f"factory index serving {settings.data_dir} at {url}/", flush=True)
    print(f"  pip install PACKAGE --index-url {url}/simple", flush=True)
    if not settings.upload_tokens:
        print(f"  uploads disabled: set {TOKENS_ENV}=token1,token2 to enable /legacy/", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
