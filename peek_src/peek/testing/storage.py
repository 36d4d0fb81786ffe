"""Databases for tests: a migrated SQLite installation, a throw-away PostgreSQL database,
and the storage part of the plugin conformance check."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import secrets
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, make_url, text

from peek.plugin.discovery import PluginSpec
from peek.storage import (
    DatabaseSettings,
    Migrator,
    Storage,
    migrate_installation,
    plugin_history,
)
from peek.testing.requirements import unavailable

__all__ = [
    "POSTGRES_URL_ENV",
    "migrated_storage",
    "postgres_database",
    "require_postgres",
    "storage_problems",
]

# The server tests create their databases on; its user must be allowed CREATE DATABASE.
POSTGRES_URL_ENV = "PEEK_TEST_POSTGRES_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT = 3


def _admin_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)


def require_postgres() -> str:
    """The admin URL of the test PostgreSQL; skips (fails under CI) if it cannot be reached."""
    url = _admin_url()
    engine = create_engine(
        make_url(url).set(drivername="postgresql+psycopg"),
        connect_args={"connect_timeout": CONNECT_TIMEOUT},
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not available"
        unavailable(f"needs PostgreSQL at {url} (set {POSTGRES_URL_ENV}): {exc}")
    finally:
        engine.dispose()
    return url


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Blocking: a new database ``peek_test_<random>`` on the test server; its URL.

    Dropped afterwards (with whatever is still connected to it), so parallel
    tests never share one.
    """
    admin = make_url(require_postgres()).set(drivername="postgresql+psycopg")
    name = f"peek_test_{secrets.token_hex(6)}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield admin.set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


async def migrated_storage(
    data_dir: Path, specs: Sequence[PluginSpec], url: str | None = None, **pool: Any
) -> tuple[Storage, dict[str, str]]:
    """A :class:`Storage` in ``data_dir`` (SQLite unless ``url``; ``pool``: pool settings)
    with the platform's and ``specs``' migrations applied; also the plugins whose
    migrations failed, with why."""
    settings = DatabaseSettings.from_url(url or f"sqlite:///{data_dir / 'peek.sqlite'}", **pool)
    storage = Storage(settings)
    failed = await asyncio.to_thread(
        migrate_installation, storage, list(specs), data_dir / "plugins"
    )
    return storage, {name: str(error) for name, error in failed.items()}


def storage_problems(spec: PluginSpec) -> list[str]:
    """Blocking: what is wrong with ``spec``'s models and migrations, on a scratch SQLite.

    One head; upgrade, downgrade to base and upgrade again all work; every
    table of its models is in its own namespace.
    """
    problems: list[str] = []
    history = plugin_history(spec)
    if history is None:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        storage = Storage(DatabaseSettings.from_url(f"sqlite:///{Path(tmp) / 'peek.sqlite'}"))
        migrator = Migrator(storage)
        try:
            heads = migrator.heads(history)
            if len(heads) != 1:
                problems.append(f"storage: migrations have {len(heads)} heads, not one: {heads}")
            for target in ("head", "base", "head"):
                step = migrator.upgrade if target == "head" else migrator.downgrade
                step(history, target)
        except Exception as exc:  # reported as a finding
            problems.append(f"storage: {exc}")
        finally:
            storage.close_blocking()
    if history.models is not None:
        try:
            metadata: MetaData = importlib.import_module(history.models).metadata
        except (ImportError, AttributeError) as exc:
            problems.append(f"storage: {history.models} has no metadata: {exc}")
        else:
            problems += [
                f"storage: table {table.fullname} is outside the namespace {spec.name} "
                f'(declare its metadata with peek.plugin.storage.plugin_metadata("{spec.name}"))'
                for table in metadata.sorted_tables
                if table.schema != spec.name
            ]
    return problems
