"""The same hook on every service: it starts (or, in the broken build, refuses to)
and answers ``GET /plugins/vmcheck/state`` on the admin and user sites."""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version

from aiohttp import web

from peek.plugin import PluginContext, PluginHook, hookimpl
from peek_plugin_vmcheck._private.build import BROKEN

VERSION = version("peek-plugin-vmcheck")


class BrokenBuild(RuntimeError):
    """Raised by the broken build's start hook: the failure the rollout must undo."""


class Hook(PluginHook):
    def __init__(self) -> None:
        self.started = False

    def start(self, ctx: PluginContext) -> None:
        if BROKEN:
            raise BrokenBuild(f"vmcheck {VERSION} is the broken build and refuses to start")
        self.started = True

    def stop(self, ctx: PluginContext) -> None:
        self.started = False

    async def state(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION, "started": self.started})

    @hookimpl
    def peek_site_routes(self, site: str) -> Iterable[web.RouteDef] | None:
        return [web.get("/state", self.state)] if site in ("admin", "user") else None
