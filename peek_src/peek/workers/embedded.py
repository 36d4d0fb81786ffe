"""The embedded broker and result store: kombu's SQLAlchemy transport and Celery's
database result backend on SQLite files, tuned.

``peek run`` needs a broker without a server process. kombu ships two:
its SQLAlchemy transport and its filesystem transport. Both poll. The
filesystem transport can hand a consumer a message file before the producer
has written it (kombu issue 1551: the consumer fails, the message is lost),
and it lists and sorts the whole folder for every message it takes. The
SQLAlchemy transport takes messages inside ``BEGIN IMMEDIATE`` transactions,
so no two consumers get one message; this module keeps it and changes what
measurement showed to matter (bench/workers.py, tests/workers):

- ``polling_interval`` in ``broker_transport_options`` reaches the
  transport again: kombu hands every transport option to
  ``create_engine``, which refuses it, so the 1 s default poll could not be
  lowered.
- SQLite runs in WAL mode with ``synchronous=NORMAL``: a publish is an
  append, not an fsync of the database, and readers never wait for a writer.
- An empty queue costs one plain read, not a write lock: idle workers
  polling every few milliseconds do not queue up behind publishers.
- It polls every few milliseconds while messages come and every 20 ms
  after a quiet second, so that an idle worker costs ~1 % of a core.
- A delivered message stays in the table, taken (``visible = 0``) under a
  lease: ``version`` holds the taking channel's random lease token and
  ``timestamp`` the lease's deadline (Unix time). The taker renews its leases
  while it lives (every third of ``visibility_timeout``) and deletes the
  message when it is acknowledged. A worker killed outright (``kill -9``, the
  OOM killer) renews nothing: once its leases run out, any consumer puts its
  messages back in their queue, marked redelivered, as RabbitMQ does when
  the connection drops. Celery acknowledges a task that is not acks-late
  (not idempotent, see :mod:`peek.workers.app`) when it starts, so only
  idempotent tasks, and tasks not yet started, run again. As with the stock
  transport, unacknowledged messages go back at once when the consumer
  closes its channel.

Select it with ``broker_transport = "peek.workers.embedded:Transport"`` and
``broker_url = "sqlite:///PATH"`` (what :func:`peek.workers.app.make_celery`
does when ``[worker] broker_url`` is unset).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from json import dumps, loads
from queue import Empty
from typing import Any

from celery.backends.database import DatabaseBackend
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport import virtual as kombu_virtual
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Channel", "QoS", "ResultBackend", "Transport", "tune_sqlite_engine"]

# Seconds a SQLite connection waits for another writer before failing.
BUSY_TIMEOUT_MS = 30_000

# Seconds a worker's wait for messages lasts before it checks for shutdown.
DRAIN_SLICE = 0.1
# Seconds without a message after which a worker polls every IDLE_POLL_INTERVAL.
IDLE_AFTER = 1.0
IDLE_POLL_INTERVAL = 0.02
# Seconds a taken message stays with a taker that stopped renewing its lease
# (``visibility_timeout`` in the transport options overrides it).
DEFAULT_LEASE = 30.0
# Seconds between looks for expired leases by one consumer, at most.
SWEEP_INTERVAL = 1.0
# Where a delivered message carries its row id, in its properties.
ROW_KEY = "peek_broker_row"

# Transport options that are kombu's or Celery's, never create_engine's.
_NOT_ENGINE_OPTIONS = frozenset(
    {
        "queue_tablename",
        "message_tablename",
        "callback",
        "errback",
        "max_retries",
        "interval_start",
        "interval_step",
        "interval_max",
        "retry_errors",
        "polling_interval",
        "visibility_timeout",
        "confirm_publish",
    }
)


def tune_sqlite_engine(engine: Engine) -> None:
    """Put every new SQLite connection of ``engine`` in WAL mode with a busy timeout.

    Does nothing for other databases.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL loses nothing on a process crash, only on a
            # power cut, and spares an fsync per message.
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()


class QoS(kombu_virtual.QoS):
    """Deletes a message from the table when it is acknowledged or dropped."""

    channel: Channel

    def ack(self, delivery_tag: Any) -> None:
        message = self._delivered.get(delivery_tag)
        try:
            if message is not None:
                self.channel._delete_taken(message)
        finally:
            super().ack(delivery_tag)  # type: ignore[no-untyped-call]

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        message = self._delivered.get(delivery_tag)
        if message is not None and not requeue:
            self.channel._delete_taken(message)
        # A requeue goes through Channel._restore.
        super().reject(delivery_tag, requeue)  # type: ignore[no-untyped-call]


