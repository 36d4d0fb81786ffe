"""The base class of a plugin's entry hook on one service."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from peek.plugin.context import PluginContext

__all__ = ["HookResult", "PluginHook"]

# A hook returns nothing, an awaitable, or a Twisted Deferred.
HookResult = Awaitable[Any] | Any | None


class PluginHook:
    """Subclass this once per service a plugin runs on, and name it in ``plugin.toml``.

    Each phase receives the plugin's :class:`PluginContext` and may be a
    plain method, an ``async def`` or return a Twisted ``Deferred``. A plain
    method runs on the event loop and must not block; do I/O in an
    ``async def``. The platform calls, per service:

    - ``load``: every plugin loads before any starts, providers first.
      Publish your API here (``ctx.publish(obj)``); you may use the APIs of
      plugins you require.
    - ``start``: begin work (serve, connect, schedule).
    - ``stop``: end work; called in reverse order. Must be safe to call twice.
    - ``unload``: release what ``load`` made.

    Raising (or not finishing within the configured hook timeout) fails this
    plugin and the plugins that need it; the service and the others go on.
    The hook class is instantiated with no arguments; keep per-service state
    on ``self``.
    """

    def load(self, ctx: PluginContext) -> HookResult:
        return None

    def start(self, ctx: PluginContext) -> HookResult:
        return None

    def stop(self, ctx: PluginContext) -> HookResult:
        return None

    def unload(self, ctx: PluginContext) -> HookResult:
        return None
