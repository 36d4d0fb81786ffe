"""What a plugin sees of the database: its own namespace, sessions, and migration helpers.

A plugin declares its models once, in ``<plugin>/_private/storage`` (a module
or package exposing ``metadata``), with the metadata from
:func:`plugin_metadata` so every table lives in the plugin's namespace::

    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
    from peek.plugin.storage import plugin_metadata

    class Base(DeclarativeBase):
        metadata = plugin_metadata("peek_plugin_weather")

    class Reading(Base):
        __tablename__ = "reading"
        id: Mapped[int] = mapped_column(primary_key=True)

The namespace is a PostgreSQL schema or, on SQLite, a database file attached
under the same name, so the same models run on both. Its migrations are
Alembic revision scripts in ``<plugin>/_private/alembic/versions/`` (write them
with ``peek db revision --plugin NAME -m MSG``); the server applies them
before any plugin loads.

At run time the plugin gets sessions from its context: ``ctx.storage.session()``
(an ``AsyncSession``, in the event loop) or ``ctx.storage.sync_session()``
(blocking: worker tasks, executors). This module is the SDK's side of that
contract; the platform provides the implementation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from peek.plugin.errors import PluginError

__all__ = [
    "MIGRATION_DATA_DIR",
    "NAMING_CONVENTION",
    "PluginStorage",
    "StorageProvider",
    "StorageUnavailable",
    "migration_data_dir",
    "plugin_metadata",
]

# Named constraints, so that SQLite's batch migrations can find and drop them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Key in the Alembic config's ``attributes`` under which the platform puts the
# plugin's data directory on the server (read with :func:`migration_data_dir`).
MIGRATION_DATA_DIR = "peek.data_dir"


def plugin_metadata(name: str) -> MetaData:
    """A ``MetaData`` whose tables live in plugin ``name``'s namespace."""
    return MetaData(schema=name, naming_convention=NAMING_CONVENTION)


def migration_data_dir() -> Path | None:
    """In a revision script: the plugin's data directory on the server (``None`` when
    the migration runs without one, e.g. when a revision is being written).

    For data migrations that import files the plugin kept before it had
    tables. Only valid while the platform runs the plugin's migrations.
    """
    from alembic import op

    config = op.get_context().config
    if config is None:
        return None
    path: Path | None = config.attributes.get(MIGRATION_DATA_DIR)
    return path


class PluginStorage(Protocol):
    """One plugin's database namespace (``ctx.storage``).

    Sessions see this plugin's namespace only; another plugin's data is
    reached through that plugin's published API. Errors are SQLAlchemy's
    (``sqlalchemy.exc.OperationalError`` while the database is down); the
    next session after the database returns works again.
    """

    @property
    def schema(self) -> str:
        """The namespace: the schema name tables are declared with."""
        ...

    def session(self) -> AsyncSession:
        """A new ``AsyncSession``; use it in the event loop, ``async with`` it."""
        ...

    def sync_session(self) -> Session:
        """A new blocking ``Session``, for worker tasks and executors (never the loop)."""
        ...


class StorageProvider(Protocol):
    """What a service offers in ``ServiceResources.storage``: one namespace per plugin."""

    def for_plugin(self, name: str) -> PluginStorage: ...


class StorageUnavailable(PluginError):
    """The plugin asked for ``ctx.storage`` on a service that has no database."""

    def __init__(self, plugin: str, service: str) -> None:
        self.service = service
        super().__init__(plugin, f"plugin {plugin}: the {service} offers no database storage")
