"""The Celery worker of ``peek worker``: a supervised child process.

Why a child process, and not Celery's worker in this process:

- Celery's worker wants the main thread (its signal handlers and its own
  blocking loop), while the worker service's main thread runs the asyncio
  loop with the service link and the plugins' worker hooks. One of the two
  would have to move to a thread.
- The prefork pool forks. Forking a process that runs an asyncio loop,
  executor threads and open sockets hands every pool process copies of
  them, and locks other threads held at the moment of the fork. The child
  forks from a process that runs nothing but Celery.
- A Celery worker that dies is restarted (with backoff) by the service,
  which stays linked to the server meanwhile and reports it.

The service decides which plugins' tasks the child registers: the refs of
the task functions its running plugins contributed (``peek_worker_tasks``).
The child imports them, registers them on an app from :func:`make_celery`
and consumes those plugins' queues. It reads its instructions from the
environment (:data:`SPEC_ENV`), says it is ready on a pipe, and stops when
the service's end of a second pipe closes, so it does not outlive a service
that was killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from peek.config import PeekConfig
from peek.workers.app import (
    WORKER_POOL,
    make_celery,
    plugin_queues,
    register_plugin_tasks,
    resolve_task_refs,
)
from peek.workers.errors import WorkerStartError

__all__ = ["SPEC_ENV", "START_TIMEOUT", "STOP_GRACE", "WorkerProcess", "child_main"]

log = logging.getLogger(__name__)

SPEC_ENV = "PEEK_CELERY_WORKER_SPEC"
# Seconds the child may take to import plugins' tasks and connect.
START_TIMEOUT = 60.0
# Seconds running tasks get to finish when the worker stops (Celery's warm
# shutdown) before the child and its pool are killed.
STOP_GRACE = 20.0
RESTART_BACKOFF_MAX = 30.0
# Seconds between deletions of expired results in a database result backend.
RESULT_CLEANUP_MIN = 0.5
RESULT_CLEANUP_MAX = 3600.0


class WorkerProcess:
    """Starts, watches, restarts and stops one Celery worker child process.

    ``tasks`` maps plugin name to the refs of its task functions. ``env``
    adds environment variables for the child. Must be used from the event loop.
    """

    def __init__(
        self,
        config: PeekConfig,
        tasks: Mapping[str, Sequence[str]],
        *,
        hostname: str,
        log_format: str = "text",
        env: Mapping[str, str] | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.config = config
        self.tasks = {plugin: list(refs) for plugin, refs in tasks.items()}
        self.hostname = hostname
        self.log_format = log_format
        self.stop_grace = stop_grace
        self._env = dict(env or {})
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._lifeline: int | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Set while the child consumes; ``restarted`` once it was replaced.
        self.ready = asyncio.Event()
        self.restarted = asyncio.Event()

    @property
    def queues(self) -> list[str]:
        return plugin_queues(self.config.worker.queue_prefix, self.tasks)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self, timeout: float = START_TIMEOUT) -> None:  # noqa: ASYNC109
        """Spawn the child and wait until it consumes; raises :class:`WorkerStartError`."""
        await self._spawn(timeout)
        self._watcher = asyncio.get_running_loop().create_task(
            self._watch(), name=f"celery worker {self.hostname}"
        )

    async def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL of the child's process group after the grace."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.wait({self._watcher})
        await self._terminate()

    async def _spawn(self, timeout: float) -> None:  # noqa: ASYNC109
        self.ready.clear()
        ready_r, ready_w = os.pipe()
        life_r, life_w = os.pipe()
        spec = {
            "config": self.config.model_dump(mode="json"),
            "tasks": self.tasks,
            "hostname": self.hostname,
            "ready_fd": ready_w,
            "lifeline_fd": life_r,
            "log_format": self.log_format,
            "log_level": logging.getLevelName(logging.getLogger().getEffectiveLevel()),
        }
        env = dict(os.environ)
        env.update(self._env)
        env[SPEC_ENV] = json.dumps(spec)
        # The child imports what this process can import (plugins given as
        # specs in tests, development checkouts).
        paths = [self._env.get("PYTHONPATH", ""), *sys.path]
        env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "peek.workers",
                env=env,
                pass_fds=(ready_w, life_r),
                # Its own process group, so that its pool goes with it.
                start_new_session=True,
            )
        finally:
            os.close(ready_w)
            os.close(life_r)
        if self._lifeline is not None:
            os.close(self._lifeline)
        self._lifeline = life_w
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(ready_r, "rb")
        )
        try:
            line = loop.create_task(reader.readline(), name="celery worker ready")
            exited = loop.create_task(self.process.wait(), name="celery worker exit")
            done, _ = await asyncio.wait(
                {line, exited}, timeout=timeout, return_when="FIRST_COMPLETED"
            )
            line.cancel()
            exited.cancel()
            if line in done and not line.cancelled() and line.result() == b"ready\n":
                self.ready.set()
                log.info("Celery worker %s ready (pid %s)", self.hostname, self.process.pid)
                return
            code = self.process.returncode
            await self._terminate()
            reason = (
                f"exited with code {code}" if code is not None else f"not ready in {timeout:g} s"
            )
            raise WorkerStartError(code, reason)
        finally:
            transport.close()

    async def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            assert self.process is not None
            code = await self.process.wait()
            if self._stopping.is_set():
                return
            self.ready.clear()
            log.error(
                "the Celery worker %s exited with code %s; restarting in %.0f s",
                self.hostname,
                code,
                delay,
            )
            await self._kill_group()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            try:
                await self._spawn(START_TIMEOUT)
                self.restarts += 1
                self.restarted.set()
                delay = 1.0
            except WorkerStartError as exc:
                log.error("%s", exc)
                delay = min(delay * 2, RESTART_BACKOFF_MAX)

    async def _terminate(self) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), self.stop_grace)
            except TimeoutError:
                log.warning("the Celery worker did not stop in %g s; killing it", self.stop_grace)
        await self._kill_group()
        if process is not None:
            await process.wait()
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    async def _kill_group(self) -> None:
        # Pool processes left behind by a child that died are killed with it.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


# -- the child ---------------------------------------------------------------


def child_main() -> int:
    """Entry point of the Celery worker child (``python -m peek.workers``). Blocking."""
    from celery.signals import worker_ready

    from peek.logs import setup_logging

    spec: dict[str, Any] = json.loads(os.environ.pop(SPEC_ENV))
    setup_logging("worker", spec["log_format"], spec["log_level"])
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Two INFO lines per task ("received", "succeeded") drown everything
        # else and cost throughput; failures are still logged as errors.
        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    config = PeekConfig.model_validate(spec["config"])
    app = make_celery(config)
    if config.worker.broker_url is None:
        # The embedded broker has no fanout exchanges for remote control.
        app.conf.worker_enable_remote_control = False
    tasks: dict[str, list[str]] = spec["tasks"]
    for plugin, refs in tasks.items():
        try:
            names = register_plugin_tasks(app, plugin, resolve_task_refs(refs))
        except Exception:  # isolation boundary: one plugin's task modules
            log.exception("cannot register the tasks of %s", plugin, extra={"plugin": plugin})
            continue
        log.info("registered %s", ", ".join(names), extra={"plugin": plugin})
    ready_fd: int = spec["ready_fd"]

    def say_ready(**_: Any) -> None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)

    worker_ready.connect(say_ready, weak=False)
    _watch_lifeline(spec["lifeline_fd"])
    _clean_results(app, config.worker.result_expires)
    worker = app.Worker(
        hostname=spec["hostname"],
        queues=plugin_queues(config.worker.queue_prefix, tasks),
        concurrency=config.worker.concurrency,
        pool=WORKER_POOL,
        loglevel=spec["log_level"],
        quiet=True,
        without_gossip=True,
        without_mingle=True,
    )
    worker.start()
    return int(worker.exitcode or 0)


def _clean_results(app: Any, expires: float) -> None:
    """Delete expired results from a database result backend now and then.

    Redis expires results by itself; a database keeps them until someone
    deletes them (Celery leaves that to ``celery beat``, which Peek does not run).
    """
    from celery.backends.database import DatabaseBackend

    if not isinstance(app.backend, DatabaseBackend):
        return
    interval = min(max(expires / 2, RESULT_CLEANUP_MIN), RESULT_CLEANUP_MAX)

    def clean() -> None:
        while True:
            time.sleep(interval)
            try:
                app.backend.cleanup()
            except Exception:  # isolation boundary: retried at the next interval
                log.exception("cannot delete expired task results")

    threading.Thread(target=clean, name="peek-result-cleanup", daemon=True).start()


def _watch_lifeline(fd: int) -> None:
    """Stop (warm) when the service's end of the pipe closes: the service is gone."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(fd, 1):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="peek-lifeline", daemon=True).start()
