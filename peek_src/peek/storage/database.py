"""The installation's one database, and each plugin's namespace in it.

The same code runs on PostgreSQL (asyncpg in the event loop, psycopg 3 for
blocking work and migrations) and on SQLite (aiosqlite / sqlite3):

- PostgreSQL: one pool per process (async and sync). A plugin's namespace is
  the schema named after it, owned by a role of the same name (``NOLOGIN``).
  A plugin's sessions run as that role (asyncpg: ``SET ROLE`` when a pooled
  connection passes to another plugin; psycopg: ``SET LOCAL ROLE`` per
  transaction), so a query on another plugin's tables fails with
  "permission denied". The platform's login can switch roles, so this keeps
  plugins apart, not out: plugin code that runs ``RESET ROLE`` itself gets
  the platform's rights back.
- SQLite: the platform's tables are in ``<data_dir>/server/database/peek.sqlite``
  (or the file the URL names); each plugin's namespace is a file beside it,
  attached under the plugin's name on every connection of that plugin's own
  pool. Another plugin's tables are not attached, so they do not exist for it.
  A SQLite connection attaches at most 10 files, which is why every plugin
  gets its own small pool rather than one pool attaching them all.

Every pool pings a connection before handing it out, so a database that went
away and came back is used again without a restart; while it is away,
sessions raise SQLAlchemy's ``OperationalError`` (or the driver's ``OSError``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from peek.config import PeekConfig
from peek.storage.errors import InvalidNamespace, UnsupportedDatabase

__all__ = [
    "DatabaseSettings",
    "Dialect",
    "NamespaceStorage",
    "Storage",
    "check_namespace",
]

log = logging.getLogger(__name__)

Dialect = Literal["postgresql", "sqlite"]

DATABASE_DIR = "database"
SQLITE_MAIN = "peek.sqlite"
SQLITE_FILE_MODE = 0o600
# Schema, role and file names: what PostgreSQL allows unquoted, within its 63 bytes.
_NAMESPACE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Session.info key holding the role a plugin's PostgreSQL transactions run as.
ROLE_KEY = "peek.role"
# One statement (no extra round trip for a second SET); reverts at transaction end.
_SET_LOCAL_ROLE = text("SELECT set_config('role', :role, true)")


def check_namespace(name: str) -> str:
    """``name`` if it can be a schema, role and file name; raises :class:`InvalidNamespace`."""
    if not _NAMESPACE_RE.fullmatch(name):
        raise InvalidNamespace(name)
    return name


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the database is and how big its pools are (from ``[server]``)."""

    sync_url: URL
    async_url: URL
    dialect: Dialect
    pool_size: int = 5
    max_overflow: int = 10
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: PeekConfig) -> DatabaseSettings:
        server = config.server
        url = server.database_url or (
            f"sqlite:///{config.data_dir / 'server' / DATABASE_DIR / SQLITE_MAIN}"
        )
        return cls.from_url(
            url,
            pool_size=server.database_pool_size,
            max_overflow=server.database_max_overflow,
            timeout=server.database_timeout,
        )

    @classmethod
    def from_url(cls, url: str, **pool: Any) -> DatabaseSettings:
        """Settings for ``url``: any driver of PostgreSQL or SQLite; raises
        :class:`UnsupportedDatabase`."""
        try:
            parsed = make_url(url)
        except Exception as exc:  # SQLAlchemy raises ArgumentError and ValueError alike
            raise UnsupportedDatabase(url, f"not a database URL ({exc})") from None
        backend = parsed.get_backend_name()
        if backend == "postgresql":
            return cls(
                parsed.set(drivername="postgresql+psycopg"),
                parsed.set(drivername="postgresql+asyncpg"),
                "postgresql",
                **pool,
            )
        if backend == "sqlite":
            if not parsed.database or parsed.database == ":memory:":
                raise UnsupportedDatabase(url, "SQLite needs a file (sqlite:////path/peek.sqlite)")
            return cls(
                parsed.set(drivername="sqlite+pysqlite"),
                parsed.set(drivername="sqlite+aiosqlite"),
                "sqlite",
                **pool,
            )
        raise UnsupportedDatabase(url, f"{backend} is not supported (use postgresql or sqlite)")

    @property
    def sqlite_main(self) -> Path:
        """The platform's SQLite file (SQLite only)."""
        assert self.sync_url.database is not None
        return Path(self.sync_url.database)

    def sqlite_namespace_file(self, name: str) -> Path:
        """The file holding namespace ``name`` (SQLite only): ``peek.<name>.sqlite`` beside
        ``peek.sqlite``."""
        main = self.sqlite_main
        return main.with_name(f"{main.stem}.{check_namespace(name)}{main.suffix or '.sqlite'}")


