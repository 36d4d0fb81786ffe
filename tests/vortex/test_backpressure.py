"""Back-pressure: a browser that stops reading costs the client a bounded amount
of memory, does not slow the other browsers, and is dropped past a limit."""

from __future__ import annotations

import asyncio
import os
import time

from peek.testing.vortex import VortexBrowser
from peek.vortex.outbox import Outbox
from peek_plugin_noop.tuples import Echo

from .conftest import PLUGINS, vortex_config, wait_for

BLOB = 256 * 1024  # random, so compression cannot shrink it
UPDATES = 60


async def test_a_stuck_browser_neither_grows_memory_nor_slows_the_others(
    tmp_path, peek_server, peek_upstream, browsers
):
    config = await asyncio.to_thread(vortex_config, tmp_path, **{"vortex.stall_timeout": 1.5})
    server = await peek_server(PLUGINS, config=config)
    client = await peek_upstream("client", server, PLUGINS)
    state = {"n": 0}
    server.vortex.provide(
        "noop.Echo",
        lambda sel: [Echo(number=state["n"], raw=os.urandom(BLOB))],
        anonymous=True,
    )
    gateway = client.browsers

    stuck = VortexBrowser(client.user_site.url)
    browsers.append(stuck)
    await stuck.connect(read=False)  # never reads a byte after the handshake
    await wait_for(lambda: len(gateway.connections) == 1)
    (stuck_conn,) = gateway.connections
    await stuck.subscribe("noop.Echo", {})

    fast = VortexBrowser(client.user_site.url)
    browsers.append(fast)
    await fast.connect()
    await fast.subscribe("noop.Echo", {})
    await fast.expect("data")

    registry = client.vortex.registry
    registry.register("noop", Echo)
    worst = 0.0
    most_queued = 0
    for n in range(1, UPDATES + 1):
        state["n"] = n
        started = time.monotonic()
        server.vortex.notify("noop.Echo")
        frame = await fast.expect("data", within=5)
        (echo,) = registry.decode(frame.payload(1 << 20))
        assert echo.number == n
        worst = max(worst, time.monotonic() - started)
        most_queued = max(most_queued, stuck_conn.outbox.queued)
    assert stuck_conn.outbox.queued <= 1 or stuck_conn.outbox.closed
    assert most_queued <= 1, "updates of one subscription must coalesce"
    assert worst < 2.0, f"the fast browser waited {worst:.2f} s for an update"
    # Stuck for longer than stall_timeout: dropped, and its memory with it.
    await wait_for(lambda: stuck_conn not in gateway.connections, within=15)
    assert stuck_conn.outbox.closed and stuck_conn.outbox.queued == 0
    assert fast.ws is not None and not fast.ws.closed


class _Transport(asyncio.WriteTransport):
    """A transport whose peer never reads: its buffer stays over the high-water mark."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 64)

    def get_write_buffer_size(self) -> int:
        return 1000

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


async def test_a_connection_with_too_many_waiting_frames_is_dropped():
    transport = _Transport()
    never = asyncio.Event()
    reasons: list[str] = []

    async def send(frame: bytes) -> None:
        await never.wait()

    outbox = Outbox("stuck", send, transport, reasons.append, max_queued=8, stall_timeout=60)
    for i in range(4):
        await outbox.push(b"reply %d" % i)  # replies do not coalesce
    for _ in range(100):
        await outbox.push(b"update", coalesce="one subscription")
    assert not outbox.closed and outbox.queued <= 5
    for i in range(5):
        await outbox.push(b"more %d" % i)
    assert outbox.closed and outbox.queued == 0
    assert reasons and "more than 8" in reasons[0]


async def test_an_outbox_without_an_abort_callback_aborts_its_transport():
    transport = _Transport()
    never = asyncio.Event()

    async def send(frame: bytes) -> None:
        await never.wait()

    outbox = Outbox("stuck", send, transport, max_queued=2, stall_timeout=60)
    for i in range(3):
        await outbox.push(b"reply %d" % i)
    assert outbox.closed and transport.aborted
