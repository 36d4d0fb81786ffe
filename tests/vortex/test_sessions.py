"""Browser sessions: kept across a client restart, hashed on disk, expired, ended, capped."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from peek.services.upstream import ClientService, browser_sessions_path
from peek.testing.services import installed_specs, start_upstream
from peek.testing.vortex import VortexBrowser
from peek.vortex.browser import WS_PATH
from peek.vortex.sessions import SessionStore

from .conftest import ADMIN, PASSWORD, PLUGINS, wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Restartable:
    """A server and a client that a test stops and starts again on the same data dir."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.client: ClientService | None = None

    async def start_client(self) -> ClientService:
        specs = await asyncio.to_thread(installed_specs, PLUGINS)
        client = await start_upstream("client", self.server, specs)
        assert isinstance(client, ClientService)
        self.client = client
        return client

    async def restart_client(self) -> ClientService:
        assert self.client is not None
        await self.client.stop()
        self.client = None
        return await self.start_client()

    @property
    def url(self) -> str:
        assert self.client is not None and self.client.user_site is not None
        return self.client.user_site.url


@pytest.fixture
async def services(peek_server: Any, config: Any) -> AsyncIterator[Restartable]:
    made = Restartable(await peek_server(PLUGINS, config=config))
    await made.start_client()
    yield made
    if made.client is not None:
        await made.client.stop()


