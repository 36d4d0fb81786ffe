"""The server migrates before any plugin loads, and isolates plugins whose migrations fail."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect
from tests.storage.fakes import make_plugin, revision, table_revision

from peek.config import PeekConfig
from peek.plugin import PluginContext
from peek.plugin.lifecycle import PluginState
from peek.storage import MigrationFailed
from peek.testing import free_config, installed_specs


class CountingHook:
    """Counts rows of its own table at load: the migration must have run by then."""

    seen: dict[str, int] = {}

    async def load(self, ctx: PluginContext) -> None:
        from sqlalchemy import text

        async with ctx.storage.session() as session:
            rows = await session.scalar(text(f"SELECT count(*) FROM {ctx.name}.thing"))
        CountingHook.seen[ctx.name] = int(rows or 0)


def failing(name: str) -> str:
    return revision("f1", None, "op.execute('THIS IS NOT SQL')")


async def test_a_failing_migration_fails_its_plugin_and_dependents_and_the_rest_start(
    peek_server: Any, database_url: str, tmp_path: Path
) -> None:
    good, bad, needs_bad = "peek_plugin_good", "peek_plugin_bad", "peek_plugin_needs_bad"
    specs = [
        make_plugin(
            tmp_path,
            good,
            {"v_a1.py": table_revision(good, "a1", None, "thing")},
            hooks={"server": CountingHook},
        ),
        make_plugin(tmp_path, bad, {"v_f1.py": failing(bad)}),
        make_plugin(
            tmp_path,
            needs_bad,
            {"v_a1.py": table_revision(needs_bad, "a1", None, "thing")},
            requires={"bad": ">=0.1"},
            hooks={"server": CountingHook},
        ),
    ]
    config = free_config(tmp_path / "data", **{"server.database_url": database_url})

    server = await peek_server(specs=specs, config=config)

    lifecycle = server.plugins.lifecycle
    assert lifecycle.state(good) is PluginState.STARTED
    assert CountingHook.seen[good] == 0
    assert lifecycle.state(bad) is PluginState.FAILED
    error = lifecycle.error(bad)
    assert isinstance(error, MigrationFailed) and "THIS IS NOT SQL" in str(error)
    assert lifecycle.state(needs_bad) is PluginState.FAILED
    assert "peek_plugin_bad" in str(lifecycle.error(needs_bad))
    assert needs_bad not in CountingHook.seen


async def test_the_server_runs_first_party_plugins_on_either_database(
    peek_server: Any, database_url: str, tmp_path: Path
) -> None:
    config: PeekConfig = free_config(
        tmp_path / "data",
        **{
            "server.database_url": database_url,
            "plugin.peek_plugin_user": {
                "argon2": {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
            },
        },
    )
    specs = await asyncio.to_thread(installed_specs, ["peek_plugin_noop", "peek_plugin_user"])
    server = await peek_server(specs=specs, config=config)
    users = server.plugins.lifecycle.published("peek_plugin_user")

    await users.create_user("alice", "pw")

    assert await users.authenticate("alice", "pw") is not None
    assert [s.state for s in server.plugins.lifecycle.status()] == [PluginState.STARTED] * 2


async def test_the_embedded_default_keeps_the_database_in_the_data_dir(
    peek_server: Any, tmp_path: Path
) -> None:
    config = free_config(tmp_path / "data")
    server = await peek_server(["peek_plugin_noop"], config=config)

    assert server.storage.dialect == "sqlite"
    files = sorted(p.name for p in (tmp_path / "data" / "server" / "database").glob("*.sqlite"))
    assert files == ["peek.peek_plugin_noop.sqlite", "peek.sqlite"]

    def tables() -> list[str]:
        with server.storage.engine("peek_plugin_noop").connect() as conn:
            return inspect(conn).get_table_names(schema="peek_plugin_noop")

    assert sorted(await asyncio.to_thread(tables)) == ["alembic_version", "ping"]


@pytest.mark.parametrize("url", ["oracle://scott@db/peek"])
async def test_a_server_with_an_unsupported_database_does_not_start(
    tmp_path: Path, url: str
) -> None:
    from peek.services.server import ServerService
    from peek.storage import UnsupportedDatabase

    with pytest.raises(UnsupportedDatabase):
        ServerService(free_config(tmp_path, **{"server.database_url": url}), specs=[])
