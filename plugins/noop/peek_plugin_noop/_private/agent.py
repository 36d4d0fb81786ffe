"""noop on the agent: its start hook returns a Twisted Deferred."""

from __future__ import annotations

from typing import Any

from peek.plugin import PluginContext
from peek_plugin_noop._private.hooks import NoopHook


class AgentHook(NoopHook):
    def start(self, ctx: PluginContext) -> Any:
        # Agents integrate with outside systems, often through Twisted; the
        # platform runs Twisted on the service's asyncio loop.
        from twisted.internet import reactor, task

        self._record(ctx, "start")
        return task.deferLater(reactor, 0.01, lambda: None)
