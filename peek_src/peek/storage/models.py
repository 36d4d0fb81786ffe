"""The platform's own tables (in the default schema: ``public`` on PostgreSQL, the main
SQLite file)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table

from peek.plugin.storage import NAMING_CONVENTION

__all__ = ["metadata", "plugin_namespace"]

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Which plugin namespaces the server migrated, to which revision, and when.
plugin_namespace = Table(
    "plugin_namespace",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("revision", String(255), nullable=True),
    Column("upgraded_at", DateTime(timezone=True), nullable=False),
)