class NamespaceStorage:
    """One plugin's namespace: what ``ctx.storage`` returns (a ``PluginStorage``)."""

    def __init__(
        self,
        schema: str,
        async_factory: async_sessionmaker[AsyncSession],
        sync_factory: sessionmaker[Session],
    ) -> None:
        self._schema = schema
        self._async_factory = async_factory
        self._sync_factory = sync_factory

    @property
    def schema(self) -> str:
        return self._schema

    def session(self) -> AsyncSession:
        """A new ``AsyncSession`` on this namespace. Must be used in the event loop."""
        return self._async_factory()

    def sync_session(self) -> Session:
        """A new blocking ``Session`` on this namespace (worker tasks, executors)."""
        return self._sync_factory()


class _NamespaceSession(Session):
    """A session whose PostgreSQL transactions run as the namespace's role."""


@event.listens_for(_NamespaceSession, "after_begin")
def _enter_role(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    role = session.info.get(ROLE_KEY)
    if role is None:
        return
    pooled = connection.connection
    if connection.dialect.driver != "asyncpg":
        connection.execute(_SET_LOCAL_ROLE, {"role": role})
        return
    # asyncpg opens the transaction at the first statement, so this SET runs
    # before it and lasts for the connection: it is sent again only when the
    # pooled connection last served another plugin (or is new), not once per
    # transaction. The role is remembered with the connection and forgotten
    # with it when the pool replaces it.
    if pooled.info.get(ROLE_KEY) != role:
        statement = f'SET ROLE "{check_namespace(role)}"'
        pooled.dbapi_connection.run_async(lambda driver: driver.execute(statement))  # type: ignore[union-attr]
        pooled.info[ROLE_KEY] = role


class Storage:
    """The database of one process: pools, and each plugin's namespace.

    Implements ``peek.plugin.storage.StorageProvider``. Creating it opens
    nothing; engines are made on first use and closed by :meth:`close`.
    Build it with :meth:`from_config`.
    """

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._sync: dict[str | None, Engine] = {}
        self._async: dict[str | None, AsyncEngine] = {}
        self._namespaces: dict[str, NamespaceStorage] = {}
        # What libpq settled on (a password from ~/.pgpass, TLS or not), handed
        # to asyncpg so that it does not read files on the event loop to decide.
        self._async_connect: dict[str, Any] = {}

    @classmethod
    def from_config(cls, config: PeekConfig) -> Storage:
        return cls(DatabaseSettings.from_config(config))

    @property
    def dialect(self) -> Dialect:
        return self.settings.dialect

    # -- what plugins get ------------------------------------------------

    def for_plugin(self, name: str) -> NamespaceStorage:
        """Plugin ``name``'s namespace (the same object on every call)."""
        with self._lock:
            found = self._namespaces.get(name)
        if found is not None:
            return found
        check_namespace(name)
        info = {ROLE_KEY: name} if self.dialect == "postgresql" else {}
        ns_key = name if self.dialect == "sqlite" else None
        namespace = NamespaceStorage(
            name,
            async_sessionmaker(
                self.async_engine(ns_key),
                sync_session_class=_NamespaceSession,
                expire_on_commit=False,
                info=info,
            ),
            sessionmaker(
                self.engine(ns_key), class_=_NamespaceSession, expire_on_commit=False, info=info
            ),
        )
        with self._lock:
            return self._namespaces.setdefault(name, namespace)

    # -- engines ---------------------------------------------------------

    def engine(self, namespace: str | None = None) -> Engine:
        """The blocking engine for the platform (``None``) or, on SQLite, a namespace.

        On PostgreSQL every namespace shares the platform's engine.
        """
        key = namespace if self.dialect == "sqlite" else None
        with self._lock:
            engine = self._sync.get(key)
            if engine is None:
                engine = self._sync[key] = self._make_sync(key)
            return engine

    def async_engine(self, namespace: str | None = None) -> AsyncEngine:
        """The asyncio engine for the platform (``None``) or, on SQLite, a namespace.

        On PostgreSQL its connections keep the role of the plugin that used them
        last: use it only through :meth:`for_plugin` sessions.
        """
        key = namespace if self.dialect == "sqlite" else None
        with self._lock:
            engine = self._async.get(key)
            if engine is None:
                engine = self._async[key] = self._make_async(key)
            return engine

    def _pool_args(self) -> dict[str, Any]:
        s = self.settings
        return {
            "pool_size": s.pool_size,
            "max_overflow": s.max_overflow,
            "pool_timeout": s.timeout,
            # A server can go away and come back; a SQLite file cannot.
            "pool_pre_ping": s.dialect == "postgresql",
        }

    def _make_sync(self, namespace: str | None) -> Engine:
        s = self.settings
        if s.dialect == "postgresql":
            return create_engine(
                s.sync_url,
                connect_args={"connect_timeout": max(1, round(s.timeout))},
                **self._pool_args(),
            )
        engine = create_engine(
            self._sqlite_url(s.sync_url, namespace),
            poolclass=QueuePool,
            connect_args={"check_same_thread": False, "timeout": s.timeout},
            **self._pool_args(),
        )
        self._sqlite_events(engine, namespace)
        return engine

    def _make_async(self, namespace: str | None) -> AsyncEngine:
        s = self.settings
        if s.dialect == "postgresql":
            connect_args: dict[str, Any] = {"timeout": s.timeout, **self._async_connect}
            return _create_async_engine(s.async_url, connect_args=connect_args, **self._pool_args())
        engine = _create_async_engine(
            self._sqlite_url(s.async_url, namespace),
            poolclass=AsyncAdaptedQueuePool,
            connect_args={"timeout": s.timeout},
            **self._pool_args(),
        )
        # Plugin sessions in the loop only: the sqlite3 module's own transactions
        # suffice for them and save a thread hop per transaction.
        self._sqlite_events(engine.sync_engine, namespace, transactional_ddl=False)
        return engine

    def _sqlite_url(self, url: URL, namespace: str | None) -> URL:
        # A namespace's connections have an empty in-memory main database and
        # the namespace's file attached: nothing else is reachable from them.
        return url if namespace is None else url.set(database=":memory:")

    def _sqlite_events(
        self, engine: Engine, namespace: str | None, *, transactional_ddl: bool = True
    ) -> None:
        attach = (
            None
            if namespace is None
            else (str(self.settings.sqlite_namespace_file(namespace)), namespace)
        )

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            if transactional_ddl:
                # Let SQLAlchemy, not the sqlite3 module, decide where transactions
                # begin: the module would commit before DDL, and migrations must
                # be one transaction.
                dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                db = "main"
                if attach is not None:
                    cursor.execute("ATTACH DATABASE ? AS " + _quote(attach[1]), (attach[0],))
                    db = _quote(attach[1])
                # Server and workers share the file: readers do not block the writer.
                cursor.execute(f"PRAGMA {db}.journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        if transactional_ddl:

            @event.listens_for(engine, "begin")
            def _begin(conn: Connection) -> None:
                # IMMEDIATE: take the write lock first (waiting up to the timeout).
                # A deferred transaction that reads, and then writes after another
                # connection wrote in between, fails at once with "database is
                # locked" under WAL (its snapshot is stale), whatever the timeout.
                # Readers are not blocked; only writers wait for each other.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    # -- set-up and tear-down ---------------------------------------------

    def prepare_files(self, namespaces: tuple[str, ...] = ()) -> None:
        """Blocking: on SQLite make the directory and the files (mode 0600) the database
        and ``namespaces`` live in; nothing on PostgreSQL."""
        if self.dialect != "sqlite":
            return
        main = self.settings.sqlite_main
        main.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        for path in (main, *(self.settings.sqlite_namespace_file(n) for n in namespaces)):
            # Created here, not by SQLite, so that they are private from the start.
            fd = os.open(path, os.O_CREAT | os.O_RDWR, SQLITE_FILE_MODE)
            os.close(fd)

    def resolve_credentials(self) -> None:
        """Blocking: on PostgreSQL, connect once through libpq (psycopg) and hand asyncpg
        what libpq settled on: the password (from ``~/.pgpass``, say) when the URL has
        none, and TLS or not when the URL does not say. Otherwise asyncpg reads
        those files on the event loop at every new connection. Call it before the
        first async session."""
        if self.dialect != "postgresql":
            return
        url = self.settings.async_url
        with self.engine().connect() as conn:
            info = conn.connection.dbapi_connection.info  # type: ignore[union-attr]
            password, tls = info.password, bool(info.pgconn.ssl_in_use)
        found: dict[str, Any] = {}
        if url.password is None:
            # A connect argument: SQLAlchemy leaves an empty URL password out, and
            # an empty one (trust, peer) still stops asyncpg looking for a file.
            found["password"] = password or ""
        if not {"ssl", "sslmode"} & set(url.query):
            # libpq's "prefer": encrypted if the server offers it, not verified.
            found["ssl"] = _unverified_tls() if tls else False
        with self._lock:
            self._async_connect = found

    def close_blocking(self) -> None:
        """Blocking: close every blocking pool."""
        with self._lock:
            engines = list(self._sync.values())
            self._sync.clear()
        for engine in engines:
            engine.dispose()

    async def close(self) -> None:
        """Close every pool. Must run in the event loop."""
        with self._lock:
            engines = list(self._async.values())
            self._async.clear()
            self._namespaces.clear()
        for engine in engines:
            await engine.dispose()
        await asyncio.get_running_loop().run_in_executor(None, self.close_blocking)


def _unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _quote(name: str) -> str:
    return '"' + check_namespace(name) + '"'
