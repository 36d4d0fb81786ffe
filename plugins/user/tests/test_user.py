"""Specification of peek_plugin_user: the directory on the server, logins through the client."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import argon2
import pytest
from argon2 import extract_parameters

from peek.config import PeekConfig
from peek.errors import ConfigError
from peek.plugin.lifecycle import PluginState
from peek.testing import assert_plugin_conforms, free_config
from peek_plugin_user._private.config import UserConfig
from peek_plugin_user.server import (
    InvalidDisplayName,
    InvalidPassword,
    InvalidUsername,
    UnknownUser,
    User,
    UserApi,
    UserApiReadOnly,
    UserExists,
)

PLUGIN = "peek_plugin_user"
# Cheap argon2 parameters: the tests check behaviour, not hashing cost.
FAST_HASH = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}

Factory = Callable[..., Awaitable[Any]]


def user_api(service: Any) -> UserApi:
    """The object peek_plugin_user published on ``service``."""
    api: UserApi = service.plugins.lifecycle.published(PLUGIN)
    return api


def config_for(data_dir: Path, **plugin_table: Any) -> PeekConfig:
    return free_config(data_dir, **{f"plugin.{PLUGIN}": {"argon2": FAST_HASH, **plugin_table}})


def users_file(config: PeekConfig) -> Path:
    """Where the plugin kept its users before it had tables (imported by a migration)."""
    return config.data_dir / "plugins" / "server" / PLUGIN / "users.json"


def namespace_file(config: PeekConfig) -> Path:
    """The SQLite file of the plugin's namespace in the embedded default database."""
    return config.data_dir / "server" / "database" / f"peek.{PLUGIN}.sqlite"


def stored_hash(config: PeekConfig, username: str) -> str:
    with contextlib.closing(sqlite3.connect(namespace_file(config))) as db:
        (found,) = db.execute(
            "SELECT password_hash FROM user_account WHERE username = ?", (username,)
        ).fetchone()
    return str(found)


@pytest.fixture
def config(tmp_path: Path) -> PeekConfig:
    return config_for(tmp_path / "peek-data")


@pytest.fixture
async def users(peek_server: Factory, config: PeekConfig) -> UserApi:
    server = await peek_server([PLUGIN], config=config)
    return user_api(server)


# -- the plugin contract ---------------------------------------------------


def test_plugin_conforms() -> None:
    assert_plugin_conforms(PLUGIN)


async def test_publishes_the_user_api_on_the_server(users: UserApi) -> None:
    assert isinstance(users, UserApi)


# -- passwords ---------------------------------------------------------------


async def test_stored_password_is_an_argon2id_hash_not_the_password(
    users: UserApi, config: PeekConfig
) -> None:
    await users.create_user("alice", "correct horse battery staple")
    assert b"correct horse battery staple" not in namespace_file(config).read_bytes()
    assert stored_hash(config, "alice").startswith("$argon2id$")


async def test_users_database_file_is_readable_by_its_owner_only(
    users: UserApi, config: PeekConfig
) -> None:
    await users.create_user("alice", "pw")
    assert stat.S_IMODE(namespace_file(config).stat().st_mode) == 0o600


async def test_authenticate_accepts_the_right_password(users: UserApi) -> None:
    await users.create_user("alice", "s3cret", "Alice Liddell")
    assert await users.authenticate("alice", "s3cret") == User("alice", "Alice Liddell")


async def test_authenticate_refuses_a_wrong_password(users: UserApi) -> None:
    await users.create_user("alice", "s3cret")
    assert await users.authenticate("alice", "S3cret") is None


async def test_authenticate_refuses_an_unknown_or_malformed_user(users: UserApi) -> None:
    assert await users.authenticate("nobody", "s3cret") is None
    assert await users.authenticate("no body/..", "s3cret") is None


async def test_set_password_replaces_the_old_one(users: UserApi) -> None:
    await users.create_user("alice", "old")
    await users.set_password("alice", "new")
    assert await users.authenticate("alice", "old") is None
    assert await users.authenticate("alice", "new") is not None


