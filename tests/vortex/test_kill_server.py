"""kill -9 of the server process mid-traffic: a client and an agent (separate
processes) reconnect and resubscribe on their own, and in-flight actions are
answered once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from peek.config import load_config
from peek.services.server import token_store_path
from peek.testing.vortex import VortexBrowser
from peek.vortex.codec import TupleRegistry
from peek.vortex.tokens import TokenStore, write_secret_file
from peek_plugin_noop.tuples import ALL_TUPLES, Bump, Echo

from .conftest import ADMIN, PASSWORD

BOOT_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_setup(tmp: Path) -> tuple[Path, dict[str, int]]:
    """Blocking: the config file and the service tokens."""
    ports = {"admin": free_port(), "exchange": free_port(), "user": free_port()}
    (tmp / "admin-password").write_text(PASSWORD, encoding="utf-8")
    server_url = f"http://127.0.0.1:{ports['exchange']}"
    path = tmp / "peek.toml"
    path.write_text(
        f"""
data_dir = "{tmp / "data"}"
[server]
admin_port = {ports["admin"]}
exchange_port = {ports["exchange"]}
[client]
port = {ports["user"]}
server_url = "{server_url}"
[agent]
server_url = "{server_url}"
[plugins]
enabled = ["peek_plugin_noop", "peek_plugin_user"]
[vortex]
heartbeat = 1.0
grace = 0.5
[plugin.peek_plugin_noop]
observe = "kill"
[plugin.peek_plugin_user]
initial_admin = "{ADMIN}"
initial_admin_password_file = "{tmp / "admin-password"}"
[plugin.peek_plugin_user.argon2]
time_cost = 1
memory_cost = 64
parallelism = 1
""",
        encoding="utf-8",
    )
    config = load_config(path)
    store = TokenStore(token_store_path(config))
    for kind in ("client", "agent"):
        _, token = store.create(kind, f"kill-{kind}")
        write_secret_file(config.token_file(kind), token)
    return path, ports


async def spawn(kind: str, config: Path, log: Path) -> asyncio.subprocess.Process:
    out = await asyncio.to_thread(open, log, "ab")
    try:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "peek",
            kind,
            "--config",
            str(config),
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        out.close()


async def wait_healthy(http: aiohttp.ClientSession, port: int) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        assert time.monotonic() < deadline, f"nothing healthy on port {port}"
        await asyncio.sleep(0.1)


async def read_observed(path: Path) -> str | None:
    try:
        return (await asyncio.to_thread(path.read_text, encoding="utf-8")).strip()
    except FileNotFoundError:
        return None


async def test_kill_9_of_the_server_mid_traffic(tmp_path):
    registry = TupleRegistry()
    registry.register("noop", *ALL_TUPLES)
    config, ports = await asyncio.to_thread(write_setup, tmp_path)
    observed = tmp_path / "data" / "plugins" / "agent" / "peek_plugin_noop" / "observed-kill"
    procs: dict[str, asyncio.subprocess.Process] = {}
    browser = VortexBrowser(f"http://127.0.0.1:{ports['user']}")
    traffic: asyncio.Task[None] | None = None
    try:
        async with aiohttp.ClientSession() as http:
            procs["server"] = await spawn("server", config, tmp_path / "server.log")
            await wait_healthy(http, ports["admin"])
            procs["client"] = await spawn("client", config, tmp_path / "client.log")
            procs["agent"] = await spawn("agent", config, tmp_path / "agent.log")
            await wait_healthy(http, ports["user"])

            deadline = time.monotonic() + BOOT_TIMEOUT
            while await browser.login(ADMIN, PASSWORD) != 200:  # the client links up
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            await browser.connect()
            await browser.subscribe("noop.Counter", {"name": "kill"})

            def value(frame) -> int:
                return registry.decode(frame.payload(1 << 20))[0].value

            assert value(await browser.expect("data", within=BOOT_TIMEOUT)) == 0
            assert value(await browser.action(Bump(name="kill", by=1))) == 1
            assert value(await browser.expect("data")) == 1
            for _ in range(200):
                if await read_observed(observed) == "1":
                    break
                await asyncio.sleep(0.05)
            assert await read_observed(observed) == "1", "the agent never saw the counter"

            # Traffic: actions one after another, each awaited, through the kill.
            answers: list[str] = []

            async def echo_loop() -> None:
                for i in range(10_000):
                    frame = await browser.action(
                        Echo(number=i), action_id=secrets.token_hex(8), within=60
                    )
                    answers.append(frame.type if frame.type == "reply" else frame.header["code"])

            traffic = asyncio.ensure_future(echo_loop())
            while len(answers) < 20:  # noqa: ASYNC110 - the traffic task owns the list
                await asyncio.sleep(0.01)
            procs["server"].send_signal(signal.SIGKILL)
            await procs["server"].wait()
            sent_before = len(answers)
            procs["server"] = await spawn("server", config, tmp_path / "server.log")
            await wait_healthy(http, ports["admin"])

            # Resubscribed by the client on its own: the new server's counter starts at 0.
            await browser.expect("data", lambda f: value(f) == 0, within=BOOT_TIMEOUT)
            while len(answers) < sent_before + 20:  # noqa: ASYNC110 - traffic flows again
                await asyncio.sleep(0.05)
            assert value(await browser.action(Bump(name="kill", by=1000))) == 1000
            assert value(await browser.expect("data", lambda f: value(f) == 1000)) == 1000
            for _ in range(400):
                if await read_observed(observed) == "1000":
                    break
                await asyncio.sleep(0.05)
            assert await read_observed(observed) == "1000", "the agent did not resubscribe"

            traffic.cancel()
            await asyncio.wait({traffic})
            # Every action was answered: by its processor, or (if the kill cut it
            # mid-processing) with a clear "indeterminate"; none lost or run twice.
            assert set(answers) <= {"reply", "indeterminate"}, set(answers)
    finally:
        if traffic is not None:
            traffic.cancel()
        await browser.close()
        for proc in procs.values():
            if proc.returncode is None:
                proc.terminate()
        for proc in procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
