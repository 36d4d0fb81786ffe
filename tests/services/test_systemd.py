"""sd_notify: what a Peek service tells systemd, received on a real unix datagram socket."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.services.common import run_until_signalled
from peek.services.systemd import SystemdNotifier, watchdog_interval

RECEIVE_TIMEOUT = 10.0


class Receiver:
    """The systemd end: a datagram socket the test binds."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bind_to = b"\0" + address[1:].encode() if address.startswith("@") else address
        self.sock.bind(bind_to)
        self.sock.setblocking(False)

    async def next(self, within: float = RECEIVE_TIMEOUT) -> list[str]:
        data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 4096), within)
        return data.decode().split("\n")

    def next_blocking(self, timeout: float = RECEIVE_TIMEOUT) -> list[str]:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode().split("\n")
        finally:
            self.sock.setblocking(False)

    def pending(self) -> list[list[str]]:
        messages = []
        while True:
            try:
                messages.append(self.sock.recv(4096).decode().split("\n"))
            except BlockingIOError:
                return messages

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    receiver = Receiver(f"@peek-test-{uuid.uuid4().hex}")
    yield receiver
    receiver.close()


@pytest.fixture
def path_receiver() -> Iterator[Receiver]:
    # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
    directory = tempfile.mkdtemp(prefix="peek-notify-", dir="/tmp")
    receiver = Receiver(os.path.join(directory, "notify"))
    yield receiver
    receiver.close()
    shutil.rmtree(directory)


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = SystemdNotifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready("x") is False
    assert notifier.ping() is False
    assert notifier.watchdog is None


def test_ready_reaches_a_socket_in_the_abstract_namespace(abstract_receiver):
    notifier = SystemdNotifier.from_environ({"NOTIFY_SOCKET": abstract_receiver.address})
    assert notifier.ready("server running") is True
    assert abstract_receiver.next_blocking() == ["READY=1", "STATUS=server running"]


def test_ready_reaches_a_socket_at_a_filesystem_path(path_receiver):
    notifier = SystemdNotifier(path_receiver.address)
    assert notifier.notify("READY=1") is True
    assert path_receiver.next_blocking() == ["READY=1"]


def test_status_and_stopping_are_sent_as_assignments(abstract_receiver):
    notifier = SystemdNotifier(abstract_receiver.address)
    notifier.status("two\nlines")
    notifier.stopping()
    assert abstract_receiver.next_blocking() == ["STATUS=two lines"]
    assert abstract_receiver.next_blocking() == ["STOPPING=1"]


def test_a_missing_socket_is_reported_not_raised(tmp_path, caplog):
    notifier = SystemdNotifier(str(tmp_path / "gone"))
    assert notifier.ready() is False
    assert notifier.ping() is False
    warnings = [r for r in caplog.records if "cannot notify systemd" in r.getMessage()]
    assert len(warnings) == 1, "warned once, not on every ping"


def test_malformed_assignment_is_refused(abstract_receiver):
    notifier = SystemdNotifier(abstract_receiver.address)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        notifier.notify("READY")
    with pytest.raises(ValueError, match="KEY=VALUE"):
        notifier.notify("STATUS=a\nREADY=1")
    assert abstract_receiver.pending() == []


def test_non_unix_notify_addresses_are_ignored(caplog):
    notifier = SystemdNotifier("vsock:2:1234", watchdog=1.0)
    assert not notifier.enabled
    assert notifier.watchdog is None
    assert "only unix socket addresses" in caplog.text


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({"WATCHDOG_USEC": "-5"}, None),
    ],
    ids=["unset", "half-of-usec", "our-pid", "inherited-from-pid-1", "not-a-number", "negative"],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process_only(environ, expected):
    assert watchdog_interval(environ, pid=4242) == expected


def test_watchdog_without_notify_socket_is_off():
    notifier = SystemdNotifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert notifier.watchdog is None


async def test_watchdog_task_pings_at_its_interval_until_closed(abstract_receiver):
    notifier = SystemdNotifier(abstract_receiver.address, watchdog=0.05)
    notifier.start_watchdog()
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "systemd watchdog"]
    assert len(tasks) == 1
    started = time.monotonic()
    for _ in range(4):
        assert await abstract_receiver.next() == ["WATCHDOG=1"]
    elapsed = time.monotonic() - started
    assert elapsed >= 0.05 * 3 * 0.9, "pings are spaced by the interval, not sent in a burst"
    await notifier.close()
    assert tasks[0].done()
    abstract_receiver.pending()
    await asyncio.sleep(0.15)
    assert abstract_receiver.pending() == [], "no pings after close"
    await notifier.close()  # a second close is harmless


class FakeService:
    kind = "agent"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.started = False
        self.stopped = False

    async def start(self) -> None:
        await asyncio.sleep(0.05)
        if self.fail:
            raise RuntimeError("plugin host exploded")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


async def test_run_until_signalled_says_ready_after_start_and_stopping_on_sigterm(
    abstract_receiver,
):
    service = FakeService()
    notifier = SystemdNotifier(abstract_receiver.address, watchdog=0.05)
    runner = asyncio.create_task(run_until_signalled(service, notifier))
    assert await abstract_receiver.next() == ["STATUS=starting the agent"]
    ready = await abstract_receiver.next()
    assert ready == ["READY=1", "STATUS=agent running"]
    assert service.started
    assert await abstract_receiver.next() == ["WATCHDOG=1"]
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(runner, RECEIVE_TIMEOUT)
    messages = abstract_receiver.pending()
    assert ["STOPPING=1", "STATUS=stopping the agent"] in messages
    assert service.stopped
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "systemd watchdog"]


async def test_a_service_that_fails_to_start_never_says_ready(abstract_receiver):
    service = FakeService(fail=True)
    notifier = SystemdNotifier(abstract_receiver.address, watchdog=0.05)
    with pytest.raises(RuntimeError, match="exploded"):
        await run_until_signalled(service, notifier)
    messages = abstract_receiver.pending()
    assert messages == [["STATUS=starting the agent"]]
    assert service.stopped


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_peek_server_process_notifies_ready_once_listening_and_stopping_on_sigterm(
    abstract_receiver, tmp_path: Path
):
    admin_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEEK")}
    env.update(
        NOTIFY_SOCKET=abstract_receiver.address,
        WATCHDOG_USEC="400000",
        PEEK__DATA_DIR=str(tmp_path / "data"),
        PEEK__SERVER__ADMIN_PORT=str(admin_port),
        PEEK__SERVER__EXCHANGE_PORT=str(_free_port()),
        PEEK__PLUGINS__ENABLED='["peek_plugin_noop"]',
    )
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "peek", "server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert abstract_receiver.next_blocking(60) == ["STATUS=starting the server"]
        assert abstract_receiver.next_blocking(60) == ["READY=1", "STATUS=server running"]
        # Ready means serving: the admin site accepts connections now.
        socket.create_connection(("127.0.0.1", admin_port), timeout=5).close()
        assert abstract_receiver.next_blocking(5) == ["WATCHDOG=1"]
        proc.send_signal(signal.SIGTERM)
        seen = []
        while ["STOPPING=1", "STATUS=stopping the server"] not in seen:
            seen.append(abstract_receiver.next_blocking(10))
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()
