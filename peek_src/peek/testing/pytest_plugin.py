"""Peek's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures, each a factory that cleans up what it made:

- ``peek_config``: a :class:`~peek.config.PeekConfig` in a temporary data
  directory with every site on a free port.
- ``peek_server(plugins)``: an in-process server running the named installed
  plugins (or ``specs=[...]`` built in memory).
- ``peek_upstream(kind, server, plugins)``: a client, agent or worker linked
  to that server with a fresh token, waited on until connected.

The async fixtures need pytest-asyncio (``pip install 'peek-platform[testing]'``);
without it this plugin defines only ``peek_config`` rather than break pytest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # installed without the "testing" extra
    pytest_asyncio = None  # type: ignore[assignment]

from peek.config import PeekConfig, ServiceKind
from peek.plugin.discovery import PluginSpec
from peek.services.server import ServerService
from peek.services.upstream import UpstreamService
from peek.testing.services import free_config, installed_specs, start_server, start_upstream

ServerFactory = Callable[..., Awaitable[ServerService]]
UpstreamFactory = Callable[..., Awaitable[UpstreamService]]


@pytest.fixture
def peek_config(tmp_path: Path) -> PeekConfig:
    return free_config(tmp_path / "peek-data")


def _specs(plugins: Iterable[str] | None, specs: Sequence[PluginSpec] | None) -> list[PluginSpec]:
    if specs is not None:
        return list(specs)
    return installed_specs(plugins or ())


async def _peek_server(peek_config: PeekConfig) -> AsyncIterator[ServerFactory]:
    started: list[ServerService] = []

    async def make(
        plugins: Iterable[str] | None = None,
        *,
        specs: Sequence[PluginSpec] | None = None,
        config: PeekConfig | None = None,
    ) -> ServerService:
        found = await asyncio.to_thread(_specs, plugins, specs)
        server = await start_server(config or peek_config, found)
        started.append(server)
        return server

    yield make
    for server in reversed(started):
        await server.stop()


async def _peek_upstream() -> AsyncIterator[UpstreamFactory]:
    started: list[UpstreamService] = []

    async def make(
        kind: ServiceKind,
        server: ServerService,
        plugins: Iterable[str] | None = None,
        *,
        specs: Sequence[PluginSpec] | None = None,
        **kwargs: Any,
    ) -> UpstreamService:
        found = await asyncio.to_thread(_specs, plugins, specs)
        service = await start_upstream(kind, server, found, **kwargs)
        started.append(service)
        return service

    yield make
    for service in reversed(started):
        await service.stop()


if pytest_asyncio is not None:
    peek_server = pytest_asyncio.fixture(_peek_server, name="peek_server")
    peek_upstream = pytest_asyncio.fixture(_peek_upstream, name="peek_upstream")
