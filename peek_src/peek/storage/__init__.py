"""Peek's database: one per installation, a namespace per plugin, Alembic histories.

- :class:`Storage` holds the pools of one process and hands each plugin its
  namespace (``ctx.storage``), on PostgreSQL or SQLite alike.
- :class:`Migrator` upgrades, downgrades and inspects the platform's and the
  plugins' histories; :func:`migrate_installation` is what the server runs
  before any plugin loads.

See :mod:`peek.plugin.storage` for what plugin authors write.
"""

from peek.storage.database import DatabaseSettings, NamespaceStorage, Storage, check_namespace
from peek.storage.errors import (
    InvalidNamespace,
    MigrationFailed,
    NoSuchHistory,
    RevisionFailed,
    StorageError,
    UnsupportedDatabase,
)
from peek.storage.migrate import (
    PLATFORM,
    History,
    Migrator,
    migrate_installation,
    platform_history,
    plugin_history,
)

__all__ = [
    "PLATFORM",
    "DatabaseSettings",
    "History",
    "InvalidNamespace",
    "MigrationFailed",
    "Migrator",
    "NamespaceStorage",
    "NoSuchHistory",
    "RevisionFailed",
    "Storage",
    "StorageError",
    "UnsupportedDatabase",
    "check_namespace",
    "migrate_installation",
    "platform_history",
    "plugin_history",
]
