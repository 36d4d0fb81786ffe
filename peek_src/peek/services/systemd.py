"""systemd readiness and watchdog: the ``NOTIFY_SOCKET`` datagram protocol.

Under a ``Type=notify`` unit systemd passes the address of a unix datagram
socket in ``NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace). A service sends newline-separated ``KEY=VALUE`` assignments to
it: ``READY=1`` once it serves, ``STATUS=...`` for ``systemctl status``,
``STOPPING=1`` when it begins to shut down and ``WATCHDOG=1`` at least once
per ``WATCHDOG_USEC`` microseconds when the unit sets ``WatchdogSec=``.

The protocol is a few lines (see sd_notify(3)); the one library for it,
``sdnotify``, has not been maintained since 2017, so Peek speaks it itself.
Without ``NOTIFY_SOCKET`` every call is a no-op, so services run the same
outside systemd.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

__all__ = [
    "NOTIFY_ENV",
    "WATCHDOG_ENV",
    "SystemdNotifier",
    "watchdog_interval",
]

log = logging.getLogger(__name__)

NOTIFY_ENV = "NOTIFY_SOCKET"
WATCHDOG_ENV = ("WATCHDOG_USEC", "WATCHDOG_PID")
# systemd asks for a ping within WATCHDOG_USEC; half of it leaves room for a
# busy loop, as sd_watchdog_enabled(3) recommends.
WATCHDOG_FRACTION = 0.5


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings this process owes systemd, or None.

    None when the unit has no watchdog, when ``WATCHDOG_PID`` names another
    process (the variables were inherited), or when the value is not a
    positive integer (logged).
    """
    raw = environ.get("WATCHDOG_USEC")
    if not raw:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(pid if pid is not None else os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        usec = 0
    if usec <= 0:
        log.warning("ignoring WATCHDOG_USEC=%r: not a positive number of microseconds", raw)
        return None
    return usec / 1_000_000 * WATCHDOG_FRACTION


def _socket_address(address: str) -> str | bytes:
    # "@name" is Linux's abstract namespace: a leading NUL byte, no file.
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


class SystemdNotifier:
    """Tells systemd about this service: ready, status, stopping, watchdog pings.

    ``address`` is the notification socket (``/run/...`` or ``@abstract``);
    None disables every call. Sending never blocks and never raises: a
    service does not fail because its supervisor went away, it logs once.
    """

    def __init__(self, address: str | None, *, watchdog: float | None = None) -> None:
        self.address = address or None
        self.watchdog = watchdog if self.address else None
        self._sock: socket.socket | None = None
        self._watchdog_task: asyncio.Task[None] | None = None
        self._warned = False
        if self.address is not None and not self.address.startswith(("/", "@")):
            # vsock: and other transports are for VMs; Peek runs under a local systemd.
            log.warning(
                "ignoring %s=%r: only unix socket addresses are supported", NOTIFY_ENV, address
            )
            self.address = None
            self.watchdog = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """The notifier systemd asked for in the environment (a no-op one without it)."""
        env = os.environ if environ is None else environ
        return cls(env.get(NOTIFY_ENV), watchdog=watchdog_interval(env))

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True if systemd got it."""
        if self.address is None or not assignments:
            return False
        for line in assignments:
            if "=" not in line or "\n" in line:
                raise ValueError(f"not a KEY=VALUE assignment: {line!r}")
        payload = "\n".join(assignments).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # A full receive queue must not stall the event loop.
                self._sock.setblocking(False)
            self._sock.sendto(payload, _socket_address(self.address))
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify systemd at %s: %s", self.address, exc)
                self._warned = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1``: the service serves (its plugins have started)."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """``STATUS=...``: one line shown by ``systemctl status``."""
        return self.notify(f"STATUS={text.replace(chr(10), ' ')}")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutdown has begun."""
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def ping(self) -> bool:
        """``WATCHDOG=1``: the event loop is alive."""
        return self.notify("WATCHDOG=1")

    def start_watchdog(self) -> None:
        """Ping every ``watchdog`` seconds from a task of this notifier. Must run in the loop.

        The pings come from the event loop itself, so a loop blocked for
        longer than ``WatchdogSec`` gets the service restarted.
        """
        if self.watchdog is None or self._watchdog_task is not None:
            return
        self._watchdog_task = asyncio.get_running_loop().create_task(
            self._feed(self.watchdog), name="systemd watchdog"
        )

    async def _feed(self, interval: float) -> None:
        while True:
            self.ping()
            await asyncio.sleep(interval)

    async def close(self) -> None:
        """Stop the watchdog task and close the socket (safe to call twice)."""
        task, self._watchdog_task = self._watchdog_task, None
        if task is not None:
            task.cancel()
            # Wait without taking the task's CancelledError as ours.
            await asyncio.wait({task})
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
