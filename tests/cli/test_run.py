"""``peek run`` and ``peek status`` as a sysadmin runs them: real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def run_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEEK")}
    env.update(
        PEEK__DATA_DIR=str(tmp_path / "data"),
        PEEK__SERVER__ADMIN_PORT=str(free_port()),
        PEEK__SERVER__EXCHANGE_PORT=str(free_port()),
        PEEK__CLIENT__PORT=str(free_port()),
        PEEK__PLUGINS__ENABLED='["peek_plugin_noop"]',
    )
    return env


def peek(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "peek", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for_all_services(env: dict[str, str]) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    last = None
    while time.monotonic() < deadline:
        result = peek("status", "--json", env=env)
        if result.returncode == 0:
            last = json.loads(result.stdout)
            running = [s for s in last["services"] if s["state"] == "running"]
            if len(running) == 4:
                return last
        time.sleep(0.3)
    raise AssertionError(f"not all four services came up: {last}")


def stop(proc: subprocess.Popen) -> None:
    """Stop ``peek run`` the way a sysadmin would, then make sure nothing is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def children_of(pid: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [int(p) for p in found]


@pytest.fixture
def peek_run(run_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "peek", "run"],
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    stop(proc)


def test_services_stop_when_the_supervisor_is_killed(peek_run, run_env):
    wait_for_all_services(run_env)
    services = children_of(peek_run.pid)
    assert len(services) == 4
    peek_run.kill()
    peek_run.wait()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while any(Path(f"/proc/{pid}").exists() for pid in services):
        assert time.monotonic() < deadline, "services outlived their supervisor"
        time.sleep(0.1)


def test_peek_run_starts_four_services_and_sigterm_exits_0(peek_run, run_env):
    status = wait_for_all_services(run_env)
    assert sorted(s["kind"] for s in status["services"]) == ["agent", "client", "server", "worker"]
    for service in status["services"]:
        assert [p["state"] for p in service["plugins"]] == ["started"], service

    url = f"http://127.0.0.1:{run_env['PEEK__CLIENT__PORT']}/plugins/noop/server-ping"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert json.load(response)["server"]["answer"] == "pong from server"

    peek_run.send_signal(signal.SIGTERM)
    output, _ = peek_run.communicate(timeout=60)
    assert peek_run.returncode == 0, output
    for kind in ("server", "client", "agent", "worker"):
        assert f"{kind} stopped (exit code 0)" in output
    assert "noop unload on the server" in output


def test_status_json_has_the_documented_shape(peek_run, run_env):
    status = wait_for_all_services(run_env)
    assert set(status) >= {"services"}
    for service in status["services"]:
        assert service["kind"] in ("server", "client", "agent", "worker")
        assert isinstance(service["name"], str)
        assert service["state"] in ("running", "down")
        for plugin in service["plugins"]:
            assert set(plugin) == {"name", "version", "state", "error"}
            assert plugin["state"] in ("started", "failed", "stopped")


def test_status_human_output_is_a_table(peek_run, run_env):
    wait_for_all_services(run_env)
    result = peek("status", env=run_env)
    assert result.returncode == 0
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["SERVICE", "NAME", "STATE", "GENERATION"]
    # peek run's services all run the first plugin generation.
    assert {row.split()[3] for row in rows if row.split()[0] in ("server", "client")} == {"1"}
    assert {row.split()[0] for row in rows} == {"server", "client", "agent", "worker"}


def test_peek_run_restarts_a_service_that_dies(peek_run, run_env):
    status = wait_for_all_services(run_env)
    del status
    # Find the agent child and kill it hard; the supervisor must bring it back.
    children = subprocess.run(
        ["pgrep", "-f", "-P", str(peek_run.pid), "peek.*agent"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert children, "agent child not found"
    os.kill(int(children[0]), signal.SIGKILL)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        again = subprocess.run(
            ["pgrep", "-f", "-P", str(peek_run.pid), "peek.*agent"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if again and again != children:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("agent was not restarted")
    wait_for_all_services(run_env)


def test_status_without_a_server_fails_and_says_where_it_looked(run_env):
    result = peek("status", env=run_env)
    assert result.returncode != 0
    assert "admin token" in result.stderr or "cannot reach" in result.stderr
    Path(run_env["PEEK__DATA_DIR"], "server").mkdir(parents=True)
    Path(run_env["PEEK__DATA_DIR"], "server", "admin.token").write_text("x")
    result = peek("status", env=run_env)
    assert result.returncode != 0
    assert f"127.0.0.1:{run_env['PEEK__SERVER__ADMIN_PORT']}" in result.stderr


def test_peek_version_prints_the_version(run_env):
    from peek import __version__

    result = peek("--version", env=run_env)
    assert result.stdout.strip() == f"peek {__version__}"


def test_peek_run_under_systemd_is_ready_once_all_four_services_are(run_env, tmp_path):
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(STARTUP_TIMEOUT)
    env = {**run_env, "NOTIFY_SOCKET": str(tmp_path / "notify.sock")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "peek", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        messages: list[str] = []
        while "READY=1" not in messages:
            messages += notify.recv(4096).decode().splitlines()
        # Every child said READY=1 (its plugins started); their links follow.
        assert "all services running" in " ".join(messages)
        wait_for_all_services(run_env)
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in messages:
            messages += notify.recv(4096).decode().splitlines()
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
    finally:
        notify.close()
        stop(proc)
