"""Per-connection sending with back-pressure: a slow peer costs only itself.

A frame goes straight to the socket while the socket keeps up (the frame
fits in the transport's buffer below its high-water mark, so nothing waits). Once it
falls behind, frames wait in a small per-connection backlog, where an
observable update replaces the waiting update of the same subscription
(only the latest value matters); one writer task drains the backlog and
exits when it is empty, so an idle connection owns no task. A connection
whose backlog passes ``max_queued`` entries, or that accepts nothing for
``stall_timeout`` seconds, is aborted: it reconnects and resubscribes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["DEFAULT_MAX_QUEUED", "DEFAULT_STALL_TIMEOUT", "Outbox"]

log = logging.getLogger(__name__)

DEFAULT_MAX_QUEUED = 256
DEFAULT_STALL_TIMEOUT = 30.0

_unique = itertools.count()
# The most a WebSocket frame header adds to its payload (RFC 6455).
_FRAME_OVERHEAD = 14


class Outbox:
    """The sending side of one connection. Must be used from the event loop."""

    __slots__ = (
        "_abort",
        "_backlog",
        "_high",
        "_send",
        "_transport",
        "_writer",
        "closed",
        "max_queued",
        "name",
        "stall_timeout",
    )

    def __init__(
        self,
        name: str,
        send: Callable[[bytes], Awaitable[None]],
        transport: asyncio.BaseTransport | None,
        abort: Callable[[str], None] | None = None,
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self.name = name
        self._send = send
        self._transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self._high = self._transport.get_write_buffer_limits()[1] if self._transport else 0
        # None: abort the transport (no closure per connection: there may be thousands).
        self._abort = abort
        self._backlog: OrderedDict[Hashable, bytes] = OrderedDict()
        self._writer: asyncio.Task[None] | None = None
        self.max_queued = max_queued
        self.stall_timeout = stall_timeout
        self.closed = False

    @property
    def queued(self) -> int:
        return len(self._backlog)

    async def push(self, frame: bytes, coalesce: Hashable | None = None) -> None:
        """Send ``frame`` now, or queue it; ``coalesce`` names what a newer frame replaces.

        Never waits for a slow peer.
        """
        if self.closed:
            return
        # Straight out if the socket keeps up: aiohttp's send waits for the
        # peer once a write takes the transport past its high-water mark, and
        # a frame that fits below it is sent at once.
        t = self._transport
        if (
            not self._backlog
            and self._writer is None
            and t is not None
            and not t.is_closing()
            and t.get_write_buffer_size() + len(frame) + _FRAME_OVERHEAD < self._high
        ):
            try:
                await self._send(frame)
            except (ConnectionError, RuntimeError) as exc:
                self._fail(f"send failed: {exc}")
            return
        key: Hashable = coalesce if coalesce is not None else ("#", next(_unique))
        if key in self._backlog:
            self._backlog[key] = frame  # the latest value, in the earlier place
        else:
            self._backlog[key] = frame
            if len(self._backlog) > self.max_queued:
                self._fail(f"more than {self.max_queued} frames waiting")
                return
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._drain(), name=f"vortex outbox {self.name}"
            )

    async def _drain(self) -> None:
        try:
            while self._backlog and not self.closed:
                _, frame = self._backlog.popitem(last=False)
                try:
                    async with asyncio.timeout(self.stall_timeout):
                        await self._send(frame)
                except TimeoutError:
                    self._fail(f"accepted nothing for {self.stall_timeout:g} s")
                except (ConnectionError, RuntimeError) as exc:
                    self._fail(f"send failed: {exc}")
        finally:
            self._writer = None

    def _fail(self, reason: str) -> None:
        if self.closed:
            return
        log.warning("dropping %s: %s", self.name, reason)
        self.close()
        if self._abort is not None:
            self._abort(reason)
        elif self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Forget what waits and stop the writer (the connection is going away)."""
        self.closed = True
        self._backlog.clear()
        writer = self._writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
