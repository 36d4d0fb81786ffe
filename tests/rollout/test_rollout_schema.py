"""A rollout that fails after touching the plugin's schema leaves the data and the schema as
they were, on SQLite and on PostgreSQL: a failing migration is rolled back whole, and one
that succeeded is downgraded when the generation fails afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from peek.testing.storage import postgres_database

from .cluster import cluster, versions
from .pluginkit import plugin_wheel

SCHEMA = "peek_plugin_probe"

REVISION = '''
"""{doc}"""
import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{up}


def downgrade() -> None:
{down_body}
'''

READINGS = REVISION.format(
    doc="readings",
    rev="a1a1a1a1a1a1",
    down=None,
    up=f'    op.create_table("reading", sa.Column("id", sa.Integer(), primary_key=True), '
    f'sa.Column("value", sa.String(50)), schema="{SCHEMA}")',
    down_body=f'    op.drop_table("reading", schema="{SCHEMA}")',
)
BROKEN = REVISION.format(
    doc="a column, then a failure",
    rev="b2b2b2b2b2b2",
    down="a1a1a1a1a1a1",
    up=f'    op.add_column("reading", sa.Column("extra", sa.Integer()), schema="{SCHEMA}")\n'
    '    raise RuntimeError("revision b2 is broken")',
    down_body=f'    op.drop_column("reading", "extra", schema="{SCHEMA}")',
)
EXTRA_TABLE = REVISION.format(
    doc="another table",
    rev="c3c3c3c3c3c3",
    down="a1a1a1a1a1a1",
    up=f'    op.create_table("extra", sa.Column("id", sa.Integer(), primary_key=True), '
    f'schema="{SCHEMA}")',
    down_body=f'    op.drop_table("extra", schema="{SCHEMA}")',
)


def migrations(*scripts: tuple[str, str]) -> dict[str, str]:
    files = {"_private/alembic/__init__.py": "", "_private/alembic/versions/__init__.py": ""}
    for name, text in scripts:
        files[f"_private/alembic/versions/{name}.py"] = text
    return files


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.real_service)],
)
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
        return
    with postgres_database() as url:
        yield url


class Tables:
    """The plugin's namespace as the test sees it, on either database."""

    def __init__(self, data: Path, url: str | None) -> None:
        if url is None:
            path = data / "server" / "database" / f"peek.{SCHEMA}.sqlite"
            self.engine = sa.create_engine(f"sqlite:///{path}")
            self.schema: str | None = None
        else:
            self.engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
            self.schema = SCHEMA

    def tables(self) -> set[str]:
        names = set(sa.inspect(self.engine).get_table_names(schema=self.schema))
        return names - {"alembic_version"}

    def columns(self, table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(self.engine).get_columns(table, schema=self.schema)}

    def insert(self, *values: str) -> None:
        table = f"{self.schema}.reading" if self.schema else "reading"
        with self.engine.begin() as conn:
            for value in values:
                conn.execute(sa.text(f"INSERT INTO {table} (value) VALUES (:v)"), {"v": value})

    def values(self) -> list[str]:
        table = f"{self.schema}.reading" if self.schema else "reading"
        with self.engine.connect() as conn:
            return [
                row[0] for row in conn.execute(sa.text(f"SELECT value FROM {table} ORDER BY id"))
            ]


async def start_with_readings(c, tmp_path: Path, url: str | None) -> Tables:
    v1 = plugin_wheel(
        tmp_path / "w", "probe", "1.0.0", services=("server",),
        files=migrations(("v_a1_readings", READINGS)),
    )  # fmt: skip
    assert (await c.roll_out(v1))["state"] == "active", c.logs()
    tables = Tables(c.data(), url)
    await asyncio.to_thread(tables.insert, "north 3.5", "south 7.25")
    return tables


async def test_a_failing_migration_rolls_back_with_no_data_lost(
    tmp_path: Path, database_url: str | None
) -> None:
    async with cluster(tmp_path / "srv", "separate", kinds=(), database_url=database_url) as c:
        tables = await start_with_readings(c, tmp_path, database_url)
        v2 = plugin_wheel(
            tmp_path / "w", "probe", "2.0.0", services=("server",),
            files=migrations(("v_a1_readings", READINGS), ("v_b2_broken", BROKEN)),
        )  # fmt: skip
        done = await c.roll_out(v2)
        assert done["state"] == "failed"
        assert any("revision b2 is broken" in p for p in done["problems"])
        assert await asyncio.to_thread(tables.values) == ["north 3.5", "south 7.25"]
        assert await asyncio.to_thread(tables.columns, "reading") == {"id", "value"}
        status = await c.wait_services({"server"})
        assert versions(status, "peek_plugin_probe") == {"server": "1.0.0"}
        tables.engine.dispose()


async def test_schema_changes_of_a_failed_generation_are_undone(
    tmp_path: Path, database_url: str | None
) -> None:
    async with cluster(tmp_path / "srv", "separate", kinds=(), database_url=database_url) as c:
        tables = await start_with_readings(c, tmp_path, database_url)
        v2 = plugin_wheel(
            tmp_path / "w", "probe", "2.0.0", services=("server",),
            files=migrations(("v_a1_readings", READINGS), ("v_c3_extra", EXTRA_TABLE)),
            start={"server": "raise RuntimeError('v2 cannot start')"},
        )  # fmt: skip
        done = await c.roll_out(v2)
        assert done["state"] == "failed"
        assert any("v2 cannot start" in p for p in done["problems"])
        # The migration had succeeded; going back downgraded it with v2's own script.
        assert await asyncio.to_thread(tables.tables) == {"reading"}
        assert await asyncio.to_thread(tables.values) == ["north 3.5", "south 7.25"]
        status = await c.wait_services({"server"})
        assert versions(status, "peek_plugin_probe") == {"server": "1.0.0"}
        tables.engine.dispose()


async def test_schema_changes_of_a_generation_the_server_restarted_into_are_undone(
    tmp_path: Path, database_url: str | None
) -> None:
    async with cluster(tmp_path / "run", "run", database_url=database_url) as c:
        tables = await start_with_readings(c, tmp_path, database_url)
        v2 = plugin_wheel(
            tmp_path / "w", "probe", "2.0.0", services=("server",),
            files=migrations(("v_a1_readings", READINGS), ("v_c3_extra", EXTRA_TABLE)),
            manifest_extra="restart = true",
            start={"server": "raise RuntimeError('v2 cannot start after the restart')"},
        )  # fmt: skip
        status, body = await c.upload(v2)
        assert status == 202, body
        events = await c.follow(body["generation"])
        assert events[-1]["state"] == "failed", c.logs()
        assert any("v2 cannot start after the restart" in p for p in events[-1]["problems"])
        # The restarted server migrated before starting v2; going back downgraded it.
        assert await asyncio.to_thread(tables.tables) == {"reading"}
        assert await asyncio.to_thread(tables.values) == ["north 3.5", "south 7.25"]
        status_doc = await c.wait_services({"server"})
        assert versions(status_doc, "peek_plugin_probe")["server"] == "1.0.0"
        tables.engine.dispose()
