"""Queueing tasks from asyncio and awaiting their results without blocking the loop.

:class:`TaskClient` is what server-side plugin code gets as
``ctx.resources.tasks`` (it implements :class:`peek.plugin.TaskCalls`).

- Publishing goes through one thread: kombu's producers block on I/O and are
  not made to be shared between threads; one thread keeps publishes in order
  and the loop free.
- Results are read by one collector thread for every waiting caller: a batch
  read of all pending ids (``MGET`` on Redis, one ``SELECT ... IN`` on a
  database backend), repeated quickly while results arrive and more slowly
  while none do, and not at all while nobody waits. A thread per waiting
  caller (``AsyncResult.get`` in an executor) would run out of threads under
  load, and Celery's own Redis subscription is not safe to share across
  threads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Celery, states
from celery.backends.base import BaseKeyValueStoreBackend
from celery.backends.database import DatabaseBackend
from celery.exceptions import TimeLimitExceeded
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from peek.plugin.tasks import (
    DEFAULT_TASK_TIMEOUT,
    TaskCrashed,
    TaskFailed,
    TaskTimeout,
)
from peek.workers.app import plugin_of
from peek.workers.embedded import tune_sqlite_engine

__all__ = ["MAX_POLL_INTERVAL", "MIN_POLL_INTERVAL", "ResultReader", "TaskClient"]

log = logging.getLogger(__name__)

# Seconds between result reads while results keep arriving, and the most it
# backs off to while none do.
MIN_POLL_INTERVAL = 0.002
MAX_POLL_INTERVAL = 0.05
# Ids per batch read: keeps one SQL statement or MGET bounded.
READ_BATCH = 500
# Processes lost under a task, or killed at its time limit.
CRASH_TYPES = (WorkerLostError, TimeLimitExceeded)

Meta = dict[str, Any]


class ResultReader:
    """Reads the finished results of many task ids at once from a Celery result backend.

    Blocking; used by one thread at a time.
    """

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._engine: Engine | None = None

    @property
    def backend(self) -> Any:
        # Made on first use, in the reading thread: Celery's backends do
        # blocking I/O when they are made.
        return self.app.backend

    def read(self, task_ids: Sequence[str]) -> dict[str, Meta]:
        """The decoded meta of each id whose task is done (success or failure)."""
        found: dict[str, Meta] = {}
        for start in range(0, len(task_ids), READ_BATCH):
            batch = task_ids[start : start + READ_BATCH]
            if isinstance(self.backend, BaseKeyValueStoreBackend):
                found.update(self._read_key_value(batch))
            elif isinstance(self.backend, DatabaseBackend):
                found.update(self._read_database(batch))
            else:
                for task_id in batch:
                    meta = self.backend.get_task_meta(task_id)
                    if meta.get("status") in states.READY_STATES:
                        found[task_id] = meta
        return found

    def _read_key_value(self, task_ids: Sequence[str]) -> dict[str, Meta]:
        backend = self.backend
        values = backend.mget([backend.get_key_for_task(t) for t in task_ids])
        found = {}
        for task_id, value in zip(task_ids, values, strict=True):
            if value is None:
                continue
            meta = backend.decode_result(value)
            if meta.get("status") in states.READY_STATES:
                found[task_id] = meta
        return found

    def _read_database(self, task_ids: Sequence[str]) -> dict[str, Meta]:
        # Celery's DatabaseBackend makes a new engine per query outside its
        # worker processes; read its table through one engine instead.
        if self._engine is None:
            self._engine = create_engine(
                self.backend.url, **dict(self.backend.engine_options or {})
            )
            tune_sqlite_engine(self._engine)
            self.backend.ResultSession().close()  # creates the tables if missing
        table = self.backend.task_cls.__table__
        query = select(table.c.task_id, table.c.status, table.c.result, table.c.traceback).where(
            table.c.task_id.in_(list(task_ids)), table.c.status.in_(list(states.READY_STATES))
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        # How the backend decodes its own column (private in Celery 5.5 to
        # 5.7); without it, the public per-task read, slower but right.
        decode = getattr(self.backend, "_decode_stored_result", None)
        found = {}
        for row in rows:
            if decode is None:
                found[row.task_id] = self.backend.get_task_meta(row.task_id)
                continue
            found[row.task_id] = self.backend.meta_from_decoded(
                {
                    "task_id": row.task_id,
                    "status": row.status,
                    "result": decode(row.result),
                    "traceback": row.traceback,
                }
            )
        return found

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


class TaskClient:
    """Queue Peek tasks on ``app`` and await their results from asyncio.

    Create it anywhere; it connects on first use. :meth:`close` (a coroutine)
    ends its threads. ``poll_interval`` bounds how often the result backend
    is read while results keep arriving.
    """

    def __init__(
        self,
        app: Celery,
        *,
        poll_interval: float = MIN_POLL_INTERVAL,
        max_poll_interval: float = MAX_POLL_INTERVAL,
    ) -> None:
        self.app = app
        self._min_interval = poll_interval
        self._max_interval = max(max_poll_interval, poll_interval)
        self._publisher = ThreadPoolExecutor(1, thread_name_prefix="peek-task-publish")
        self._reader = ResultReader(app)
        self._lock = threading.Lock()
        self._pending: dict[str, list[Callable[[Meta], None]]] = {}
        self._wake = threading.Event()
        self._closed = False
        self._collector: threading.Thread | None = None

    # -- TaskCalls -------------------------------------------------------

    async def call(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout: float = DEFAULT_TASK_TIMEOUT,  # noqa: ASYNC109 (a deadline, passed on)
    ) -> Any:
        """Queue task ``name`` and return its result (see :class:`peek.plugin.TaskCalls`)."""
        task_id = await self.submit(name, args, kwargs)
        return await self.result(name, task_id, timeout=timeout)

    async def submit(
        self, name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> str:
        """Queue task ``name``; its id. Raises ``TaskDefinitionError`` for a bad name."""
        plugin_of(name)
        if self._closed:
            raise RuntimeError("the task client is closed")
        task_id = str(uuid.uuid4())
        send = partial(
            self.app.send_task, name, args=list(args), kwargs=dict(kwargs or {}), task_id=task_id
        )
        await asyncio.get_running_loop().run_in_executor(self._publisher, send)
        return task_id

    async def result(
        self,
        name: str,
        task_id: str,
        *,
        timeout: float = DEFAULT_TASK_TIMEOUT,  # noqa: ASYNC109 (a deadline, passed on)
    ) -> Any:
        """Await the result of ``task_id``; raises ``TaskFailed``, ``TaskCrashed``
        or ``TaskTimeout``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Meta] = loop.create_future()

        def deliver(meta: Meta) -> None:
            loop.call_soon_threadsafe(_set_result, future, meta)

        self._add_waiter(task_id, deliver)
        try:
            meta = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TaskTimeout(name, task_id, timeout) from None
        finally:
            self._remove_waiter(task_id, deliver)
        return _outcome(name, task_id, meta)

    async def close(self) -> None:
        """Stop the threads; waiting callers are left to their timeouts."""
        self._closed = True
        self._wake.set()
        collector = self._collector
        loop = asyncio.get_running_loop()
        if collector is not None:
            await loop.run_in_executor(None, collector.join)
        await loop.run_in_executor(None, self._shutdown_blocking)

    def _shutdown_blocking(self) -> None:
        self._publisher.shutdown(wait=True)
        self._reader.close()
        # The producer pool holds broker connections.
        self.app.close()

    # -- collector -------------------------------------------------------

    def _add_waiter(self, task_id: str, deliver: Callable[[Meta], None]) -> None:
        with self._lock:
            self._pending.setdefault(task_id, []).append(deliver)
            if self._collector is None:
                self._collector = threading.Thread(
                    target=self._collect, name="peek-task-results", daemon=True
                )
                self._collector.start()
        self._wake.set()

    def _remove_waiter(self, task_id: str, deliver: Callable[[Meta], None]) -> None:
        with self._lock:
            waiters = self._pending.get(task_id)
            if waiters and deliver in waiters:
                waiters.remove(deliver)
                if not waiters:
                    del self._pending[task_id]

    def _collect(self) -> None:
        interval = self._min_interval
        while not self._closed:
            with self._lock:
                task_ids = list(self._pending)
            if not task_ids:
                self._wake.wait()
                self._wake.clear()
                interval = self._min_interval
                continue
            started = time.monotonic()
            try:
                found = self._reader.read(task_ids)
            except Exception:  # isolation boundary: the backend may be down for a while
                log.exception("cannot read task results; retrying")
                found = {}
                interval = self._max_interval
            for task_id, meta in found.items():
                with self._lock:
                    waiters = self._pending.pop(task_id, [])
                for deliver in waiters:
                    deliver(meta)
            # Quick while results come, backing off while none do; and never
            # reading more than a third of the time, so that a long list of
            # pending ids does not take a core from the workers on this host.
            spent = time.monotonic() - started
            interval = self._min_interval if found else min(interval * 1.5, self._max_interval)
            interval = max(interval, 3 * spent)
            # New waiters cut the wait short.
            self._wake.wait(max(0.0, interval - (time.monotonic() - started)))
            if self._wake.is_set():
                self._wake.clear()
                interval = self._min_interval


def _set_result(future: asyncio.Future[Meta], meta: Meta) -> None:
    if not future.done():
        future.set_result(meta)


def _outcome(name: str, task_id: str, meta: Meta) -> Any:
    status = meta.get("status")
    if status == states.SUCCESS:
        return meta.get("result")
    exc = meta.get("result")
    traceback = meta.get("traceback")
    if isinstance(exc, BaseException):
        cls = type(exc)
        exc_type = f"{cls.__module__}.{cls.__qualname__}"
        message = str(exc)
        if isinstance(exc, CRASH_TYPES):
            raise TaskCrashed(name, task_id, exc_type, message, traceback)
    else:
        exc_type, message = str(status), repr(exc)
    if status == states.REVOKED:
        raise TaskCrashed(name, task_id, exc_type, message, traceback)
    raise TaskFailed(name, task_id, exc_type, message, traceback)
