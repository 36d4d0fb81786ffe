"""noop on the server: routes on the admin and data-exchange sites (each ping
is logged in noop's own table), a counter observable and the Bump and Echo
actions (see :mod:`peek_plugin_noop.tuples`)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from peek.plugin import (
    Caller,
    PluginContext,
    Selector,
    TaskCalls,
    TaskError,
    VortexApi,
    hookimpl,
)
from peek.plugin.storage import PluginStorage
from peek_plugin_noop._private.hooks import NoopHook
from peek_plugin_noop._private.storage import Ping
from peek_plugin_noop.tuples import ALL_TUPLES, Bump, Counter, Echo

# Seconds /echo waits for a worker.
ECHO_TIMEOUT = 30.0


class ServerHook(NoopHook):
    def __init__(self) -> None:
        super().__init__()
        self.storage: PluginStorage | None = None
        self.counters: dict[str, int] = {}
        self.vortex: VortexApi | None = None
        self.tasks: TaskCalls | None = None

    async def load(self, ctx: PluginContext) -> Any:
        await super().load(ctx)
        resources = ctx.resources
        # Without a database (the conformance check) pings are answered, not logged.
        if resources is not None and resources.storage is not None:
            self.storage = ctx.storage
        self.tasks = resources.tasks if resources is not None else None
        vortex = resources.vortex if resources is not None else None
        if vortex is None:
            return  # run without a vortex (the conformance check does)
        vortex.register_tuples("noop", *ALL_TUPLES)
        vortex.provide("noop.Counter", self.counter, anonymous=True)
        vortex.handle_actions("noop.Bump", self.bump)
        vortex.handle_actions("noop.Echo", self.echo, anonymous=True)
        self.vortex = vortex

    @hookimpl
    def peek_site_routes(self, site: str) -> Iterable[web.RouteDef] | None:
        if site == "admin":
            return [
                web.get("/ping", self.admin_ping),
                web.get("/pings", self.pings),
                web.get("/echo", self.echo_task),
            ]
        if site == "exchange":
            return [web.get("/ping", self.exchange_ping)]
        return None

    async def admin_ping(self, request: web.Request) -> web.Response:
        await self._log_ping("admin")
        return await self.ping(request)

    async def exchange_ping(self, request: web.Request) -> web.Response:
        await self._log_ping("exchange")
        return await self.ping(request)

    async def _log_ping(self, site: str) -> None:
        if self.storage is None:
            return
        async with self.storage.session() as session, session.begin():
            session.add(Ping(site=site, answered_at=datetime.datetime.now(datetime.UTC)))

    async def pings(self, request: web.Request) -> web.Response:
        """How many pings the server has answered, across restarts."""
        count = 0
        if self.storage is not None:
            async with self.storage.session() as session:
                count = (await session.execute(select(func.count()).select_from(Ping))).scalar_one()
        return web.json_response({"pings": count})

    async def echo_task(self, request: web.Request) -> web.Response:
        """``?value=...`` through the ``peek_plugin_noop.echo`` worker task and back."""
        if self.tasks is None:
            raise web.HTTPServiceUnavailable(text="no task queue on this server")
        try:
            result = await self.tasks.call(
                "peek_plugin_noop.echo", [request.query.get("value", "")], timeout=ECHO_TIMEOUT
            )
        except TaskError as exc:
            raise web.HTTPGatewayTimeout(text=str(exc)) from exc
        return web.json_response(result)

    # -- vortex ----------------------------------------------------------

    def counter(self, selector: Selector) -> Sequence[Counter]:
        name = str(selector.get("name", "default"))
        now = datetime.datetime.now(datetime.UTC)
        return [Counter(name=name, value=self.counters.get(name, 0), updated=now)]

    def bump(self, action: Bump, caller: Caller) -> Counter:
        self.counters[action.name] = self.counters.get(action.name, 0) + action.by
        if self.vortex is not None:
            self.vortex.notify("noop.Counter", {"name": action.name})
        return self.counter({"name": action.name})[0]

    def echo(self, action: Echo, caller: Caller) -> Echo:
        return action
