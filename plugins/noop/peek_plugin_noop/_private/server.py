"""noop on the server: routes on the admin and data-exchange sites."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from peek.plugin import hookimpl
from peek_plugin_noop._private.hooks import NoopHook


class ServerHook(NoopHook):
    @hookimpl
    def peek_site_routes(self, site: str) -> Iterable[web.RouteDef] | None:
        if site in ("admin", "exchange"):
            return [web.get("/ping", self.ping)]
        return None
