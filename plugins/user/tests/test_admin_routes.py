"""user's admin routes (the admin app's Users page): refusals say what was wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from peek.testing import admin_headers, free_config

USER = "peek_plugin_user"


@pytest.fixture
async def server(peek_server: Any, tmp_path: Path) -> Any:
    fast_hash = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    config = free_config(tmp_path / "peek-data", **{f"plugin.{USER}": {"argon2": fast_hash}})
    return await peek_server([USER], config=config)


async def call(server: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            server.admin_site.url + "/plugins/user" + path,
            json=body,
            headers=admin_headers(server),
        ) as r,
    ):
        return r.status, (await r.json() if r.content_type == "application/json" else None)


async def test_admin_creates_lists_resets_and_deletes_a_user(server: Any) -> None:
    status, body = await call(
        server, "POST", "/users", {"username": "Bob", "password": "pw1", "display_name": "Bob B"}
    )
    assert status == 201 and body["user"] == {
        "username": "bob",
        "display_name": "Bob B",
        "is_admin": False,
    }
    assert (await call(server, "GET", "/users"))[1]["users"][0]["username"] == "bob"
    assert (await call(server, "PUT", "/users/bob/password", {"password": "pw2"}))[0] == 204
    users = server.plugins.lifecycle.published(USER)
    assert await users.authenticate("bob", "pw2") is not None
    assert (await call(server, "DELETE", "/users/bob"))[0] == 204
    assert await users.get_user("bob") is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/users", {"username": "bad name!", "password": "x"}, 400),
        ("POST", "/users", {"username": "bob"}, 400),
        ("POST", "/users", {"username": "bob", "password": "x", "is_admin": "yes"}, 400),
        ("PUT", "/users/nobody/password", {"password": "x"}, 404),
        ("DELETE", "/users/nobody", None, 404),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(
    server: Any, method: str, path: str, body: Any, status: int
) -> None:
    got, answer = await call(server, method, path, body)
    assert got == status
    assert answer["error"]


async def test_an_existing_username_conflicts(server: Any) -> None:
    await call(server, "POST", "/users", {"username": "bob", "password": "x"})
    status, answer = await call(server, "POST", "/users", {"username": "bob", "password": "y"})
    assert status == 409 and "exists" in answer["error"]
