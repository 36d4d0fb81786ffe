"""The action journal: what makes "each action id is processed once" survive restarts.

Before a processor runs, the server records the id as *claimed*; after it
returns, the reply (or error) is recorded before it is sent. So:

- a retry of an answered id gets the stored reply, even after a restart;
- a retry of an id whose processing was cut off by a crash gets the error
  ``indeterminate`` rather than a second execution (it may have happened);
- a retry carrying another action under a used id gets ``conflict``.

:class:`ActionJournal` is the interface the server's vortex uses; the server
service wires an implementation. :class:`SqliteActionJournal` is the one it
wires: one SQLite file in the server's data directory, in WAL mode, which
survives the process being killed (``synchronous=NORMAL``: a power cut may
lose the last commits, a ``kill -9`` does not). Its calls run on one thread
of their own, never on the event loop.
"""

from __future__ import annotations

import asyncio
import enum
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

__all__ = [
    "DEFAULT_RETENTION",
    "ActionJournal",
    "Claim",
    "ClaimState",
    "MemoryActionJournal",
    "SqliteActionJournal",
]

T = TypeVar("T")

# Seconds an answered action is remembered (a retry later than this runs again).
DEFAULT_RETENTION = 7 * 24 * 3600.0


class ClaimState(enum.Enum):
    NEW = "new"  # never seen: the caller must process it now
    DONE = "done"  # answered before: ``reply`` holds the stored answer frame
    INDETERMINATE = "indeterminate"  # claimed by a run that never answered
    CONFLICT = "conflict"  # the id belongs to a different action


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    reply: bytes | None = None


class ActionJournal(Protocol):
    """Durable record of action ids. Every method must be awaited in the event loop."""

    async def claim(self, action_id: str, fingerprint: str) -> Claim:
        """Record ``action_id`` as being processed, unless it is known already."""
        ...

    async def complete(self, action_id: str, reply: bytes) -> None:
        """Record the answer frame of ``action_id`` (durably, before it is sent)."""
        ...

    async def close(self) -> None: ...


class SqliteActionJournal:
    """An :class:`ActionJournal` in one SQLite file (see the module doc)."""

    def __init__(self, path: Path, *, retention: float = DEFAULT_RETENTION) -> None:
        self.path = path
        self.retention = retention
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vortex-journal")
        self._db: sqlite3.Connection | None = None

    async def open(self) -> None:
        await self._run(self._open)

    async def claim(self, action_id: str, fingerprint: str) -> Claim:
        return await self._run(self._claim, action_id, fingerprint)

    async def complete(self, action_id: str, reply: bytes) -> None:
        await self._run(self._complete, action_id, reply)

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- on the journal's thread ------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS vortex_actions ("
            " id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
            " claimed REAL NOT NULL, reply BLOB)"
        )
        db.execute("DELETE FROM vortex_actions WHERE claimed < ?", (time.time() - self.retention,))
        self._db = db

    def _claim(self, action_id: str, fingerprint: str) -> Claim:
        db = self._db
        assert db is not None, "open() first"
        row = db.execute(
            "SELECT fingerprint, reply FROM vortex_actions WHERE id = ?", (action_id,)
        ).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO vortex_actions (id, fingerprint, claimed) VALUES (?, ?, ?)",
                (action_id, fingerprint, time.time()),
            )
            return Claim(ClaimState.NEW)
        if row[0] != fingerprint:
            return Claim(ClaimState.CONFLICT)
        if row[1] is not None:
            return Claim(ClaimState.DONE, bytes(row[1]))
        # Claimed, never answered. The server's vortex joins a call still
        # running in this process before it asks the journal, so this claim
        # was left by a process that stopped mid-processing.
        return Claim(ClaimState.INDETERMINATE)

    def _complete(self, action_id: str, reply: bytes) -> None:
        db = self._db
        assert db is not None, "open() first"
        db.execute("UPDATE vortex_actions SET reply = ? WHERE id = ?", (reply, action_id))


class MemoryActionJournal:
    """An :class:`ActionJournal` kept in memory: once per id, but only until a restart."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, bytes | None]] = {}

    async def claim(self, action_id: str, fingerprint: str) -> Claim:
        row = self._rows.get(action_id)
        if row is None:
            self._rows[action_id] = (fingerprint, None)
            return Claim(ClaimState.NEW)
        if row[0] != fingerprint:
            return Claim(ClaimState.CONFLICT)
        if row[1] is not None:
            return Claim(ClaimState.DONE, row[1])
        return Claim(ClaimState.INDETERMINATE)

    async def complete(self, action_id: str, reply: bytes) -> None:
        fingerprint, _ = self._rows[action_id]
        self._rows[action_id] = (fingerprint, reply)

    async def close(self) -> None:
        self._rows.clear()