async def test_login_upgrades_the_hash_when_the_parameters_change(
    peek_server: Factory, tmp_path: Path
) -> None:
    first = config_for(tmp_path / "data")
    server = await peek_server([PLUGIN], config=first)
    await user_api(server).create_user("alice", "s3cret")
    await server.stop()
    stronger = {**FAST_HASH, "time_cost": 2, "memory_cost": 16}
    second = first.model_copy(update={"plugin": {PLUGIN: {"argon2": stronger}}})
    server = await peek_server([PLUGIN], config=second)

    assert await user_api(server).authenticate("alice", "s3cret") is not None

    params = extract_parameters(stored_hash(second, "alice"))
    assert (params.time_cost, params.memory_cost) == (2, 16)


@pytest.mark.parametrize("password", ["", "x" * 1025])
async def test_unacceptable_passwords_are_refused(users: UserApi, password: str) -> None:
    with pytest.raises(InvalidPassword):
        await users.create_user("alice", password)


# -- usernames ---------------------------------------------------------------


@pytest.mark.parametrize("username", ["", "-alice", "al ice", "al/ice", "ålice", "a" * 65])
async def test_invalid_usernames_are_refused_with_a_value_error(
    users: UserApi, username: str
) -> None:
    with pytest.raises(InvalidUsername) as info:
        await users.create_user(username, "pw")
    assert isinstance(info.value, ValueError)
    assert await users.list_users() == []


async def test_usernames_are_case_insensitive(users: UserApi) -> None:
    created = await users.create_user("Alice", "pw")
    assert created.username == "alice"
    assert await users.get_user("ALICE") == created
    assert await users.authenticate("aLiCe", "pw") == created


async def test_a_second_user_with_the_same_name_is_refused(users: UserApi) -> None:
    await users.create_user("alice", "pw")
    with pytest.raises(UserExists):
        await users.create_user("ALICE", "other")


async def test_display_name_defaults_to_the_username(users: UserApi) -> None:
    assert (await users.create_user("alice", "pw")).display_name == "alice"


async def test_display_name_must_be_reasonable(users: UserApi) -> None:
    with pytest.raises(InvalidDisplayName):
        await users.create_user("alice", "pw", "x" * 201)


# -- the directory -----------------------------------------------------------


async def test_list_users_is_sorted_by_username(users: UserApi) -> None:
    for name in ("carol", "alice", "bob"):
        await users.create_user(name, "pw")
    assert [u.username for u in await users.list_users()] == ["alice", "bob", "carol"]


async def test_get_user_of_an_unknown_name_is_none(users: UserApi) -> None:
    assert await users.get_user("nobody") is None


async def test_deleted_users_are_gone_and_cannot_log_in(users: UserApi) -> None:
    await users.create_user("alice", "pw")
    await users.delete_user("alice")
    assert await users.get_user("alice") is None
    assert await users.authenticate("alice", "pw") is None


async def test_deleting_or_repassing_an_unknown_user_raises(users: UserApi) -> None:
    with pytest.raises(UnknownUser):
        await users.delete_user("nobody")
    with pytest.raises(UnknownUser):
        await users.set_password("nobody", "pw")


async def test_users_survive_a_server_restart(peek_server: Factory, config: PeekConfig) -> None:
    server = await peek_server([PLUGIN], config=config)
    await user_api(server).create_user("alice", "pw", "Alice", is_admin=True)
    await server.stop()

    restarted = await peek_server([PLUGIN], config=config)

    assert await user_api(restarted).get_user("alice") == User("alice", "Alice", is_admin=True)
    assert await user_api(restarted).authenticate("alice", "pw") is not None


async def test_a_legacy_users_file_is_imported_once_by_a_data_migration(
    peek_server: Factory, config: PeekConfig
) -> None:
    legacy_hash = argon2.PasswordHasher(**FAST_HASH).hash("old-secret")
    document = {
        "format": 1,
        "users": [
            {
                "username": "Alice",
                "display_name": "Alice L.",
                "is_admin": True,
                "password_hash": legacy_hash,
            }
        ],
    }
    users_file(config).parent.mkdir(parents=True)
    users_file(config).write_text(json.dumps(document), encoding="utf-8")

    server = await peek_server([PLUGIN], config=config)
    imported = user_api(server)

    assert await imported.get_user("alice") == User("alice", "Alice L.", is_admin=True)
    assert await imported.authenticate("alice", "old-secret") is not None
    await imported.delete_user("alice")
    await server.stop()
    # Imported once: the file is still there, but a restart does not bring her back.
    restarted = await peek_server([PLUGIN], config=config)
    assert await user_api(restarted).get_user("alice") is None


