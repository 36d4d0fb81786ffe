"""Real Peek processes for the rollout tests, and an admin-API client to drive them.

:class:`Cluster` starts either ``peek run`` (the local case: four supervised
services sharing one data directory) or a ``peek server`` with a
``peek client`` and a ``peek agent`` as separate processes with data
directories of their own (remote services: they download artifacts). Every
process is stopped and reaped when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from peek.config import load_config
from peek.services.server import token_store_path
from peek.vortex.tokens import TokenStore, write_secret_file

BOOT_TIMEOUT = 60.0
ROLLOUT_TIMEOUT = 90.0
STOP_TIMEOUT = 20.0


# Left out of the services' environment: no PEEK_* settings of the test run, and nothing
# that says systemd supervises them (a service run by hand restarts itself in place).
UNSUPERVISED = ("PEEK", "NOTIFY_SOCKET", "WATCHDOG_", "INVOCATION_ID")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    mode: str  # "run" or "separate"
    extra: str = ""
    database_url: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None
    token: str = ""
    kinds: tuple[str, ...] = ("client", "agent")
    enabled: tuple[str, ...] = ("peek_plugin_noop",)

    # -- set-up -----------------------------------------------------------------

    def data(self, kind: str = "server") -> Path:
        return self.root / ("data" if self.mode == "run" or kind == "server" else f"data-{kind}")

    def config(self, kind: str = "server") -> Path:
        return self.root / (
            "peek.toml" if self.mode == "run" or kind == "server" else f"{kind}.toml"
        )

    def write(self) -> None:
        """Blocking: configuration files and (separate mode) tokens."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.ports = {"admin": free_port(), "exchange": free_port(), "user": free_port()}
        server_url = f"http://127.0.0.1:{self.ports['exchange']}"
        database = f'database_url = "{self.database_url}"\n' if self.database_url else ""
        common = f"""
[server]
admin_port = {self.ports["admin"]}
exchange_port = {self.ports["exchange"]}
{database}
[client]
port = {self.ports["user"]}
server_url = "{server_url}"
[agent]
server_url = "{server_url}"
[worker]
server_url = "{server_url}"
[plugins]
enabled = {json.dumps(list(self.enabled))}
hook_timeout = 20
[vortex]
heartbeat = 1.0
[rollout]
import_timeout = 30
{self.extra}
"""
        self.config().write_text(f'data_dir = "{self.data()}"\n{common}', encoding="utf-8")
        if self.mode == "separate":
            store = TokenStore(token_store_path(load_config(self.config())))
            for kind in self.kinds:
                path = self.root / f"{kind}.token"
                _, token = store.create(kind, f"remote-{kind}")
                write_secret_file(path, token + "\n")
                self.config(kind).write_text(
                    f'data_dir = "{self.data(kind)}"\n{common}\n'.replace(
                        f"[{kind}]\n", f'[{kind}]\ntoken_file = "{path}"\n'
                    ),
                    encoding="utf-8",
                )

    async def start(self) -> None:
        await asyncio.to_thread(self.write)
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ROLLOUT_TIMEOUT))
        if self.mode == "run":
            await self.spawn("run")
        else:
            await self.spawn("server")
            for kind in self.kinds:
                await self.spawn(kind)
        await self.wait_services(set(self.expected()))

    def expected(self) -> list[str]:
        return (
            ["server", "client", "agent", "worker"]
            if self.mode == "run"
            else [
                "server",
                *self.kinds,
            ]
        )

    async def spawn(self, kind: str) -> None:
        log = await asyncio.to_thread((self.root / f"{kind}.log").open, "ab")
        config = self.config(kind)
        try:
            self.procs[kind] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "peek", kind, "--config", str(config),
                stdout=log, stderr=asyncio.subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith(UNSUPERVISED)}
                | {"PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        if kind in {"server", "run"}:
            await self._read_token()

    async def _read_token(self) -> None:
        path = self.data() / "server" / "admin.token"
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            with contextlib.suppress(FileNotFoundError):
                self.token = (await asyncio.to_thread(path.read_text)).strip()
                if self.token:
                    return
            assert time.monotonic() < deadline, f"no admin token:\n{self.logs()}"
            await asyncio.sleep(0.1)

    def signal(self, kind: str, sig: int) -> None:
        os.kill(self.procs[kind].pid, sig)

    async def kill(self, kind: str) -> None:
        proc = self.procs[kind]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)
                proc.terminate()
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        if self.http is not None:
            await self.http.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-6000:]}"
            for p in sorted(self.root.glob("*.log"))
        )

    # -- the admin API ------------------------------------------------------------

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin']}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self.http is not None
        async with self.http.request(
            method, self.admin + path, headers=self.headers, **kwargs
        ) as response:
            return response.status, await response.json(content_type=None)

    async def upload(self, wheel: Path) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("file", await asyncio.to_thread(wheel.read_bytes), filename=wheel.name)
        return await self.api("POST", "/api/plugins", data=form)

    async def events(self, number: int) -> list[dict[str, Any]]:
        """Every event of rollout ``number`` until it is done."""
        assert self.http is not None
        found = []
        async with self.http.get(
            f"{self.admin}/api/generations/{number}/events", headers=self.headers
        ) as response:
            assert response.status == 200
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    found.append(json.loads(line.removeprefix("data:")))
        return found

    async def wait_for(self, number: int, *wanted: tuple[str, str]) -> list[dict[str, Any]]:
        """Follow rollout ``number`` until every (service kind, step) in ``wanted`` was seen."""
        assert self.http is not None
        missing = set(wanted)
        seen = []
        async with self.http.get(
            f"{self.admin}/api/generations/{number}/events", headers=self.headers
        ) as response:
            async for raw in response.content:
                line = raw.decode().strip()
                if not line.startswith("data:"):
                    continue
                event = json.loads(line.removeprefix("data:"))
                seen.append(event)
                missing.discard((event["service"].split()[0], event["step"]))
                if not missing:
                    return seen
        raise AssertionError(f"rollout {number} ended without {missing}: {seen}")

    async def follow(self, number: int) -> list[dict[str, Any]]:
        """Every event of rollout ``number`` until it is done, across server restarts
        (the stream breaks when the server exits; it is read again once it is back)."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + ROLLOUT_TIMEOUT
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError, AssertionError):
                seen += await self.events(number)
                if seen and seen[-1]["step"] == "done" and seen[-1]["service"] == "server":
                    return seen
            await asyncio.sleep(0.3)
        raise AssertionError(f"rollout {number} did not end: {seen}\n{self.logs()}")

    def service_pids(self) -> dict[str, int]:
        """Blocking, ``peek run`` mode: ``{kind: pid}`` of the supervisor's children."""
        supervisor = self.procs["run"].pid
        found: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                argv = [a for a in (entry / "cmdline").read_bytes().split(b"\0") if a]
                if ppid == supervisor and b"peek" in argv:
                    found[argv[-1].decode()] = int(entry.name)  # ... -m peek ... <kind>
        return found

    async def roll_out(self, wheel: Path) -> dict[str, Any]:
        """Upload ``wheel``; the final event of its rollout."""
        status, body = await self.upload(wheel)
        assert status == 202, (status, body, self.logs())
        events = await self.events(body["generation"])
        return events[-1]

    async def status(self) -> dict[str, Any]:
        _, body = await self.api("GET", "/api/status")
        return dict(body)

    async def wait_services(self, kinds: set[str], generation: int | None = None) -> dict[str, Any]:
        """Until every service of ``kinds`` runs (on ``generation``); the status then."""
        deadline = time.monotonic() + BOOT_TIMEOUT
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError, ValueError):
                last = await self.status()
                running = {
                    s["kind"]
                    for s in last.get("services", [])
                    if s["state"] == "running"
                    and (generation is None or s.get("generation") == generation)
                    and all(p["state"] == "started" for p in s["plugins"])
                }
                if kinds <= running:
                    return last
            await asyncio.sleep(0.2)
        raise AssertionError(
            f"services {kinds} not running (gen {generation}): {last}\n{self.logs()}"
        )

    async def plugin_state(self, short: str, site: str = "admin") -> dict[str, Any]:
        assert self.http is not None
        port = self.ports["admin" if site == "admin" else "user"]
        async with self.http.get(
            f"http://127.0.0.1:{port}/plugins/{short}/state", headers=self.headers
        ) as response:
            assert response.status == 200, await response.text()
            return dict(await response.json())


def versions(status: dict[str, Any], plugin: str) -> dict[str, str | None]:
    """``{kind: version of plugin there}`` (None where it does not run)."""
    found: dict[str, str | None] = {}
    for svc in status["services"]:
        match = [p for p in svc["plugins"] if p["name"] == plugin]
        found[svc["kind"]] = match[0]["version"] if match else None
    return found


def generations(status: dict[str, Any]) -> dict[str, int | None]:
    return {svc["kind"]: svc.get("generation") for svc in status["services"]}


@contextlib.asynccontextmanager
async def cluster(root: Path, mode: str, **kwargs: Any) -> AsyncIterator[Cluster]:
    made = Cluster(root, mode, **kwargs)
    try:
        await made.start()
        yield made
    finally:
        await made.stop()
