"""The behaviour noop shares on every service: record every phase, publish the API."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from peek.plugin import PluginContext, PluginHook
from peek_plugin_noop.server import NoopApi


class NoopHook(PluginHook):
    def __init__(self) -> None:
        self.api: NoopApi | None = None

    def _record(self, ctx: PluginContext, phase: str) -> NoopApi:
        if self.api is None:
            self.api = NoopApi(ctx.service)
        self.api.phases.append(phase)
        ctx.logger.info("noop %s on the %s", phase, ctx.service)
        return self.api

    async def load(self, ctx: PluginContext) -> Any:
        ctx.publish(self._record(ctx, "load"))
        # Prove the data directory exists and is ours (file I/O off the loop).
        await asyncio.to_thread((ctx.data_dir / "loaded").write_text, "ok\n", encoding="utf-8")

    async def start(self, ctx: PluginContext) -> Any:
        self._record(ctx, "start")

    def stop(self, ctx: PluginContext) -> Any:
        # Safe to call twice: it only records.
        self._record(ctx, "stop")

    def unload(self, ctx: PluginContext) -> Any:
        self._record(ctx, "unload")

    async def ping(self, request: web.Request) -> web.Response:
        assert self.api is not None
        return web.json_response(
            {"plugin": "peek_plugin_noop", "answer": self.api.ping(), "phases": self.api.phases}
        )
