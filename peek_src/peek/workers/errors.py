"""Errors of the worker area (what a task's caller sees is in :mod:`peek.plugin.tasks`)."""

from __future__ import annotations

from peek.errors import PeekError

__all__ = ["TaskDefinitionError", "WorkerError", "WorkerStartError"]


class WorkerError(PeekError):
    """Base of the errors of Peek's Celery wiring."""


class TaskDefinitionError(WorkerError):
    """A plugin contributed something that cannot be a task (``task`` names it)."""

    def __init__(self, task: str, reason: str) -> None:
        self.task = task
        self.reason = reason
        super().__init__(f"task {task}: {reason}")


class WorkerStartError(WorkerError):
    """The Celery worker process exited before it was ready (``code`` is its exit code)."""

    def __init__(self, code: int | None, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"the Celery worker did not start: {reason}")
