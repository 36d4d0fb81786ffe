"""Task functions the worker tests run (imported by the Celery worker child by ref)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from peek.plugin import task


@task
def echo(value: object) -> object:
    return value


@task
def fail(message: str) -> None:
    raise ValueError(message)


@task
def exit_fork(code: int) -> None:
    os._exit(code)


@task
def segfault() -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def _count_run(marker: str) -> int:
    with Path(marker).open("a", encoding="utf-8") as file:
        file.write(f"{os.getpid()}\n")
    return len(Path(marker).read_text(encoding="utf-8").splitlines())


@task
def kill_worker_once_started(marker: str) -> None:
    """Counts its run, then kills its whole Celery worker (main process and pool) at once:
    within microseconds of starting, before a main process that acknowledges tasks only
    when it gets round to it would have done so."""
    fd = os.open(marker, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, b"run\n")
    os.killpg(0, signal.SIGKILL)


@task(idempotent=True)
def exit_fork_counted(marker: str) -> None:
    _count_run(marker)
    os._exit(1)


@task(idempotent=True)
def slow_idempotent(marker: str, seconds: float) -> int:
    runs = _count_run(marker)
    time.sleep(seconds)
    return runs


@task
def slow_once(marker: str, seconds: float) -> int:
    runs = _count_run(marker)
    time.sleep(seconds)
    return runs


@task
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return time.time()


@task
def worker_pid() -> int:
    # The pool process's parent: the Celery worker that ran it.
    return os.getppid()


def not_a_task() -> None:
    """Has no @task mark."""
