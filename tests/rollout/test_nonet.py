"""Code from an upload runs without network: a child of the sandbox, and the children it
starts, can open unix sockets but no network socket; the service itself is untouched."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.rollout import nonet
from peek.rollout.sandbox import ChildResult, run_bounded, scrubbed_env

WAIT = 30.0

CONNECT = textwrap.dedent(
    """
    import socket, sys
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    except OSError as exc:
        print(type(exc).__name__, exc.errno)
    else:
        print("connected")
    """
)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on loopback that counts who got through."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        yield server


def accepted(server: socket.socket) -> bool:
    try:
        conn, _ = server.accept()
    except TimeoutError:
        return False
    conn.close()
    return True


def port(server: socket.socket) -> str:
    return str(server.getsockname()[1])


def sandboxed(code: str, *args: str, home: Path) -> ChildResult:
    """``python -c code args`` the way builds and import checks run."""
    return run_bounded(
        [sys.executable, "-c", code, *args], cwd=home, env=scrubbed_env(home), timeout=WAIT
    )


def test_a_sandboxed_child_cannot_open_a_network_socket(
    listener: socket.socket, tmp_path: Path
) -> None:
    result = sandboxed(CONNECT, port(listener), home=tmp_path)
    assert result.stdout.split() == ["PermissionError", "13"], result.tail()
    assert not accepted(listener)


def test_nor_can_a_process_it_starts(listener: socket.socket, tmp_path: Path) -> None:
    starts_another = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {CONNECT!r}, sys.argv[1]], check=True)\n"
    )
    result = sandboxed(starts_another, port(listener), home=tmp_path)
    assert result.stdout.split() == ["PermissionError", "13"], result.tail()
    assert not accepted(listener)


def test_unix_sockets_still_work_in_the_sandbox(tmp_path: Path) -> None:
    pair = "import socket\na, b = socket.socketpair()\na.sendall(b'ok')\nprint(b.recv(2).decode())"
    result = sandboxed(pair, home=tmp_path)
    assert result.returncode == 0, result.tail()
    assert result.stdout.strip() == "ok"
    assert nonet.UNAVAILABLE not in result.stderr


def test_the_same_child_outside_the_sandbox_connects(listener: socket.socket) -> None:
    # The control: the refusal above comes from the sandbox, not from the test's set-up.
    done = subprocess.run(
        [sys.executable, "-c", CONNECT, port(listener)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.stdout.strip() == "connected", done.stderr
    assert accepted(listener)
