"""Each plugin's namespace: its own sessions, invisible to other plugins, sync and async."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from peek.plugin.storage import PluginStorage
from peek.storage import Storage
from peek.testing import installed_specs
from peek.testing.storage import migrated_storage

NOOP, USER = "peek_plugin_noop", "peek_plugin_user"


@pytest.fixture
async def migrated(database_url: str, tmp_path: Path) -> AsyncIterator[Storage]:
    specs = await asyncio.to_thread(installed_specs, [NOOP, USER])
    storage, failed = await migrated_storage(tmp_path, specs, database_url)
    assert failed == {}
    yield storage
    await storage.close()


async def count(ns: PluginStorage, table: str) -> int:
    async with ns.session() as session:
        return int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def test_a_plugin_reads_and_writes_its_own_tables(migrated: Storage) -> None:
    noop = migrated.for_plugin(NOOP)
    async with noop.session() as session, session.begin():
        await session.execute(
            text(f"INSERT INTO {NOOP}.ping (site, answered_at) VALUES ('t', CURRENT_TIMESTAMP)")
        )
    assert await count(noop, f"{NOOP}.ping") == 1


async def test_a_plugin_cannot_see_another_plugins_tables(migrated: Storage) -> None:
    noop = migrated.for_plugin(NOOP)
    with pytest.raises(DBAPIError) as info:
        await count(noop, f"{USER}.user_account")
    # PostgreSQL: the role has no rights there; SQLite: the file is not attached.
    assert any(
        words in str(info.value)
        for words in ("permission denied", f"no such table: {USER}.user_account")
    )


async def test_a_plugin_cannot_see_the_platforms_tables(migrated: Storage) -> None:
    with pytest.raises(DBAPIError):
        await count(migrated.for_plugin(NOOP), "plugin_namespace")


async def test_a_failed_query_does_not_spoil_the_next_session(migrated: Storage) -> None:
    noop = migrated.for_plugin(NOOP)
    with pytest.raises(DBAPIError):
        await count(noop, f"{USER}.user_account")
    assert await count(noop, f"{NOOP}.ping") == 0


async def test_sync_sessions_of_worker_tasks_see_what_async_sessions_wrote(
    migrated: Storage,
) -> None:
    user = migrated.for_plugin(USER)
    async with user.session() as session, session.begin():
        await session.execute(
            text(
                f"INSERT INTO {USER}.user_account (username, display_name, is_admin, "
                "password_hash) VALUES ('alice', 'Alice', false, 'x')"
            )
        )

    def read_in_a_worker_thread() -> list[str]:
        with user.sync_session() as session:
            return list(session.scalars(text(f"SELECT username FROM {USER}.user_account")))

    assert await asyncio.to_thread(read_in_a_worker_thread) == ["alice"]


async def test_the_same_namespace_object_is_handed_out_each_time(migrated: Storage) -> None:
    assert migrated.for_plugin(NOOP) is migrated.for_plugin(NOOP)
    assert migrated.for_plugin(NOOP).schema == NOOP


async def test_plugins_sharing_one_pooled_connection_each_run_as_themselves(
    database_url: str, tmp_path: Path
) -> None:
    specs = await asyncio.to_thread(installed_specs, [NOOP, USER])
    storage, _ = await migrated_storage(tmp_path, specs, database_url, pool_size=1)
    try:
        for name in (NOOP, USER, NOOP, USER):
            own = f"{name}.{'ping' if name == NOOP else 'user_account'}"
            other = f"{USER}.user_account" if name == NOOP else f"{NOOP}.ping"
            assert await count(storage.for_plugin(name), own) == 0
            with pytest.raises(DBAPIError):
                await count(storage.for_plugin(name), other)
    finally:
        await storage.close()
