"""The admin site's login: generated password, sessions, CSRF, and the admin vortex."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from peek.services.admin_auth import (
    ADMIN_COOKIE,
    CSRF_HEADER,
    AdminAuthError,
    admin_password_file,
    admin_password_hash_file,
    set_admin_password,
)
from peek.testing import admin_headers
from peek.testing.vortex import VortexBrowser
from peek.vortex.browser import ACTION_PATH, CONTENT_TYPE
from peek.vortex.sessions import LoginLimits

USERS = "/plugins/user/users"


def browser_like() -> aiohttp.ClientSession:
    # Keeps cookies of 127.0.0.1 as a browser does (aiohttp's jar skips IP hosts by default).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@pytest.fixture
async def server(peek_server: Any) -> Any:
    return await peek_server(["peek_plugin_user", "peek_plugin_noop"])


async def generated_password(server: Any) -> str:
    text = await asyncio.to_thread(admin_password_file(server.config).read_text)
    return text.strip()


async def logged_in(server: Any, session: aiohttp.ClientSession) -> str:
    """Log ``session`` in as the admin; the CSRF token."""
    password = await generated_password(server)
    async with session.post(
        server.admin_site.url + "/vortex/login", json={"username": "admin", "password": password}
    ) as r:
        assert r.status == 200
    async with session.get(server.admin_site.url + "/api/admin/session") as r:
        body = await r.json()
    assert body["user"] == "admin"
    return str(body["csrf"])


async def test_first_start_generates_a_private_admin_password(server: Any) -> None:
    for path in (admin_password_file(server.config), admin_password_hash_file(server.config)):
        assert path.stat().st_mode & 0o077 == 0
    assert len(await generated_password(server)) >= 20


@pytest.mark.parametrize(
    "credentials",
    [{"username": "admin", "password": "wrong"}, {"username": "alice", "password": "x"}],
)
async def test_wrong_admin_credentials_are_refused(
    server: Any, credentials: dict[str, str]
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.admin_site.url + "/vortex/login", json=credentials) as r,
    ):
        assert r.status == 401
        assert ADMIN_COOKIE not in r.cookies


async def test_admin_routes_need_a_login(server: Any) -> None:
    async with aiohttp.ClientSession() as session:
        for path in (USERS, "/ui/pages/admin", "/api/status"):
            async with session.get(server.admin_site.url + path) as r:
                assert r.status == 401, path
        async with session.get(server.admin_site.url + "/api/admin/session") as r:
            assert await r.json() == {"user": None, "csrf": None}
        # The shell itself is public: it shows the login form.
        async with session.get(server.admin_site.url + "/") as r:
            assert r.status == 200


async def test_a_logged_in_admin_reads_plugin_admin_routes(server: Any) -> None:
    async with browser_like() as session:
        await logged_in(server, session)
        async with session.get(server.admin_site.url + USERS) as r:
            assert r.status == 200 and await r.json() == {"users": []}


async def test_state_changes_with_the_session_cookie_need_the_csrf_token(server: Any) -> None:
    bob = {"username": "bob", "password": "bob-password"}
    async with browser_like() as session:
        csrf = await logged_in(server, session)
        async with session.post(server.admin_site.url + USERS, json=bob) as r:
            assert r.status == 403
        async with session.post(
            server.admin_site.url + USERS, json=bob, headers={CSRF_HEADER: "forged"}
        ) as r:
            assert r.status == 403
        async with session.post(
            server.admin_site.url + USERS, json=bob, headers={CSRF_HEADER: csrf}
        ) as r:
            assert r.status == 201
    users = server.plugins.lifecycle.published("peek_plugin_user")
    assert (await users.get_user("bob")) is not None


async def test_cross_origin_state_changes_are_refused(server: Any) -> None:
    async with browser_like() as session:
        csrf = await logged_in(server, session)
        async with session.post(
            server.admin_site.url + USERS,
            json={"username": "eve", "password": "x"},
            headers={CSRF_HEADER: csrf, "Origin": "http://evil.example"},
        ) as r:
            assert r.status == 403


async def test_the_local_admin_token_needs_no_csrf_token(server: Any) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.admin_site.url + USERS,
            json={"username": "carol", "password": "carol-password"},
            headers=admin_headers(server),
        ) as r,
    ):
        assert r.status == 201


async def test_the_admin_vortex_needs_a_login_then_serves_the_servers_data(server: Any) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.admin_site.url + "/vortex/ws") as r:
            assert r.status == 401
        async with session.post(
            server.admin_site.url + ACTION_PATH,
            data=b"\xa7",
            headers={"Content-Type": CONTENT_TYPE},
        ) as r:
            assert r.status == 401
    async with VortexBrowser(server.admin_site.url) as browser:
        assert await browser.login("admin", await generated_password(server)) == 200
        welcome = await browser.connect()
        assert welcome is not None and welcome.header["user"] == "admin"
        await browser.subscribe("noop.Counter", {"name": "x"})
        data = await browser.expect("data")
        assert data.header["key"] == "noop.Counter"


def test_set_password_replaces_the_generated_one(tmp_path: Any) -> None:
    from peek.testing import free_config

    config = free_config(tmp_path / "data")
    with pytest.raises(AdminAuthError):
        set_admin_password(config, "short")
    admin_password_file(config).parent.mkdir(parents=True)
    admin_password_file(config).write_text("generated\n")
    result = subprocess.run(
        [sys.executable, "-m", "peek", "admin", "set-password", "--stdin"],
        input="a-long-enough-password\n",
        capture_output=True,
        text=True,
        env={"PEEK__DATA_DIR": str(config.data_dir), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not admin_password_file(config).exists()
    from peek.services.admin_auth import _verify

    assert _verify(config, "a-long-enough-password")
    assert not _verify(config, "generated")


async def test_repeated_wrong_admin_passwords_are_throttled_with_retry_after(server: Any) -> None:
    url = server.admin_site.url + "/vortex/login"
    wrong = {"username": "admin", "password": "wrong-password"}
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(LoginLimits().free_per_user + 1):
            async with session.post(url, json=wrong) as r:
                statuses.append(r.status)
                retry_after = r.headers.get("Retry-After")
        right = {"username": "admin", "password": await generated_password(server)}
        async with session.post(url, json=right) as r:
            after_lock = r.status
    assert statuses == [401] * LoginLimits().free_per_user + [429]
    assert retry_after is not None and int(retry_after) >= 1
    assert after_lock == 429  # locked: not even the right password is checked
