"""App-lifetime resources (the LocalIndex, the upstream client), reached by handlers through Depends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from index_server.local import LocalIndex
from index_server.pages.cache import PageCache
from index_server.settings import IndexSettings
from index_server.upstream import Upstream


@dataclass
class IndexContext:
    settings: IndexSettings
    index: LocalIndex
    upstream: Upstream | None
    pages: PageCache

    def base_url(self, request: Request) -> str:
        """The index's public base URL, without a trailing slash."""
        return (self.settings.public_url or str(request.base_url)).rstrip("/")


def get_context(request: Request) -> IndexContext:
    context: IndexContext = request.app.state.context
    return context


Context = Annotated[IndexContext, Depends(get_context)]
