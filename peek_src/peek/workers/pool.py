"""Celery's prefork pool, with a pool process that waits for its task to be accepted.

Celery acknowledges a task that is not acks-late (not idempotent, see
:mod:`peek.workers.app`) when the pool process that took it says so; by
default that process starts the task at once, while the worker's main
process acknowledges it whenever it gets to the message. A worker killed in
between (the OOM killer, ``kill -9``; under load the gap is milliseconds)
leaves the message unacknowledged: the broker delivers it again, and a task
that must not run twice runs twice.

billiard's pools can close that gap themselves (``synack``): the pool process
announces the task, the main process runs the accept callback (which
acknowledges the message) and only then answers, and the pool process starts
the task once it has the answer. Celery's prefork pool hard-codes it off; the
classes here turn it on: billiard's event-loop pool (brokers such as RabbitMQ)
implements it, and for its blocking pool (polling brokers such as the
embedded one), which accepts the option but leaves the answer out, this
module adds what is missing: a pipe per pool process for the answers. The
cost is one pipe round trip per task.

With the embedded broker an acknowledgement is a committed ``DELETE`` of the
message, so a started task is never delivered again. With AMQP it is a frame
written to the broker's socket: only a host that dies before the kernel has
sent that frame can still see the task delivered again.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from billiard.pool import Pool as BillardPool
from celery.concurrency import prefork
from celery.concurrency.asynpool import AsynPool

__all__ = ["TaskPool"]

log = logging.getLogger(__name__)


class _AcceptedFirstAsynPool(AsynPool):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["synack"] = True
        super().__init__(*args, **kwargs)


class _AcceptedFirstBlockingPool(BillardPool):  # type: ignore[misc]
    """billiard's blocking pool with the answer pipes its ``synack`` needs.

    A pool process announces a task with the write end's descriptor number of
    its answer pipe (the same number in this process: the pipe was made here
    before the fork); the result thread answers there once the accept callback
    has run.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before the base class starts the pool processes.
        self._answer_pipes: dict[int, Any] = {}
        self._answer_lock = threading.Lock()
        kwargs["synack"] = True
        super().__init__(*args, **kwargs)

    def get_process_queues(self) -> tuple[Any, Any, Any]:
        inq, outq, _ = super().get_process_queues()
        return inq, outq, self._ctx.SimpleQueue()

    def _process_register_queues(self, worker: Any, queues: tuple[Any, Any, Any]) -> None:
        answers = queues[2]
        worker.peek_answers = answers
        with self._answer_lock:
            self._answer_pipes[answers._writer.fileno()] = answers

    def _process_cleanup_queues(self, worker: Any) -> None:
        answers = getattr(worker, "peek_answers", None)
        if answers is None:
            return
        with self._answer_lock:
            self._answer_pipes.pop(answers._writer.fileno(), None)
        answers.close()

    def send_ack(self, response: Any, pid: int, job: Any, fd: int) -> None:
        with self._answer_lock:
            answers = self._answer_pipes.get(fd)
        if answers is None:
            return  # that pool process is gone
        try:
            answers.put((response, ()))
        except OSError:
            # It died meanwhile; its task never started.
            log.debug("pool process %s is gone; not answering for job %s", pid, job)


class TaskPool(prefork.TaskPool):  # type: ignore[misc]
    """``worker_pool = "peek.workers.pool:TaskPool"``: prefork, tasks started only once accepted."""

    Pool = _AcceptedFirstAsynPool
    BlockingPool = _AcceptedFirstBlockingPool
