"""Schema histories: the platform's and each plugin's, run through Alembic's API.

A history is a directory of Alembic revision scripts plus the namespace it
migrates. The platform's own history is in ``peek/storage/migrations/versions``
(inside the package, so it ships in the wheel) with its version table in the
default schema; a plugin's is ``<plugin>/_private/alembic/versions`` with its
version table in the plugin's namespace. One ``env.py``, the platform's
(``peek/storage/alembic/env.py``), runs all of them: plugin authors write
revision scripts only.

Every upgrade or downgrade is one transaction (PostgreSQL has transactional
DDL; Peek makes SQLite's transactional too, and renders SQLite ALTERs in
batch mode), so a failing revision leaves the namespace as it was.

Everything here blocks: services call it in an executor.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, MetaData, delete, insert, text

from peek.plugin.discovery import PluginSpec
from peek.plugin.storage import MIGRATION_DATA_DIR
from peek.storage import models
from peek.storage.database import Storage, check_namespace
from peek.storage.errors import MigrationFailed, RevisionFailed

__all__ = [
    "PLATFORM",
    "History",
    "Migrator",
    "migrate_installation",
    "platform_history",
    "plugin_history",
    "run_environment",
]

log = logging.getLogger(__name__)

PLATFORM = "peek"
ENV_DIR = Path(__file__).parent / "alembic"
PLATFORM_VERSIONS = Path(__file__).parent / "migrations" / "versions"
PLUGIN_VERSIONS = Path("_private") / "alembic" / "versions"
PLUGIN_MODELS = "_private.storage"
# Revision files are importable module names (mypy and ruff check them).
FILE_TEMPLATE = "v_%%(rev)s_%%(slug)s"

_HISTORY = "peek.history"
_AUTOGENERATE = "peek.autogenerate"


@dataclass(frozen=True)
class History:
    """One schema history: ``name`` (a plugin, or ``peek``), its revision scripts,
    its namespace (``None``: the default schema) and the module whose ``metadata``
    autogenerate compares against."""

    name: str
    versions: Path
    schema: str | None
    models: str | None = None
    data_dir: Path | None = None


def platform_history() -> History:
    """The platform's own tables."""
    return History(PLATFORM, PLATFORM_VERSIONS, None, models.__name__)


def plugin_history(spec: PluginSpec, data_dir: Path | None = None) -> History | None:
    """Plugin ``spec``'s history, or ``None`` if it has no ``_private/alembic/versions``.

    ``data_dir`` is the plugin's data directory on the server, handed to data
    migrations (``peek.plugin.storage.migration_data_dir``).
    """
    if spec.package_dir is None:
        return None
    versions = spec.package_dir / PLUGIN_VERSIONS
    if not versions.is_dir():
        return None
    return History(
        spec.name,
        versions,
        check_namespace(spec.name),
        f"{spec.name}.{PLUGIN_MODELS}",
        data_dir,
    )


class Migrator:
    """Upgrade, downgrade, inspect and write revisions of histories on one database."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- reading ---------------------------------------------------------

    def script(self, history: History) -> ScriptDirectory:
        return ScriptDirectory.from_config(self._config(history))

    def heads(self, history: History) -> tuple[str, ...]:
        """The newest revisions of the scripts (one, in a well-kept history)."""
        return tuple(self.script(history).get_heads())

    def current(self, history: History) -> tuple[str, ...]:
        """The revisions the database is at (empty before the first upgrade)."""
        if self.storage.dialect == "sqlite":
            self.storage.prepare_files(() if history.schema is None else (history.schema,))
        with self.storage.engine(history.schema).connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table_schema": history.schema}
            )
            return tuple(context.get_current_heads())

    def history(self, history: History) -> list[Script]:
        """Every revision, newest first."""
        return list(self.script(history).walk_revisions())

    # -- writing ---------------------------------------------------------

    def ensure_namespace(self, name: str) -> None:
        """Make plugin ``name``'s namespace exist (schema and role, or file). Idempotent."""
        check_namespace(name)
        if self.storage.dialect == "sqlite":
            self.storage.prepare_files((name,))
            return
        with self.storage.engine().connect() as conn, conn.begin():
            _ensure_role(conn, name)
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{name}" AUTHORIZATION "{name}"'))

    def upgrade(self, history: History, revision: str = "head") -> None:
        """Apply revisions up to ``revision`` in one transaction; raises :class:`MigrationFailed`
        (after rolling back) if any fails."""
        self._run(history, revision, lambda cfg: command.upgrade(cfg, revision))

    def downgrade(self, history: History, revision: str) -> None:
        """Revert to ``revision`` (``base``: nothing) in one transaction; raises
        :class:`MigrationFailed`."""
        self._run(history, revision, lambda cfg: command.downgrade(cfg, revision))

    def revision(self, history: History, message: str, *, autogenerate: bool = True) -> Path:
        """Write a new revision script; with ``autogenerate``, the operations that take the
        database (which must be at head) to the history's models. Returns its path."""
        try:
            if autogenerate:
                self._prepare(history)
                with self.storage.engine(history.schema).connect() as conn, conn.begin():
                    self._enter(conn, history)
                    cfg = self._config(history, conn)
                    cfg.attributes[_AUTOGENERATE] = True
                    script = command.revision(cfg, message=message, autogenerate=True)
            else:
                script = command.revision(self._config(history), message=message)
        except ImportError as exc:
            raise RevisionFailed(
                history.name, f"cannot import its models {history.models}: {exc}"
            ) from exc
        except CommandError as exc:
            hint = ""
            if "not up to date" in str(exc):
                hint = f" (run 'peek db upgrade --plugin {history.name}' first)"
            raise RevisionFailed(history.name, f"{exc}{hint}") from exc
        assert isinstance(script, Script)
        return Path(script.path)

    # -- internals -------------------------------------------------------

    def _prepare(self, history: History) -> None:
        if history.schema is None:
            self.storage.prepare_files()
        else:
            self.ensure_namespace(history.schema)

    def _run(self, history: History, target: str, step: Any) -> None:
        self._prepare(history)
        try:
            with self.storage.engine(history.schema).connect() as conn:
                with conn.begin():
                    self._enter(conn, history)
                    step(self._config(history, conn))
                log.info(
                    "%s is at %s",
                    history.name,
                    ", ".join(self.current(history)) or "base",
                    extra={"plugin": history.name},
                )
        except MigrationFailed:
            raise
        except Exception as exc:  # isolation boundary: one history's revision scripts
            raise MigrationFailed(history.name, target, exc) from exc

    def _enter(self, conn: Connection, history: History) -> None:
        if history.schema is not None and self.storage.dialect == "postgresql":
            # The plugin's DDL runs as its role, so what it creates is its own.
            conn.execute(text("SELECT set_config('role', :role, true)"), {"role": history.schema})

    def _config(self, history: History, conn: Connection | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(ENV_DIR))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", str(history.versions))
        cfg.set_main_option("file_template", FILE_TEMPLATE)
        cfg.attributes[_HISTORY] = history
        cfg.attributes[MIGRATION_DATA_DIR] = history.data_dir
        if conn is not None:
            cfg.attributes["connection"] = conn
        return cfg