async def socket_status(url: str, session: str) -> int:
    """The status of a plain GET of the socket's URL: 401 if the session is refused."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(url + WS_PATH, headers={"Authorization": f"Bearer {session}"}) as response,
    ):
        return response.status


# -- across a real client restart ---------------------------------------------------------


async def test_a_session_made_before_a_client_restart_still_authenticates_after_it(
    services: Restartable,
) -> None:
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        session = browser.session_token
    assert session is not None

    await services.restart_client()

    async with VortexBrowser(services.url, session=session) as browser:
        welcome = await browser.connect()
        assert welcome is not None and welcome.header["user"] == ADMIN


async def test_a_logout_holds_across_a_client_restart(services: Restartable) -> None:
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        session = browser.session_token
        async with browser.http.post(
            services.url + "/vortex/logout", headers={"Authorization": f"Bearer {session}"}
        ) as response:
            assert response.status == 200
    assert session is not None

    await services.restart_client()

    assert await socket_status(services.url, session) == 401


async def test_logging_out_closes_the_sockets_of_that_session(services: Restartable) -> None:
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        await browser.connect()
        async with browser.http.post(
            services.url + "/vortex/logout",
            headers={"Authorization": f"Bearer {browser.session_token}"},
        ) as response:
            assert response.status == 200
        ws = browser.ws
        assert ws is not None
        await wait_for(lambda: ws.closed)


async def test_the_sessions_file_holds_token_hashes_only(services: Restartable) -> None:
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        session = browser.session_token
    assert session is not None
    client = services.client
    assert client is not None
    path = browser_sessions_path(client.config)
    await services.restart_client()  # every write is in the file once the store closed

    def read() -> tuple[bytes, list[tuple[str, str]], int]:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT hash, user FROM browser_sessions").fetchall()
        return path.read_bytes(), rows, path.stat().st_mode

    raw, rows, mode = await asyncio.to_thread(read)
    assert session.encode() not in raw
    assert [user for _, user in rows] == [ADMIN]
    assert mode & 0o077 == 0


# -- the store over its file ----------------------------------------------------------


async def test_an_idle_session_expires_across_a_restart_of_the_store(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "sessions.sqlite3"
    store = SessionStore(100.0, path=path, clock=clock)
    await store.open()
    stale = await store.create("alice")
    clock.now += 50
    fresh = await store.create("bob")
    await store.close()

    clock.now += 60  # alice's session is 110 s idle, bob's 60 s
    store = SessionStore(100.0, path=path, clock=clock)
    await store.open()
    try:
        assert store.user(stale) is None
        assert store.user(fresh) == "bob"
    finally:
        await store.close()


async def test_use_after_a_restart_extends_a_session_that_was_used_before_it(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "sessions.sqlite3"
    store = SessionStore(100.0, path=path, touch_every=5.0, clock=clock)
    await store.open()
    token = await store.create("alice")
    clock.now += 80
    assert store.user(token) == "alice"  # used: the file learns it
    await store.close()

    clock.now += 80  # 160 s after login, 80 s after the last use
    store = SessionStore(100.0, path=path, touch_every=5.0, clock=clock)
    await store.open()
    try:
        assert store.user(token) == "alice"
    finally:
        await store.close()


async def test_the_oldest_sessions_go_past_the_cap_also_in_the_file(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "sessions.sqlite3"
    store = SessionStore(1000.0, path=path, max_sessions=2, clock=clock)
    await store.open()
    tokens = []
    for user in ("a", "b", "c"):
        clock.now += 1
        tokens.append(await store.create(user))
    assert store.user(tokens[0]) is None
    await store.close()

    store = SessionStore(1000.0, path=path, max_sessions=2, clock=clock)
    await store.open()
    try:
        assert len(store) == 2
        assert [store.user(t) for t in tokens] == [None, "b", "c"]
    finally:
        await store.close()


async def test_a_corrupted_sessions_file_starts_empty_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "sessions.sqlite3"
    await asyncio.to_thread(path.write_bytes, b"this is not a database" * 100)
    store = SessionStore(100.0, path=path)
    with caplog.at_level(logging.WARNING, logger="peek.vortex.sessions"):
        await store.open()
    try:
        assert len(store) == 0
        assert "cannot be read" in caplog.text and str(path) in caplog.text
        # ... and the store works on a fresh file.
        token = await store.create("alice")
        assert store.user(token) == "alice"
    finally:
        await store.close()
    assert await asyncio.to_thread(path.with_name(path.name + ".unreadable").exists)


async def test_a_missing_sessions_file_starts_empty_with_a_logged_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "client" / "sessions.sqlite3"
    store = SessionStore(100.0, path=path)
    with caplog.at_level(logging.INFO, logger="peek.vortex.sessions"):
        await store.open()
    try:
        assert len(store) == 0
        assert "no browser sessions file" in caplog.text
    finally:
        await store.close()


async def test_a_logout_deletes_the_session_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    store = SessionStore(100.0, path=path)
    await store.open()
    token = await store.create("alice")
    assert await store.end(token) is True
    await store.close()

    store = SessionStore(100.0, path=path)
    await store.open()
    try:
        assert store.user(token) is None
        assert len(store) == 0
    finally:
        await store.close()


async def test_a_store_without_a_file_keeps_sessions_in_memory(tmp_path: Path) -> None:
    clock = Clock()
    store = SessionStore(100.0, clock=clock)
    await store.open()
    token = await store.create("alice")
    assert store.user(token) == "alice"
    clock.now += 101
    assert store.user(token) is None
    await store.close()
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


async def test_an_unknown_session_is_refused_on_the_socket(services: Restartable) -> None:
    assert await socket_status(services.url, "made-up-session") == 401


async def test_a_browser_session_is_not_valid_on_the_admin_site(services: Restartable) -> None:
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        session = browser.session_token
    assert session is not None
    assert services.server.admin_site is not None
    assert await socket_status(services.server.admin_site.url, session) == 401


# -- open sockets --------------------------------------------------------------------


async def test_a_pinging_socket_keeps_its_session_alive_past_the_idle_time(
    services: Restartable,
) -> None:
    client = services.client
    assert client is not None
    store = client.browsers.sessions
    real = store._clock
    shift = 0.0
    store._clock = lambda: real() + shift
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        await browser.connect()
        for n in range(3):  # three pings, each just under the idle time after the last
            shift += store.idle * 0.9
            await browser.send({"t": "ping", "id": str(n)})
            await browser.expect("pong")
        assert store.user(browser.session_token) == ADMIN


async def test_a_socket_whose_session_expired_is_closed_at_its_next_ping(
    services: Restartable,
) -> None:
    client = services.client
    assert client is not None
    store = client.browsers.sessions
    async with VortexBrowser(services.url) as browser:
        assert await browser.login(ADMIN, PASSWORD) == 200
        await browser.connect()
        real = store._clock
        store._clock = lambda: real() + store.idle + 1
        await browser.send({"t": "ping", "id": "1"})
        ws = browser.ws
        assert ws is not None
        await wait_for(lambda: ws.closed)
        assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert browser.unclaimed == []  # no pong
