"""The action journal: what makes "each action id is processed once" survive restarts.

Before a processor runs, the server records the id as *claimed*; after it
returns, the reply (or error) is recorded before it is sent. So:

- a retry of an answered id gets the stored reply, even after a restart;
- a retry of an id whose processing was cut off by a crash gets the error
  ``indeterminate`` rather than a second execution (it may have happened);
- a retry carrying another action under a used id gets ``conflict``.

:class:`ActionJournal` is the interface the server's vortex uses; the server
service wires :class:`FileActionJournal`: an append-only log in the server's
data directory, with an index of the ids in memory.

How durable, and why that is enough. The requirement is that a *process*
restart (a crash, ``kill -9``, a stop) between running an action and sending
its reply does not run it twice. Each record is in the kernel's page cache
before the caller goes on: before the processor runs (the claim) and before
the reply is sent (the answer). The page cache belongs to the kernel, not to
the process, so a record survives the process dying at any point after it
was written; there is no ``fsync`` per action. Writing is a copy into a
shared memory map of the segment file (whose blocks are reserved with
``posix_fallocate`` when it is made, so a full disk fails making a segment,
not a write): the map's pages are that same page cache, and a copy costs a
fraction of a ``write`` system call, which on ext4 updates the file's times
through the filesystem journal every time (~0.7 against ~2-6 us per record
on the bench machine). A record that does not fit in the map goes out with
``pwrite``. The copy is done on the event loop on purpose: a hop to a
thread per record costs ~100 us.

A power cut or kernel crash is another matter: a background ``fdatasync``
(which writes out the map's dirty pages too) every ``sync_interval`` seconds
(default 1) bounds what one can lose to the last second of records.

Layout: a directory of segment files ``<n>.log``, appended to in order; a
process always starts a new segment and never appends to an older one, so a
record torn by a crash can only be the last one of a segment, and reading
stops there (or at the zeros of the unused, reserved rest of the segment,
which is cut off when the segment is closed). A segment is deleted once
every record in it is older than the retention. Each record::

    u32 length of the rest, u32 CRC-32 of the rest,
    u8 kind (1 claim, 2 answer), f64 claim time (Unix), u64 fingerprint,
    u16 id length, id, [answer frame]

An answer record repeats the id's fingerprint and claim time, so it stands
alone once the segment holding the claim is gone.

The index in memory holds, per id, one int: the fingerprint, the claim time
in whole seconds, and the segment and offset of the answer record. Answers
stay on disk and are read back for a retry. That is ~150 bytes an id, the
id string included (``tests/vortex/test_journal.py`` bounds it), so a week
of retention at 100 actions a second (60 million ids) is ~9 GB of memory:
a server with more traffic than that needs a shorter retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import mmap
import os
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from peek.plugin.vortex import VortexError

__all__ = [
    "DEFAULT_RETENTION",
    "DEFAULT_SEGMENT_BYTES",
    "DEFAULT_SYNC_INTERVAL",
    "ActionJournal",
    "Claim",
    "ClaimState",
    "FileActionJournal",
    "JournalError",
    "MemoryActionJournal",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds an answered action is remembered (a retry later than this runs again).
DEFAULT_RETENTION = 7 * 24 * 3600.0
# A segment past this size is closed and a new one started.
DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
# Seconds between background fdatasync calls while records are being written.
DEFAULT_SYNC_INTERVAL = 1.0

_FRAMING = struct.Struct(">II")  # length of the rest, its CRC-32
_FIXED = struct.Struct(">BdQH")  # kind, claim time, fingerprint, id length
_CLAIM = 1
_ANSWER = 2
_SUFFIX = ".log"


class JournalError(VortexError):
    """The journal could not record an action (the action must then not run)."""


class ClaimState(enum.Enum):
    NEW = "new"  # never seen: the caller must process it now
    DONE = "done"  # answered before: ``reply`` holds the stored answer frame
    INDETERMINATE = "indeterminate"  # claimed by a run that never answered
    CONFLICT = "conflict"  # the id belongs to a different action


@dataclass(frozen=True, slots=True)
class Claim:
    state: ClaimState
    reply: bytes | None = None


# The answers without a reply are immutable: made once, not per action.
_NEW = Claim(ClaimState.NEW)
_CONFLICT = Claim(ClaimState.CONFLICT)
_INDETERMINATE = Claim(ClaimState.INDETERMINATE)


class ActionJournal(Protocol):
    """Record of action ids. Every method must be awaited in the event loop."""

    async def claim(self, action_id: str, fingerprint: int) -> Claim:
        """Record ``action_id`` as being processed, unless it is known already.

        ``fingerprint`` (0 to 2**64 - 1) is a digest of the action: a retry
        of the id with another fingerprint is a ``CONFLICT``.
        """
        ...

    async def complete(self, action_id: str, reply: bytes) -> None:
        """Record the answer frame of ``action_id`` (before it is sent)."""
        ...

    async def close(self) -> None: ...


# An index entry is one int (a tuple of five objects was ~370 bytes an id):
#   bits 0-63 fingerprint, 64-95 claim time (whole Unix seconds),
#   96-127 segment of the answer record (0: claimed, not answered; segments
#   count from 1), 128- offset of the answer record in that segment.
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


def _entry(fingerprint: int, claimed: float, segment: int = 0, offset: int = 0) -> int:
    return fingerprint | int(claimed) << 64 | segment << 96 | offset << 128


class FileActionJournal:
    """An :class:`ActionJournal` in an append-only log (see the module doc).

    ``claim`` and ``complete`` of a new id do not suspend: they write to the
    page cache and return. Reading a stored answer back (a retry) and all
    file management run on a thread of the journal's own.
    """

    def __init__(
        self,
        directory: Path,
        *,
        retention: float = DEFAULT_RETENTION,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.retention = retention
        self.segment_bytes = segment_bytes
        self.sync_interval = sync_interval
        self._clock = clock
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="vortex-journal")
        self._index: dict[str, int] = {}  # action id -> _entry(...)
        self._newest: dict[int, float] = {}  # segment -> newest claim time in it
        self._fd = -1
        self._map: mmap.mmap | None = None  # the current segment's, if it could be mapped
        self._capacity = 0  # bytes of the map
        self._segment = 0
        self._size = 0
        self._sync: asyncio.TimerHandle | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._rotating = False

    @property
    def segments(self) -> list[int]:
        """The segment numbers on disk, oldest first (for tests and status)."""
        return sorted(self._newest)

    async def open(self) -> None:
        await self._run(self._load)

    async def claim(self, action_id: str, fingerprint: int) -> Claim:
        entry = self._index.get(action_id)
        now = self._clock()
        if entry is not None and (entry >> 64 & _U32) < now - self.retention:
            # Forgotten: a retry this late runs again. Re-inserted at the end,
            # so that the index stays in claim order (see _forget_expired).
            del self._index[action_id]
            entry = None
        if entry is None:
            self._append(_CLAIM, now, action_id, fingerprint, b"")
            self._index[action_id] = _entry(fingerprint, now)
            return _NEW
        if entry & _U64 != fingerprint:
            return _CONFLICT
        segment = entry >> 96 & _U32
        if segment:
            reply = await self._run(self._read, action_id, segment, entry >> 128)
            return Claim(ClaimState.DONE, reply)
        # Claimed, never answered. The server's vortex joins a call still
        # running in this process before it asks the journal, so this claim
        # was left by a process that stopped mid-processing.
        return _INDETERMINATE

    async def complete(self, action_id: str, reply: bytes) -> None:
        entry = self._index.get(action_id)
        if entry is None:
            raise JournalError(f"action {action_id} was never claimed")
        fingerprint, claimed = entry & _U64, entry >> 64 & _U32
        offset = self._append(_ANSWER, claimed, action_id, fingerprint, reply)
        self._index[action_id] = _entry(fingerprint, claimed, self._segment, offset)

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.cancel()
            self._sync = None
        while self._chores:
            await asyncio.wait(set(self._chores))
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            await self._run(_close_segment, fd, self._map, self._size)
            self._map = None
        self._executor.shutdown(wait=False)

    # -- on the event loop ---------------------------------------------------

    def _append(
        self, kind: int, claimed: float, action_id: str, fingerprint: int, reply: bytes
    ) -> int:
        """Write one record; its offset in the current segment."""
        if self._fd < 0:
            raise JournalError("the action journal is not open")
        ident = action_id.encode()
        rest = b"".join((_FIXED.pack(kind, claimed, fingerprint, len(ident)), ident, reply))
        record = _FRAMING.pack(len(rest), zlib.crc32(rest)) + rest
        start = self._size
        end = start + len(record)
        if self._map is not None and end <= self._capacity:
            self._map[start:end] = record
        else:
            try:
                written = os.pwrite(self._fd, record, start)
                if written != len(record):
                    raise OSError(f"short write: {written} of {len(record)} bytes")
            except OSError as exc:
                # Not counted: the next record overwrites what part of it was written.
                raise JournalError(f"cannot write the action journal: {exc}") from exc
        self._size = end
        self._newest[self._segment] = max(self._newest[self._segment], claimed)
        if self._sync is None and self.sync_interval > 0:
            self._sync = asyncio.get_running_loop().call_later(self.sync_interval, self._sync_now)
        # The next segment is made while the map still has room (an eighth).
        if self._size >= self.segment_bytes - self.segment_bytes // 8 and not self._rotating:
            self._rotating = True
            self._chore(self._rotate(), "rotate")
        return start

    def _sync_now(self) -> None:
        self._sync = None
        if self._fd >= 0:
            self._chore(self._run(os.fdatasync, self._fd), "sync")

    def _chore(self, work: Awaitable[None], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except OSError as exc:  # a failed sync or rotation: the log still takes records
                log.warning("action journal %s failed: %s", what, exc)

        task = asyncio.get_running_loop().create_task(run(), name=f"action journal {what}")
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _rotate(self) -> None:
        try:
            number = self._segment + 1
            fd, mapped = await self._run(_create, self._path(number), self.segment_bytes)
            old = (self._fd, self._map, self._size)
            self._fd, self._map, self._segment, self._size = fd, mapped, number, 0
            self._capacity = len(mapped) if mapped is not None else 0
            self._newest[number] = self._clock()
            cutoff = self._clock() - self.retention
            expired = [n for n, newest in self._newest.items() if newest < cutoff and n != number]
            for n in expired:
                del self._newest[n]
            self._forget_expired(cutoff)
            await self._run(self._retire, old, expired)
        finally:
            self._rotating = False

    def _forget_expired(self, cutoff: float) -> None:
        # The index is in claim order: the expired entries are at its front,
        # and the loop stops at the first live one instead of walking them all.
        stale = []
        for action_id, entry in self._index.items():
            if (entry >> 64 & _U32) >= cutoff:
                break
            stale.append(action_id)
        for action_id in stale:
            del self._index[action_id]

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- on the journal's thread ---------------------------------------------

    def _path(self, number: int) -> Path:
        return self.directory / f"{number:08d}{_SUFFIX}"

    def _load(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        cutoff = self._clock() - self.retention
        numbers = sorted(
            int(p.name.removesuffix(_SUFFIX))
            for p in self.directory.iterdir()
            if p.name.endswith(_SUFFIX) and p.name.removesuffix(_SUFFIX).isdigit()
        )
        for number in numbers:
            newest = self._load_segment(number, cutoff)
            if newest < cutoff:
                self._path(number).unlink()
            else:
                self._newest[number] = newest
        self._segment = (numbers[-1] + 1) if numbers else 1
        self._fd, self._map = _create(self._path(self._segment), self.segment_bytes)
        self._capacity = len(self._map) if self._map is not None else 0
        self._newest[self._segment] = self._clock()
        _sync_directory(self.directory)

    def _load_segment(self, number: int, cutoff: float) -> float:
        """Index the records of one segment; the newest claim time in it."""
        data = self._path(number).read_bytes()
        newest = float("-inf")
        pos = 0
        while pos < len(data):
            head_end = pos + _FRAMING.size
            if head_end > len(data):
                break
            length, crc = _FRAMING.unpack_from(data, pos)
            end = head_end + length
            if length < _FIXED.size or end > len(data) or zlib.crc32(data[head_end:end]) != crc:
                break
            kind, claimed, fingerprint, id_len = _FIXED.unpack_from(data, head_end)
            at = head_end + _FIXED.size
            action_id = data[at : at + id_len].decode()
            newest = max(newest, claimed)
            start, pos = pos, end
            if claimed < cutoff:
                continue
            if kind == _ANSWER:
                self._index[action_id] = _entry(fingerprint, claimed, number, start)
            elif kind == _CLAIM:
                self._index[action_id] = _entry(fingerprint, claimed)
        if data.count(0, pos) != len(data) - pos:
            # Only a crash mid-write leaves this, and only at a segment's end
            # (zeros are the reserved room of a segment that was not closed).
            log.warning(
                "action journal %s: ignored %d bytes of a torn record at its end",
                self._path(number),
                len(data) - pos,
            )
        return newest

    def _read(self, action_id: str, number: int, offset: int) -> bytes:
        """The answer in the record at ``offset`` of segment ``number``."""
        fd = os.open(self._path(number), os.O_RDONLY | os.O_CLOEXEC)
        try:
            length, crc = _FRAMING.unpack(os.pread(fd, _FRAMING.size, offset))
            rest = os.pread(fd, length, offset + _FRAMING.size)
        finally:
            os.close(fd)
        if len(rest) != length or zlib.crc32(rest) != crc:
            raise JournalError(f"the stored answer of action {action_id} is damaged")
        id_len = _FIXED.unpack_from(rest)[3]
        return rest[_FIXED.size + id_len :]

    def _retire(self, old: tuple[int, mmap.mmap | None, int], expired: list[int]) -> None:
        _close_segment(*old)
        for number in expired:
            with contextlib.suppress(FileNotFoundError):
                self._path(number).unlink()
        _sync_directory(self.directory)


def _create(path: Path, size: int) -> tuple[int, mmap.mmap | None]:
    """A new segment file and, if the room can be reserved, a shared map of ``size`` bytes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        # Reserved blocks: a write into the map can never meet a full disk
        # (which would kill the process with SIGBUS instead of an error).
        os.posix_fallocate(fd, 0, size)
        return fd, mmap.mmap(fd, size)
    except OSError as exc:
        log.warning("action journal %s: writing without a memory map: %s", path, exc)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        return fd, None


def _close_segment(fd: int, mapped: mmap.mmap | None, size: int) -> None:
    """Unmap, cut the unused reserved room off, sync and close a segment."""
    try:
        if mapped is not None:
            mapped.close()
            os.ftruncate(fd, size)
        os.fdatasync(fd)
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MemoryActionJournal:
    """An :class:`ActionJournal` kept in memory: once per id, but only until a restart."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[int, bytes | None]] = {}

    async def claim(self, action_id: str, fingerprint: int) -> Claim:
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
