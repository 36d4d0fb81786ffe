"""The server's knowledge of every service: which are connected and what each runs.

With a :class:`~peek.services.known.KnownServiceStore` the registry outlives the
server process: :meth:`ServiceRegistry.load` lists every service known before
as ``down`` until it connects again, and every change (connect, a new reported
generation, disconnect, forget) is written to the database in order, off the
event loop, by one writer task (:meth:`ServiceRegistry.open`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from peek.services.known import KnownService, KnownServiceStore

__all__ = ["ServiceRecord", "ServiceRegistry"]

log = logging.getLogger(__name__)


@dataclass
class ServiceRecord:
    kind: str
    name: str
    state: str  # "running" or "down"
    plugins: list[dict[str, Any]] = field(default_factory=list)
    remote: str | None = None
    version: str | None = None
    since: float = field(default_factory=time.time)
    # The plugin generation it runs (None: not managed by a rollout yet).
    generation: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "plugins": self.plugins,
            "remote": self.remote,
            "version": self.version,
            "since": self.since,
            "generation": self.generation,
        }


class ServiceRegistry:
    """Services by (kind, name); one that drops stays listed as down until forgotten.

    Must be used from the event loop, except :meth:`load`.
    """

    def __init__(self, store: KnownServiceStore | None = None) -> None:
        self._records: dict[tuple[str, str], ServiceRecord] = {}
        self._store = store
        # Writes to the store, in the order the changes happened (None ends the writer).
        self._writes: asyncio.Queue[Callable[[], None] | None] | None = None
        self._writer: asyncio.Task[None] | None = None

    def load(self) -> None:
        """Blocking, at server start before any service connects: every service the
        store knows, as down since it was last seen."""
        if self._store is None:
            return
        for known in self._store.all():
            self._records.setdefault(
                (known.kind, known.name),
                ServiceRecord(
                    kind=known.kind,
                    name=known.name,
                    state="down",
                    remote=known.remote,
                    version=known.version,
                    since=known.last_seen.timestamp(),
                    generation=known.generation,
                ),
            )

    def open(self) -> None:
        """Start writing changes to the store (in the running event loop)."""
        if self._store is None or self._writer is not None:
            return
        self._writes = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(
            self._write_changes(self._writes), name="known services writer"
        )

    async def flush(self) -> None:
        """Wait until every change so far is written (or failed and was logged)."""
        if self._writes is not None:
            await self._writes.join()

    async def close(self) -> None:
        """Write what is queued, then stop writing."""
        writes, writer = self._writes, self._writer
        self._writes = self._writer = None
        if writes is not None and writer is not None:
            writes.put_nowait(None)
            await writer

    def connected(self, kind: str, name: str, remote: str, hello: dict[str, Any]) -> None:
        record = ServiceRecord(
            kind=kind,
            name=name,
            state="running",
            plugins=_plugins(hello),
            remote=remote,
            version=str(hello.get("version") or "") or None,
            generation=_generation(hello),
        )
        self._records[(kind, name)] = record
        self._save(record)

    def update(self, kind: str, name: str, message: dict[str, Any]) -> None:
        record = self._records.get((kind, name))
        if record is not None:
            record.plugins = _plugins(message)
            if "generation" in message:
                generation = _generation(message)
                if generation != record.generation:
                    record.generation = generation
                    self._save(record)

    def disconnected(self, kind: str, name: str) -> None:
        record = self._records.get((kind, name))
        if record is not None:
            record.state = "down"
            record.since = time.time()
            self._save(record)

    def forget(self, kind: str, name: str) -> None:
        self._records.pop((kind, name), None)
        store = self._store
        if store is not None:
            self._queue(lambda: store.delete(kind, name))

    def down(self) -> list[tuple[str, str]]:
        """(kind, name) of every service that was connected and is not now."""
        return [key for key, record in self._records.items() if record.state == "down"]

    def records(self) -> list[ServiceRecord]:
        order = {"server": 0, "client": 1, "agent": 2, "worker": 3}
        return sorted(self._records.values(), key=lambda r: (order.get(r.kind, 9), r.name))

    # -- the store ---------------------------------------------------------

    def _save(self, record: ServiceRecord) -> None:
        store = self._store
        if store is None:
            return
        # What it is now: later changes to the record are later writes.
        known = KnownService(
            kind=record.kind,
            name=record.name,
            last_seen=datetime.fromtimestamp(record.since, UTC),
            generation=record.generation,
            version=record.version,
            remote=record.remote,
        )
        self._queue(lambda: store.save(known))

    def _queue(self, write: Callable[[], None]) -> None:
        if self._writes is not None:
            self._writes.put_nowait(write)

    @staticmethod
    async def _write_changes(writes: asyncio.Queue[Callable[[], None] | None]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            write = await writes.get()
            try:
                if write is None:
                    return
                await loop.run_in_executor(None, write)
            except Exception:  # isolation boundary: the database may be out for a while
                # Memory stays right; the service's next change writes its whole row again.
                log.exception("cannot record a change of the known services")
            finally:
                writes.task_done()


def _plugins(message: dict[str, Any]) -> list[dict[str, Any]]:
    plugins = message.get("plugins")
    if not isinstance(plugins, list):
        return []
    return [
        {
            "name": str(p.get("name", "")),
            "version": str(p.get("version", "")),
            "state": p.get("state")
            if p.get("state") in ("started", "failed", "stopped")
            else "stopped",
            "error": p.get("error") if isinstance(p.get("error"), str) else None,
        }
        for p in plugins
        if isinstance(p, dict)
    ]


def _generation(message: dict[str, Any]) -> int | None:
    value = message.get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