def _ensure_role(conn: Connection, role: str) -> None:
    # Roles belong to the whole PostgreSQL cluster, so another installation or
    # a concurrent test may create the same one at the same moment.
    conn.execute(
        text(
            f"""DO $$ BEGIN
                CREATE ROLE "{role}" NOLOGIN;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$"""
        )
    )
    # The platform's login switches to it (implicit for a superuser; needed since PG 16).
    conn.execute(text(f'GRANT "{role}" TO CURRENT_USER'))


def run_environment() -> None:
    """The body of the platform's ``env.py``: run the history Alembic was configured with."""
    from alembic import context

    cfg = context.config
    history: History = cfg.attributes[_HISTORY]
    conn: Connection | None = cfg.attributes.get("connection")
    if conn is None:
        raise RuntimeError("Peek runs migrations through peek.storage.migrate.Migrator only")
    sqlite = conn.dialect.name == "sqlite"
    options: dict[str, Any] = {}
    if history.schema is not None:
        schema = history.schema
        options["include_schemas"] = True
        options["include_name"] = lambda name, type_, _parents: type_ != "schema" or name == schema
    context.configure(
        connection=conn,
        target_metadata=_metadata(history, cfg),
        version_table_schema=history.schema,
        # SQLite cannot ALTER most things: recreate the table instead.
        render_as_batch=sqlite,
        # Peek begins the transaction itself (and SQLite's DDL is transactional
        # once the sqlite3 module stops committing around it).
        transactional_ddl=True,
        compare_type=True,
        **options,
    )
    with context.begin_transaction():
        context.run_migrations()


def _metadata(history: History, cfg: Config) -> MetaData | None:
    # Only autogenerate needs the models; upgrades must not depend on importing them.
    if history.models is None or not cfg.attributes.get(_AUTOGENERATE):
        return None
    module = importlib.import_module(history.models)
    metadata: MetaData = module.metadata
    return metadata


def migrate_installation(
    storage: Storage,
    specs: Iterable[PluginSpec],
    data_root: Path,
) -> dict[str, MigrationFailed]:
    """Blocking: bring the platform and every plugin in ``specs`` (providers first) to head.

    Raises :class:`MigrationFailed` if the platform's own history fails.
    Returns the plugins whose history failed (rolled back); the others are
    migrated regardless. Every plugin gets its namespace, with or without a history.
    """
    migrator = Migrator(storage)
    storage.resolve_credentials()
    migrator.upgrade(platform_history())
    failed: dict[str, MigrationFailed] = {}
    for spec in specs:
        try:
            migrator.ensure_namespace(spec.name)
            history = plugin_history(spec, data_root / spec.name)
            if history is None:
                continue
            migrator.upgrade(history)
            _record(storage, spec.name, migrator.current(history))
        except MigrationFailed as exc:
            log.error("%s", exc, exc_info=exc.cause, extra={"plugin": spec.name})
            failed[spec.name] = exc
        except Exception as exc:  # isolation boundary: one plugin's namespace
            error = MigrationFailed(spec.name, "head", exc)
            log.error("%s", error, exc_info=exc, extra={"plugin": spec.name})
            failed[spec.name] = error
    return failed


def _record(storage: Storage, name: str, revisions: Sequence[str]) -> None:
    table = models.plugin_namespace
    with storage.engine().begin() as conn:
        conn.execute(delete(table).where(table.c.name == name))
        conn.execute(
            insert(table).values(
                name=name, revision=",".join(revisions) or None, upgraded_at=datetime.now(UTC)
            )
        )


def namespaces(storage: Storage) -> Mapping[str, str | None]:
    """Blocking: every plugin namespace the server migrated, and its revision."""
    table = models.plugin_namespace
    with storage.engine().connect() as conn:
        return {row.name: row.revision for row in conn.execute(table.select())}
