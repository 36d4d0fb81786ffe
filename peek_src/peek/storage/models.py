"""The platform's own tables (in the default schema: ``public`` on PostgreSQL, the main
SQLite file)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from peek.plugin.storage import NAMING_CONVENTION

__all__ = [
    "known_service",
    "metadata",
    "plugin_generation",
    "plugin_namespace",
    "rollout_state",
]

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Which plugin namespaces the server migrated, to which revision, and when.
plugin_namespace = Table(
    "plugin_namespace",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("revision", String(255), nullable=True),
    Column("upgraded_at", DateTime(timezone=True), nullable=False),
)

# Plugin rollout (peek.rollout.history): every generation of the plugin set, and
# the one pointer the switch protocol moves. Manifests are the generations'
# canonical JSON; ``problems`` is a JSON list of why one failed.
plugin_generation = Table(
    "plugin_generation",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("parent", Integer, nullable=True),
    Column("state", String(16), nullable=False),
    Column("manifest", Text, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("problems", Text, nullable=True),
)

# One row (id 1): the generation every service must run (``active``), and a
# rollout in flight (``target``, ``phase``: preparing or committed, the
# schema revisions its migrations started from).
rollout_state = Table(
    "rollout_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("active", Integer, nullable=True),
    Column("target", Integer, nullable=True),
    Column("previous", Integer, nullable=True),
    Column("phase", String(16), nullable=True),
    Column("schema_before", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Every service the server has known (peek.services.known), kept across server
# restarts so that one that is down is still listed, and still blocks rollouts,
# until it reconnects or an administrator forgets it. ``last_seen``: when it
# last connected or disconnected; ``generation``: the plugin generation it last
# reported.
known_service = Table(
    "known_service",
    metadata,
    Column("kind", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("generation", Integer, nullable=True),
    Column("version", String(255), nullable=True),
    Column("remote", String(255), nullable=True),
    PrimaryKeyConstraint("kind", "name"),
)
