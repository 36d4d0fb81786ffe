"""noop on the agent: its start hook returns a Twisted Deferred; with
``observe = "<name>"`` in ``[plugin.peek_plugin_noop]`` it watches that
``noop.Counter`` and writes each value it sees to ``observed-<name>`` in its
data directory (what the vortex restart tests look at)."""

from __future__ import annotations

import asyncio
from typing import Any

from peek.plugin import PluginContext, Subscription, Tuple
from peek_plugin_noop._private.hooks import NoopHook
from peek_plugin_noop.tuples import ALL_TUPLES, Counter


class AgentHook(NoopHook):
    def __init__(self) -> None:
        super().__init__()
        self.watch: Subscription | None = None

    async def load(self, ctx: PluginContext) -> Any:
        await super().load(ctx)
        vortex = ctx.resources.vortex if ctx.resources is not None else None
        name = ctx.config.get("observe")
        if vortex is None or not isinstance(name, str):
            return
        vortex.register_tuples("noop", *ALL_TUPLES)
        path = ctx.data_dir / f"observed-{name}"

        async def seen(tuples: list[Tuple]) -> None:
            for item in tuples:
                if isinstance(item, Counter):
                    await asyncio.to_thread(path.write_text, f"{item.value}\n", encoding="utf-8")

        self.watch = vortex.observe("noop.Counter", {"name": name}, seen)

    def start(self, ctx: PluginContext) -> Any:
        # Agents integrate with outside systems, often through Twisted; the
        # platform runs Twisted on the service's asyncio loop.
        from twisted.internet import reactor, task

        self._record(ctx, "start")
        return task.deferLater(reactor, 0.01, lambda: None)

    def unload(self, ctx: PluginContext) -> Any:
        super().unload(ctx)
        if self.watch is not None:
            self.watch.close()
            self.watch = None
