"""Shared set-up of the vortex tests: a server and a client with noop and user,
a known login, and short vortex timings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest

from peek.config import PeekConfig
from peek.services.server import ServerService
from peek.services.upstream import ClientService
from peek.testing.services import free_config
from peek.testing.vortex import VortexBrowser

PLUGINS = ["peek_plugin_noop", "peek_plugin_user"]
ADMIN, PASSWORD = "admin", "correct horse battery"
GRACE = 0.3


def vortex_config(tmp_path: Path, **overrides: object) -> PeekConfig:
    password_file = tmp_path / "admin-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    values: dict[str, object] = {
        "plugin.peek_plugin_user.initial_admin": ADMIN,
        "plugin.peek_plugin_user.initial_admin_password_file": str(password_file),
        # Cheap hashing: the tests log in often.
        "plugin.peek_plugin_user.argon2.time_cost": 1,
        "plugin.peek_plugin_user.argon2.memory_cost": 64,
        "plugin.peek_plugin_user.argon2.parallelism": 1,
        "vortex.grace": GRACE,
        "vortex.heartbeat": 1.0,
    }
    values.update(overrides)
    return free_config(tmp_path / "data", **values)


@pytest.fixture
def config(tmp_path: Path) -> PeekConfig:
    return vortex_config(tmp_path)


@dataclass
class Stack:
    server: ServerService
    client: ClientService

    @property
    def url(self) -> str:
        assert self.client.user_site is not None
        return self.client.user_site.url

    def browser(self) -> VortexBrowser:
        return VortexBrowser(self.url)

    async def logged_in(self) -> VortexBrowser:
        browser = self.browser()
        assert await browser.login(ADMIN, PASSWORD) == 200
        await browser.connect()
        return browser


@pytest.fixture
async def stack(peek_server, peek_upstream, config) -> Stack:
    server = await peek_server(PLUGINS, config=config)
    client = await peek_upstream("client", server, PLUGINS)
    return Stack(server, client)


@pytest.fixture
async def browsers():
    """Browsers made by a test, closed after it."""
    made: list[VortexBrowser] = []
    yield made
    for browser in made:
        await browser.close()


async def wait_for(predicate, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the services
            await asyncio.sleep(0.01)
