"""Browser sessions and login throttling for the sites browsers log in to.

:class:`SessionStore` holds the sessions a :class:`~peek.vortex.browser.BrowserGateway`
hands out. Given a ``path`` it keeps them in one SQLite file as well, so a
restart of the service does not log every browser out:

- only the SHA-256 hash of each token is kept (in memory and on disk): a copy
  of the file does not let anyone use the sessions in it;
- a session unused for ``idle`` seconds is refused and removed, also across
  restarts (a login, a socket's handshake and its pings, a posted action
  count as use) (the last use is kept as wall-clock time, written at most every
  ``touch_every`` seconds per session, so an idle limit may be off by that);
- logging out deletes the row before the browser hears back;
- at most ``max_sessions`` are kept: the least recently used go first;
- a file that cannot be read (corrupted, not a database) is moved aside and
  the store starts empty, with the reason logged.

Lookups are answered from memory, on the event loop. Every file access runs on
a thread of the store's own, one at a time, in order.

:class:`LoginLimiter` slows down password guessing: failed logins are counted
per remote address and per user name, and past a few a key is locked out for
a time that doubles with each further failure (see :class:`LoginLimits`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import secrets
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["MAX_SESSIONS", "LoginLimiter", "LoginLimits", "SessionStore", "token_hash"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_SESSIONS = 100_000
# A session's last use is written to the file at most this often (seconds).
TOUCH_EVERY = 60.0


def token_hash(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class _Session:
    user: str
    seen: float
    saved: float  # the ``seen`` last written to the file


class SessionStore:
    """Browser sessions: random tokens, expiring after ``idle`` seconds unused.

    Without ``path`` they live in memory only. With it, call :meth:`open` before
    use and :meth:`close` after (see the module doc).
    """

    def __init__(
        self,
        idle: float,
        *,
        path: Path | None = None,
        max_sessions: int = MAX_SESSIONS,
        touch_every: float = TOUCH_EVERY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle = idle
        self.path = path
        self.max_sessions = max_sessions
        self.touch_every = min(touch_every, idle / 10)
        self._clock = clock
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._db: sqlite3.Connection | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    async def open(self) -> None:
        """Load the sessions kept in the file (none without a ``path``)."""
        if self.path is None or self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="browser-sessions")
        rows = await self._run(self._open_db, self.path)
        for digest, user, seen in rows:
            self._sessions[digest] = _Session(user, seen, seen)
        log.info("%d browser sessions kept from %s", len(rows), self.path)

    async def close(self) -> None:
        """Write what is pending and close the file."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # The store's one thread runs its jobs in order: this one comes after every write.
        await asyncio.get_running_loop().run_in_executor(executor, self._close_db)
        executor.shutdown(wait=False)

    async def create(self, user: str) -> str:
        """A new session for ``user``; its token (kept in the file before this returns)."""
        token = secrets.token_urlsafe(32)
        digest = token_hash(token)
        now = self._clock()
        self._sessions[digest] = _Session(user, now, now)
        evicted: list[str] = []
        while len(self._sessions) > self.max_sessions:
            evicted.append(self._sessions.popitem(last=False)[0])
        if self._executor is not None:
            await self._run(self._insert, digest, user, now, evicted, now - self.idle)
        return token

    def user(self, token: str | None) -> str | None:
        """The user of a live session (and it counts as used now), else None."""
        return self.touch(token_hash(token)) if token else None

    def touch(self, digest: str) -> str | None:
        """Like :meth:`user`, for a session known by its :func:`token_hash`."""
        session = self._sessions.get(digest)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self.idle:
            del self._sessions[digest]
            self._later(self._delete, digest)
            return None
        session.seen = now
        self._sessions.move_to_end(digest)
        if now - session.saved >= self.touch_every:
            session.saved = now
            self._later(self._touch, digest, now)
        return session.user

    async def end(self, token: str | None) -> bool:
        """End a session (removed from the file before this returns); whether it was live."""
        if not token:
            return False
        digest = token_hash(token)
        found = self._sessions.pop(digest, None) is not None
        if self._executor is not None:
            await self._run(self._delete, digest)
        return found

    # -- the file, on the store's thread ------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        assert self._executor is not None
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _later(self, fn: Callable[..., None], *args: object) -> None:
        # Written in the background: a lookup answers at once, the file follows.
        if self._executor is None:
            return
        future = self._executor.submit(fn, *args)
        future.add_done_callback(_log_failure)

    def _open_db(self, path: Path) -> list[tuple[str, str, float]]:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            log.info("no browser sessions file at %s yet: starting with none", path)
        try:
            return self._load(path)
        except sqlite3.DatabaseError as exc:
            if self._db is not None:
                self._db.close()
                self._db = None
            aside = path.with_name(path.name + ".unreadable")
            log.warning(
                "the browser sessions file %s cannot be read (%s): moved to %s, "
                "starting with no sessions (browsers log in again)",
                path,
                exc,
                aside,
            )
            os.replace(path, aside)
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            return self._load(path)

    def _load(self, path: Path) -> list[tuple[str, str, float]]:
        # Tokens are hashed, but who is logged in is still nobody else's business.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS browser_sessions ("
            " hash TEXT PRIMARY KEY, user TEXT NOT NULL, seen REAL NOT NULL)"
        )
        db.execute("CREATE INDEX IF NOT EXISTS browser_sessions_seen ON browser_sessions (seen)")
        db.execute("DELETE FROM browser_sessions WHERE seen < ?", (self._clock() - self.idle,))
        rows = db.execute(
            "SELECT hash, user, seen FROM browser_sessions ORDER BY seen DESC LIMIT ?",
            (self.max_sessions,),
        ).fetchall()
        rows.reverse()  # oldest first: the least recently used are evicted first
        if len(rows) == self.max_sessions:
            db.execute("DELETE FROM browser_sessions WHERE seen < ?", (rows[0][2],))
        return [(str(h), str(u), float(s)) for h, u, s in rows]

    def _insert(
        self, digest: str, user: str, seen: float, evicted: list[str], expired_before: float
    ) -> None:
        db = self._db
        if db is None:
            return
        db.execute("BEGIN")
        db.execute(
            "INSERT OR REPLACE INTO browser_sessions (hash, user, seen) VALUES (?, ?, ?)",
            (digest, user, seen),
        )
        db.executemany("DELETE FROM browser_sessions WHERE hash = ?", [(h,) for h in evicted])
        db.execute("DELETE FROM browser_sessions WHERE seen < ?", (expired_before,))
        db.execute("COMMIT")

    def _touch(self, digest: str, seen: float) -> None:
        if self._db is not None:
            self._db.execute("UPDATE browser_sessions SET seen = ? WHERE hash = ?", (seen, digest))

    def _delete(self, digest: str) -> None:
        if self._db is not None:
            self._db.execute("DELETE FROM browser_sessions WHERE hash = ?", (digest,))

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("could not update the browser sessions file: %s", exc)


