"""Loopback servers for pass-through tests: a fake upstream that answers what a test says and records
every request, one that never answers, and the index app itself under uvicorn in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn
from servers import free_port


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html"})


HANG = Answer(status=0)  # the request is held until the server stops


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class FakeUpstream:
    """An HTTP server on 127.0.0.1; `answer(path)` decides each reply (HANG: never reply)."""

    def __init__(self, answer: Callable[[str], Answer]) -> None:
        self.seen: list[Seen] = []
        self.released = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                reply = answer(self.path)
                if reply is HANG:
                    outer.released.wait()
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def html_page(*anchors: tuple[str, str]) -> Answer:
    """A PEP 503 project page with (href, text) anchors."""
    links = "".join(f'<a href="{href}">{text}</a><br>\n' for href, text in anchors)
    return Answer(body=f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode())


class LiveApp:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread (lifespan included)."""

    def __init__(self, app: Any) -> None:
        port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the index did not start under uvicorn")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)
