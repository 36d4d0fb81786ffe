"""Booting real services in-process for tests, on ports the kernel picks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from peek.config import PeekConfig, ServiceKind, load_config
from peek.plugin.discovery import PluginSpec, discover
from peek.services.server import ServerService, token_store_path
from peek.services.upstream import AgentService, ClientService, UpstreamService, WorkerService
from peek.vortex.link import Backoff
from peek.vortex.tokens import TokenStore, write_secret_file

__all__ = ["admin_headers", "free_config", "installed_specs", "start_server", "start_upstream"]

# Fast enough that a dropped link is noticed and redialled within a test.
TEST_HEARTBEAT = 1.0
CONNECT_TIMEOUT = 15.0

UPSTREAM: dict[str, type[UpstreamService]] = {
    "client": ClientService,
    "agent": AgentService,
    "worker": WorkerService,
}


def _write_token(config: PeekConfig, kind: ServiceKind, name: str, path: Path) -> None:
    _, token = TokenStore(token_store_path(config)).create(kind, name)
    write_secret_file(path, token)


def free_config(data_dir: Path, **overrides: Any) -> PeekConfig:
    """A configuration in ``data_dir`` whose sites listen on free ports (port 0).

    ``overrides`` are dotted keys, e.g. ``{"plugins.hook_timeout": 2}`` passed as
    ``free_config(d, **{"plugins.hook_timeout": 2})``.
    """
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "server.admin_port": 0,
        "server.exchange_port": 0,
        "client.port": 0,
    }
    values.update(overrides)
    return load_config(None, overrides=values)


def admin_headers(server: ServerService) -> dict[str, str]:
    """Headers that authenticate a request to ``server``'s admin site as the admin
    (its local admin token, as the command line sends it)."""
    return {"Authorization": f"Bearer {server._admin_token}"}


def installed_specs(names: Iterable[str]) -> list[PluginSpec]:
    """The installed plugins ``names``; raises the first discovery error."""
    specs, errors = discover(list(names))
    if errors:
        raise errors[0]
    return specs


async def start_server(config: PeekConfig, specs: Sequence[PluginSpec]) -> ServerService:
    server = ServerService(config, specs=specs, name="test-server", heartbeat=TEST_HEARTBEAT)
    await server.start()
    return server


async def start_upstream(
    kind: ServiceKind,
    server: ServerService,
    specs: Sequence[PluginSpec],
    *,
    name: str | None = None,
    wait_connected: bool = True,
) -> UpstreamService:
    """Start a client, agent or worker linked to ``server`` with a fresh token."""
    assert server.exchange_site is not None, "start the server first"
    name = name or f"test-{kind}"
    token_file = server.config.data_dir / f"{name}.token"
    await asyncio.to_thread(_write_token, server.config, kind, name, token_file)
    config = server.config.model_copy(
        update={
            kind: getattr(server.config, kind).model_copy(
                update={"server_url": server.exchange_site.url, "token_file": token_file}
            )
        }
    )
    service = UPSTREAM[kind](
        config,
        specs=specs,
        name=name,
        heartbeat=TEST_HEARTBEAT,
        backoff=Backoff(initial=0.05, maximum=0.5),
    )
    await service.start()
    if wait_connected:
        assert service.link is not None
        await asyncio.wait_for(service.link.connected.wait(), CONNECT_TIMEOUT)
    return service