# -- login throttling -----------------------------------------------------------


@dataclass(frozen=True)
class LoginLimits:
    """How failed logins are throttled (times in seconds).

    Once a key (one remote address, or one user name) has failed
    ``free_per_*`` times, it is locked for ``base_lock``, doubled with each
    further failure, up to ``max_lock``. A key's count starts again after
    ``forget_after`` without failures. At most ``max_keys`` keys are tracked
    (the least recently failed are forgotten first), so memory stays bounded.
    """

    free_per_user: int = 5
    free_per_address: int = 20
    base_lock: float = 1.0
    max_lock: float = 900.0
    forget_after: float = 3600.0
    max_keys: int = 10_000


@dataclass
class _Failures:
    count: int
    last: float
    locked_until: float


class LoginLimiter:
    """Failed logins per remote address and per user name (see :class:`LoginLimits`).

    Ask :meth:`retry_after` before checking a password: a locked key is
    refused without one. Report the outcome with :meth:`failed` or
    :meth:`succeeded`; a success clears that user name's failures (not the
    address's: one good account must not unlock guessing at the others).

    A name's lock does not apply at an address the user has logged in from
    before (up to ``max_keys`` such pairs, the least recently used forgotten
    first): otherwise anyone could lock the administrator out by failing
    logins under that name. That address's own lock still applies.
    """

    def __init__(
        self, limits: LoginLimits | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._keys: OrderedDict[tuple[str, str], _Failures] = OrderedDict()
        # (user name, address) pairs that have logged in, most recent last.
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def retry_after(self, address: str | None, username: str) -> int:
        """Whole seconds until a login from ``address`` as ``username`` may be tried; 0: now."""
        now = self._clock()
        wait = 0.0
        keys = self._key_pair(address, username)
        if address and (username.casefold(), address) in self._known:
            keys = keys[1:]  # the name's lock is not for this address
        for key in keys:
            entry = self._keys.get(key)
            if entry is not None:
                wait = max(wait, entry.locked_until - now)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, address: str | None, username: str) -> None:
        now = self._clock()
        limits = self.limits
        for key in self._key_pair(address, username):
            free = limits.free_per_user if key[0] == "user" else limits.free_per_address
            entry = self._keys.pop(key, None)
            if entry is None or now - entry.last > limits.forget_after:
                entry = _Failures(0, now, 0.0)
            entry.count += 1
            entry.last = now
            over = entry.count - free
            if over >= 0:
                lock = min(limits.max_lock, limits.base_lock * 2 ** min(over, 62))
                entry.locked_until = now + lock
            self._keys[key] = entry  # most recently failed last
        while len(self._keys) > limits.max_keys:
            self._keys.popitem(last=False)

    def succeeded(self, address: str | None, username: str) -> None:
        name = username.casefold()
        self._keys.pop(("user", name), None)
        if address:
            self._known.pop((name, address), None)
            self._known[(name, address)] = None
            while len(self._known) > self.limits.max_keys:
                self._known.popitem(last=False)

    @staticmethod
    def _key_pair(address: str | None, username: str) -> tuple[tuple[str, str], ...]:
        user_key = ("user", username.casefold())
        return (user_key, ("address", address)) if address else (user_key,)
