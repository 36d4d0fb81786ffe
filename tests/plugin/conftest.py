"""Fixtures for the plugin SDK tests: factories of fake plugins and of lifecycles.

``make_plugin("a", requires={"b": ">=1"})`` builds a :class:`PluginSpec`
``peek_plugin_a`` from a real ``plugin.toml`` text, with a fake hook (see
:mod:`.fakes`) whose calls land in the shared ``calls`` list.
``make_lifecycle(*specs)`` builds a :class:`PluginLifecycle` for the server and
unloads it at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from peek.config import ServiceKind
from peek.plugin.discovery import PluginSpec
from peek.plugin.lifecycle import PluginLifecycle
from peek.plugin.manifest import parse_manifest

from .fakes import PEEK_VERSION, TINY_HOOK_TIMEOUT, Calls, RecordingHook, manifest_text

PluginFactory = Callable[..., PluginSpec]
LifecycleFactory = Callable[..., PluginLifecycle]


@pytest.fixture
def calls() -> Calls:
    """Every hook call of every fake plugin in the test, in order."""
    return []


@pytest.fixture
def make_plugin(calls: Calls) -> PluginFactory:
    """Build a fake plugin ``peek_plugin_<short>`` running ``hook`` on each of ``services``."""

    def make(
        short: str,
        *,
        version: str = "1.0",
        requires: Mapping[str, str] | None = None,
        provides: Mapping[str, str] | None = None,
        peek: str = ">=0.1,<1",
        services: Iterable[ServiceKind] = ("server",),
        hook: type[RecordingHook] = RecordingHook,
        publishes: object = None,
    ) -> PluginSpec:
        name = f"peek_plugin_{short}"
        kinds = tuple(services)
        text = manifest_text(
            title=short.title(),
            peek=peek,
            hooks={kind: f"{name}._private.{kind}:Hook" for kind in kinds},
            requires=requires,
            provides=provides,
        )

        def factory() -> RecordingHook:
            return hook(name, calls, publishes)

        return PluginSpec(
            manifest=parse_manifest(name, version, text),
            hook_classes=dict.fromkeys(kinds, factory),
        )

    return make


@pytest_asyncio.fixture
async def make_lifecycle(tmp_path: Path) -> AsyncIterator[LifecycleFactory]:
    """Build a :class:`PluginLifecycle` (server by default); each is unloaded at teardown."""
    made: list[PluginLifecycle] = []

    def make(
        *specs: PluginSpec,
        service: ServiceKind = "server",
        hook_timeout: float = TINY_HOOK_TIMEOUT,
        **kwargs: Any,
    ) -> PluginLifecycle:
        lifecycle = PluginLifecycle(
            service,
            specs,
            peek_version=PEEK_VERSION,
            data_root=tmp_path / "data",
            hook_timeout=hook_timeout,
            **kwargs,
        )
        made.append(lifecycle)
        return lifecycle

    yield make
    for lifecycle in reversed(made):
        await lifecycle.unload_all()
        await lifecycle.wait_abandoned()
