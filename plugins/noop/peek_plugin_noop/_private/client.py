"""noop on the client: a route on the user site that also asks the server."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from peek.plugin import PluginContext, hookimpl
from peek_plugin_noop._private.hooks import NoopHook


class ClientHook(NoopHook):
    async def load(self, ctx: PluginContext) -> None:
        await super().load(ctx)
        self.ctx = ctx

    @hookimpl
    def peek_site_routes(self, site: str) -> Iterable[web.RouteDef] | None:
        if site == "user":
            return [web.get("/ping", self.ping), web.get("/server-ping", self.server_ping)]
        return None

    async def server_ping(self, request: web.Request) -> web.Response:
        """Answer with what noop on the server says, fetched through the service link."""
        assert self.ctx.resources is not None and self.ctx.resources.server is not None
        answer = await self.ctx.resources.server.call("GET", "/plugins/noop/ping")
        return web.json_response({"via": "client", "server": answer})
