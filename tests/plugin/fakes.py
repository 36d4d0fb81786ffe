"""Fake plugins for the plugin SDK tests (Home Assistant ``MockModule`` style).

Hook classes record every call into a shared list as ``(plugin, phase)``
pairs; subclasses fail in one phase by raising or by never finishing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from peek.plugin import PluginContext, PluginError, PluginHook, hookimpl
from peek.plugin.lifecycle import PluginLifecycle

PEEK_VERSION = "0.1.0"
# Long enough for a fake hook that returns at once, short enough to wait out a hang.
TINY_HOOK_TIMEOUT = 0.2

Calls = list[tuple[str, str]]


class Boom(Exception):
    """What a failing fake hook raises."""


class RecordingHook(PluginHook):
    """Records every phase into ``calls``; publishes ``publishes`` in ``load`` if given."""

    def __init__(self, name: str, calls: Calls, publishes: object = None) -> None:
        self.name = name
        self.calls = calls
        self.publishes = publishes

    def _record(self, phase: str) -> None:
        self.calls.append((self.name, phase))

    def load(self, ctx: PluginContext) -> None:
        self._record("load")
        if self.publishes is not None:
            ctx.publish(self.publishes)

    def start(self, ctx: PluginContext) -> None:
        self._record("start")

    def stop(self, ctx: PluginContext) -> None:
        self._record("stop")

    def unload(self, ctx: PluginContext) -> None:
        self._record("unload")


class RaisingHook(RecordingHook):
    """Records, then raises :class:`Boom` in ``phase``."""

    phase = "load"

    def _record(self, phase: str) -> None:
        super()._record(phase)
        if phase == self.phase:
            raise Boom(f"{self.name} broke in {phase}")


class HangingHook(RecordingHook):
    """Records, then never finishes ``phase``: an ``async`` hook that waits forever."""

    phase = "load"

    async def _maybe_hang(self, phase: str) -> None:
        self._record(phase)
        if phase == self.phase:
            await asyncio.Event().wait()

    async def load(self, ctx: PluginContext) -> None:  # type: ignore[override]
        await self._maybe_hang("load")

    async def start(self, ctx: PluginContext) -> None:  # type: ignore[override]
        await self._maybe_hang("start")

    async def stop(self, ctx: PluginContext) -> None:  # type: ignore[override]
        await self._maybe_hang("stop")

    async def unload(self, ctx: PluginContext) -> None:  # type: ignore[override]
        await self._maybe_hang("unload")


def failing(hook: type[RecordingHook], phase: str) -> type[RecordingHook]:
    """A subclass of :class:`RaisingHook` or :class:`HangingHook` that fails in ``phase``."""
    return type(f"{hook.__name__}In{phase.title()}", (hook,), {"phase": phase})


class RoutesHook(RecordingHook):
    """Contributes ``peek_site_routes``: one route named after itself on the admin site."""

    def _routes(self, site: str) -> Any:
        return [f"{self.name} route"] if site == "admin" else None

    @hookimpl
    def peek_site_routes(self, site: str) -> Any:
        return self._routes(site)


class BrokenRoutesHook(RoutesHook):
    def _routes(self, site: str) -> Any:
        raise Boom(f"{self.name} cannot list its routes")


def manifest_text(
    *,
    title: str = "Fake",
    peek: str = ">=0.1,<1",
    hooks: Mapping[str, str] | None = None,
    requires: Mapping[str, str] | None = None,
    provides: Mapping[str, str] | None = None,
) -> str:
    """The text of a ``plugin.toml``."""
    lines = [f'title = "{title}"', f'peek = "{peek}"', "", "[hooks]"]
    lines += [f'{kind} = "{ref}"' for kind, ref in (hooks or {}).items()]
    for table, entries in (("requires", requires), ("provides", provides)):
        if entries:
            lines += ["", f"[{table}]"]
            lines += [f'{key} = "{value}"' for key, value in entries.items()]
    return "\n".join(lines) + "\n"


async def boot(lifecycle: PluginLifecycle) -> PluginLifecycle:
    """Load and start every plugin of ``lifecycle``, as a service does at boot."""
    await lifecycle.load_all()
    await lifecycle.start_all()
    return lifecycle


def error_of(lifecycle: PluginLifecycle, name: str) -> PluginError | None:
    """The typed reason plugin ``name`` failed (``status()`` only has its text)."""
    return lifecycle.error(name)