class Channel(kombu_sqla.Channel):
    """kombu's SQLAlchemy channel, tuned for SQLite (see the module docstring)."""

    QoS = QoS

    # kombu caches engines on the class; keep this transport's apart from the
    # stock one's, which are made with other options.
    _engines: dict[str, Any] = {}

    def __init__(self, connection: Any, **kwargs: Any) -> None:
        self._queue_ids: dict[str, int] = {}
        # Never 1, kombu's value for a message nobody holds.
        self._lease_token = secrets.randbits(62) | 2
        options = connection.client.transport_options
        self._lease = float(options.get("visibility_timeout") or DEFAULT_LEASE)
        self._next_sweep = 0.0
        self._next_renewal = 0.0
        # Celery acknowledges from its pool's result thread too: one thread at
        # a time on this channel's connection, so that no statement lands in
        # another thread's transaction or beside its half-read query.
        self._db_lock = threading.RLock()
        super().__init__(connection, **kwargs)  # type: ignore[no-untyped-call]

    def _engine_from_config(self) -> Engine:
        conninfo = self.connection.client
        options = {
            key: value
            for key, value in conninfo.transport_options.items()
            if key not in _NOT_ENGINE_OPTIONS
        }
        engine = create_engine(conninfo.hostname, **options)
        tune_sqlite_engine(engine)
        return engine

    def _queue_id(self, queue: str) -> int:
        qid = self._queue_ids.get(queue)
        if qid is None:
            qid = int(self._get_or_create(queue).id)  # type: ignore[no-untyped-call]
            self._queue_ids[queue] = qid
        return qid

    @property
    def _db(self) -> Any:
        """This channel's own SQLite connection, used through the DB-API: a
        message costs a few statements, and SQLAlchemy's session would cost
        more than SQLite does."""
        raw = self.__dict__.get("_raw_connection")
        if raw is None:
            engine, _ = self._open()  # type: ignore[no-untyped-call]
            raw = engine.raw_connection()
            # Transactions begin where this code says BEGIN, nowhere else.
            raw.driver_connection.isolation_level = None
            self.__dict__["_raw_connection"] = raw
        return raw.driver_connection

    def close(self) -> None:
        super().close()  # type: ignore[no-untyped-call]
        raw = self.__dict__.pop("_raw_connection", None)
        if raw is not None:
            raw.close()

    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        with self._db_lock:
            qid = self._queue_id(queue)
            payload["properties"].pop(ROW_KEY, None)
            self._db.execute(
                f"INSERT INTO {self.message_tablename} (visible, payload, version, queue_id) "
                "VALUES (1, ?, 1, ?)",
                (dumps(payload), qid),
            )

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        with self._db_lock:
            qid = self._queue_id(queue)
            db = self._db
            table = self.message_tablename
            now = time.time()
            if now >= self._next_sweep:
                self._return_expired(now)
            # A plain read first: an empty queue costs no write lock.
            if (
                db.execute(
                    f"SELECT 1 FROM {table} WHERE queue_id = ? AND visible = 1 LIMIT 1", (qid,)
                ).fetchone()
                is None
            ):
                raise Empty()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    f"SELECT id, payload FROM {table} WHERE queue_id = ? AND visible = 1 "
                    "ORDER BY id LIMIT 1",
                    (qid,),
                ).fetchone()
                if row is None:
                    # Another consumer took it between the read and the lock.
                    raise Empty()
                db.execute(
                    f"UPDATE {table} SET visible = 0, version = ?, timestamp = ? WHERE id = ?",
                    (self._lease_token, now + self._lease, row[0]),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            payload = row[1]
            message = loads(payload.decode() if isinstance(payload, bytes) else payload)
            message["properties"][ROW_KEY] = row[0]
            return message

    def _return_expired(self, now: float) -> None:
        """Put messages whose taker's lease ran out back in their queues."""
        with self._db_lock:
            self._next_sweep = now + min(SWEEP_INTERVAL, self._lease / 4)
            db = self._db
            table = self.message_tablename
            # A plain read first, as above: no write lock while no lease expired.
            if (
                db.execute(
                    f"SELECT 1 FROM {table} WHERE visible = 0 AND timestamp < ? LIMIT 1", (now,)
                ).fetchone()
                is None
            ):
                return
            db.execute(
                f"UPDATE {table} SET visible = 1, version = 1, timestamp = NULL, "
                "payload = json_set(payload, '$.redelivered', json('true')) "
                "WHERE visible = 0 AND timestamp < ?",
                (now,),
            )

    def renew_leases(self, now: float) -> None:
        """Extend the leases of the messages this channel holds, when due."""
        with self._db_lock:
            if now < self._next_renewal or not self.qos._delivered:
                return
            self._next_renewal = now + self._lease / 3
            self._db.execute(
                f"UPDATE {self.message_tablename} SET timestamp = ? "
                "WHERE visible = 0 AND version = ?",
                (now + self._lease, self._lease_token),
            )

    def _delete_taken(self, message: Any) -> None:
        with self._db_lock:
            row = message.properties.get(ROW_KEY)
            if row is not None:
                self._db.execute(
                    f"DELETE FROM {self.message_tablename} WHERE id = ? AND version = ?",
                    (row, self._lease_token),
                )

    def _restore(self, message: Any) -> None:
        """Put an unacknowledged message back in its queue, marked redelivered."""
        with self._db_lock:
            row = message.properties.pop(ROW_KEY, None)
            if row is None:
                super()._restore(message)  # type: ignore[no-untyped-call]
                return
            payload = message.serializable()
            payload["redelivered"] = True
            self._db.execute(
                f"UPDATE {self.message_tablename} SET visible = 1, version = 1, "
                "timestamp = NULL, payload = ? WHERE id = ? AND version = ?",
                (dumps(payload), row, self._lease_token),
            )

    def _size(self, queue: str) -> int:
        with self._db_lock:
            qid = self._queue_id(queue)
            (count,) = self._db.execute(
                f"SELECT count(*) FROM {self.message_tablename} WHERE queue_id = ? AND visible = 1",
                (qid,),
            ).fetchone()
            return int(count)


class ResultBackend(DatabaseBackend):  # type: ignore[misc]
    """Celery's database result backend, keeping one engine per process.

    Celery's own keeps an engine only in processes it saw fork; a pool
    process that makes its backend after the fork (as every pool process
    does) opens a new engine and connection for every result it stores,
    which cost ~5 ms a task on SQLite. Also puts SQLite in WAL mode.
    """

    # Set before Celery's __init__, which already opens a session.
    _pid: int | None = None
    _sessions: sessionmaker[Session] | None = None

    def ResultSession(self, session_manager: Any = None) -> Session:
        if self._sessions is None or self._pid != os.getpid():
            engine = create_engine(self.url, **self.engine_options)
            tune_sqlite_engine(engine)
            self.session_manager.prepare_models(engine)
            self._sessions = sessionmaker(bind=engine)
            self._pid = os.getpid()
        return self._sessions()


class Transport(kombu_sqla.Transport):
    """The embedded broker's kombu transport."""

    Channel = Channel

    _busy_interval: float | None = None
    _last_delivery = 0.0

    def drain_events(self, connection: Any, timeout: Any = None) -> Any:  # type: ignore[override]
        # Poll at the configured interval while messages come, and more
        # slowly after a second without any: an idle worker polling every
        # 2 ms costs ~11 % of a core, every 20 ms ~1 %. The first task after
        # a quiet second waits ~10 ms more.
        if self._busy_interval is None:
            self._busy_interval = self.polling_interval
        idle = time.monotonic() - self._last_delivery > IDLE_AFTER
        busy = self._busy_interval or 0.0
        self.polling_interval = max(busy, IDLE_POLL_INTERVAL) if idle else busy
        # Celery's loop for polling transports waits up to 2 s here before it
        # looks at its shutdown flag; return sooner so that a worker stops in
        # a fraction of a second.
        timeout = DRAIN_SLICE if timeout is None else min(timeout, DRAIN_SLICE)
        now = time.time()
        for channel in self.channels:
            channel.renew_leases(now)
        result = super().drain_events(connection, timeout=timeout)  # type: ignore[no-untyped-call]
        self._last_delivery = time.monotonic()
        return result
