"""``peek run``: the four services as supervised child processes on one host.

Each service runs in its own process (as it would on separate hosts), with
its output prefixed by the service's name. A child that dies is restarted
with capped exponential backoff. SIGTERM or SIGINT stops the children in
reverse start order (worker, agent, client, server), each with SIGTERM and a
grace period, and the supervisor exits 0.

Under systemd the supervisor is the unit's main process: each child gets a
notification socket of the supervisor's own (it reports ``READY=1`` there, as
it would to systemd), and the supervisor tells systemd ``READY=1`` once all
four are ready, feeds the watchdog and reports ``STOPPING=1``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from peek.config import PeekConfig, ServiceKind
from peek.rollout.participant import RESTART_EXIT_CODE
from peek.services.common import SUPERVISOR_ENV
from peek.services.server import token_store_path
from peek.services.systemd import NOTIFY_ENV, WATCHDOG_ENV, SystemdNotifier
from peek.vortex.link import Backoff
from peek.vortex.tokens import TokenStore, write_secret_file

__all__ = ["Supervisor", "ensure_local_tokens"]

log = logging.getLogger(__name__)

START_ORDER: tuple[ServiceKind, ...] = ("server", "client", "agent", "worker")
STOP_GRACE = 20.0
# A child that ran this long before dying is considered healthy: restart fast.
HEALTHY_AFTER = 30.0


def ensure_local_tokens(config: PeekConfig) -> None:
    """Give the local client, agent and worker a valid token file. Blocking.

    An existing token file that the server accepts is kept; otherwise a new
    token is created in the server's store and written to the file (0600).
    """
    store = TokenStore(token_store_path(config))
    upstream: tuple[ServiceKind, ...] = ("client", "agent", "worker")
    for kind in upstream:
        path = config.token_file(kind)
        with contextlib.suppress(OSError):
            if store.verify(path.read_text(encoding="utf-8")):
                continue
        _, token = store.create(kind, f"local-{kind}")
        write_secret_file(path, token + "\n")
        log.info("created a %s token in %s", kind, path)


@dataclass
class Child:
    kind: ServiceKind
    argv: list[str]
    env: Mapping[str, str]
    prefix_output: bool
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=30.0))
    pumps: list[asyncio.Task[None]] = field(default_factory=list)
    ready: bool = False
    # The notification socket this child reports readiness on (see _listen).
    notify_socket: socket.socket | None = None


class Supervisor:
    """Starts, watches and stops the child services of ``peek run``."""

    def __init__(
        self,
        config: PeekConfig,
        *,
        config_path: Path | None,
        log_format: str = "text",
        kinds: Sequence[ServiceKind] = START_ORDER,
        python: str = sys.executable,
        notifier: SystemdNotifier | None = None,
    ) -> None:
        self.config = config
        self._stopping = asyncio.Event()
        self.notifier = notifier if notifier is not None else SystemdNotifier.from_environ()
        self.all_ready = asyncio.Event()
        env = dict(os.environ)
        # The children report to the supervisor, never straight to systemd.
        for key in (NOTIFY_ENV, *WATCHDOG_ENV):
            env.pop(key, None)
        if config_path is not None:
            env["PEEK_CONFIG"] = str(config_path.resolve())
        env["PEEK__DATA_DIR"] = str(config.data_dir)
        # Point the children at this host's server unless the file says otherwise.
        exchange = f"http://{_dial_host(config.server.host)}:{config.server.exchange_port}"
        for kind in ("client", "agent", "worker"):
            if "server_url" not in getattr(config, kind).model_fields_set:
                env[f"PEEK__{kind.upper()}__SERVER_URL"] = exchange
        env["PYTHONUNBUFFERED"] = "1"
        env[SUPERVISOR_ENV] = str(os.getpid())
        self.children = [
            Child(
                kind,
                [python, "-m", "peek", "--log-format", log_format, kind],
                env,
                prefix_output=log_format == "text",
            )
            for kind in kinds
        ]

    def request_stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        """Run until asked to stop; returns the exit code (0 on a clean stop)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, ensure_local_tokens, self.config)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        for child in self.children:
            self._listen(child, loop)
        self.notifier.status("starting the services")
        watchers = [
            loop.create_task(self._watch(child), name=f"supervise {child.kind}")
            for child in self.children
        ]
        try:
            await self._stopping.wait()
            log.info("stopping all services")
        finally:
            self.notifier.stopping("stopping the services")
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            for child in reversed(self.children):
                await self._stop_child(child)
            for task in watchers:
                task.cancel()
            await asyncio.wait(watchers)
            for child in self.children:
                if child.notify_socket is not None:
                    loop.remove_reader(child.notify_socket.fileno())
                    child.notify_socket.close()
            await self.notifier.close()
        return 0

    def _listen(self, child: Child, loop: asyncio.AbstractEventLoop) -> None:
        # An abstract-namespace datagram socket per child: no file to clean
        # up, and which child spoke is known from the socket it spoke on.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        name = f"peek-run-{os.getpid()}-{child.kind}-{secrets.token_hex(4)}"
        sock.bind(b"\0" + name.encode())
        sock.setblocking(False)
        child.notify_socket = sock
        child.env = {**child.env, NOTIFY_ENV: "@" + name}
        loop.add_reader(sock.fileno(), self._on_notify, child)

    def _on_notify(self, child: Child) -> None:
        assert child.notify_socket is not None
        while True:
            try:
                data = child.notify_socket.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            lines = data.decode(errors="replace").splitlines()
            if "READY=1" in lines and not child.ready:
                child.ready = True
                log.info("%s is ready", child.kind)
                if all(c.ready for c in self.children) and not self.all_ready.is_set():
                    self.all_ready.set()
                    self.notifier.ready("all services running")
                    self.notifier.start_watchdog()

    async def _watch(self, child: Child) -> None:
        while not self._stopping.is_set():
            await self._spawn(child)
            assert child.process is not None
            code = await child.process.wait()
            await asyncio.wait(child.pumps)
            if self._stopping.is_set():
                return
            child.ready = False
            ran = time.monotonic() - child.started
            self.notifier.status(f"{child.kind} exited with code {code}; restarting")
            if ran > HEALTHY_AFTER:
                child.backoff.reset()
            delay = child.backoff.next_delay() + 0.5
            child.restarts += 1
            if code == RESTART_EXIT_CODE:
                # It stopped on purpose to run a new plugin generation: no backoff.
                child.backoff.reset()
                delay = 0.0
                log.warning("%s stopped to restart into a new plugin generation", child.kind)
            else:
                log.error(
                    "%s exited with code %s after %.1f s; restarting in %.1f s",
                    child.kind,
                    code,
                    ran,
                    delay,
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)

    async def _spawn(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=dict(child.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Own process group: a Ctrl-C in the terminal reaches the supervisor
            # only, which then stops the children in order.
            start_new_session=True,
        )
        child.started = time.monotonic()
        log.info("started %s (pid %s)", child.kind, child.process.pid)
        loop = asyncio.get_running_loop()
        assert child.process.stdout is not None and child.process.stderr is not None
        child.pumps = [
            loop.create_task(_pump(child.process.stdout, child, sys.stdout)),
            loop.create_task(_pump(child.process.stderr, child, sys.stderr)),
        ]

    async def _stop_child(self, child: Child) -> None:
        proc = child.process
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            log.error("%s did not stop within %g s; killing it", child.kind, STOP_GRACE)
            proc.kill()
            await proc.wait()
        if child.pumps:
            await asyncio.wait(child.pumps)
        log.info("%s stopped (exit code %s)", child.kind, proc.returncode)


async def _pump(stream: asyncio.StreamReader, child: Child, out: object) -> None:
    prefix = f"{child.kind:<6} | ".encode() if child.prefix_output else b""
    buffer = getattr(out, "buffer", None)
    while line := await stream.readline():
        if buffer is not None:
            buffer.write(prefix + line)
            buffer.flush()


def _dial_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