async def test_a_corrupt_users_file_fails_the_plugin_and_is_kept(
    peek_server: Factory, config: PeekConfig
) -> None:
    users_file(config).parent.mkdir(parents=True)
    users_file(config).write_text("{not json", encoding="utf-8")

    server = await peek_server([PLUGIN], config=config)

    assert server.plugins.lifecycle.state(PLUGIN) is PluginState.FAILED
    assert "users.json is not valid JSON" in str(server.plugins.lifecycle.error(PLUGIN))
    assert users_file(config).read_text(encoding="utf-8") == "{not json"


# -- configuration -----------------------------------------------------------


async def test_initial_admin_is_created_from_a_password_file(
    peek_server: Factory, tmp_path: Path
) -> None:
    secret = tmp_path / "admin-password"
    secret.write_text("hunter2\n", encoding="utf-8")
    config = config_for(
        tmp_path / "data", initial_admin="admin", initial_admin_password_file=str(secret)
    )

    server = await peek_server([PLUGIN], config=config)

    admin = await user_api(server).authenticate("admin", "hunter2")
    assert admin is not None and admin.is_admin


def test_unknown_config_keys_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        UserConfig.parse({"initial_admn": "admin", "argon2": {"time_cost": 0}})
    assert [key for key, _ in info.value.problems] == [
        "plugin.peek_plugin_user.initial_admn",
        "plugin.peek_plugin_user.argon2.time_cost",
    ]


# -- the exchange routes and the client --------------------------------------


async def test_exchange_routes_refuse_callers_without_a_service_token(
    peek_server: Factory, config: PeekConfig
) -> None:
    server = await peek_server([PLUGIN], config=config)
    url = server.exchange_site.url + "/plugins/user/authenticate"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"username": "alice", "password": "pw"}) as response,
    ):
        assert response.status == 401


async def test_client_authenticates_through_the_server(
    peek_server: Factory, peek_upstream: Factory, config: PeekConfig
) -> None:
    server = await peek_server([PLUGIN], config=config)
    client = await peek_upstream("client", server, [PLUGIN])
    # Created after the client started: only the server can know her.
    await user_api(server).create_user("alice", "pw", "Alice")

    on_client = user_api(client)

    assert await on_client.authenticate("Alice", "pw") == User("alice", "Alice")
    assert await on_client.authenticate("alice", "wrong") is None
    assert await on_client.authenticate("nobody", "pw") is None


async def test_client_reads_users_from_the_server(
    peek_server: Factory, peek_upstream: Factory, config: PeekConfig
) -> None:
    server = await peek_server([PLUGIN], config=config)
    client = await peek_upstream("client", server, [PLUGIN])
    await user_api(server).create_user("bob", "pw")
    await user_api(server).create_user("alice", "pw", is_admin=True)

    on_client = user_api(client)

    assert await on_client.get_user("alice") == User("alice", "alice", is_admin=True)
    assert await on_client.get_user("nobody") is None
    assert [u.username for u in await on_client.list_users()] == ["alice", "bob"]


async def test_client_keeps_no_users_of_its_own(
    peek_server: Factory, peek_upstream: Factory, config: PeekConfig
) -> None:
    server = await peek_server([PLUGIN], config=config)
    await peek_upstream("client", server, [PLUGIN])
    await user_api(server).create_user("alice", "pw")
    assert not list((config.data_dir / "plugins" / "client").rglob("users.json"))


async def test_client_refuses_writes(
    peek_server: Factory, peek_upstream: Factory, config: PeekConfig
) -> None:
    server = await peek_server([PLUGIN], config=config)
    on_client = user_api(await peek_upstream("client", server, [PLUGIN]))

    with pytest.raises(UserApiReadOnly):
        await on_client.create_user("alice", "pw")
    with pytest.raises(UserApiReadOnly):
        await on_client.set_password("alice", "pw")
    with pytest.raises(UserApiReadOnly):
        await on_client.delete_user("alice")
    assert await user_api(server).list_users() == []
