"""Celery for Peek: the app built from config, plugins' tasks, the asyncio caller, the worker.

- :func:`make_celery` builds the installation's Celery app (no global app).
- :class:`TaskClient` queues tasks and awaits results from asyncio; it is
  what server-side plugins get as ``ctx.resources.tasks``.
- :class:`WorkerProcess` runs and supervises the Celery worker of ``peek worker``.
- :mod:`peek.workers.embedded` is the serverless broker of ``peek run``.

This package does not import ``peek.vortex`` or ``peek.storage``.
"""

from peek.workers.app import (
    TaskRef,
    make_celery,
    plugin_of,
    queue_for,
    register_plugin_tasks,
    task_refs,
)
from peek.workers.client import TaskClient
from peek.workers.errors import TaskDefinitionError, WorkerError, WorkerStartError
from peek.workers.process import WorkerProcess

__all__ = [
    "TaskClient",
    "TaskDefinitionError",
    "TaskRef",
    "WorkerError",
    "WorkerProcess",
    "WorkerStartError",
    "make_celery",
    "plugin_of",
    "queue_for",
    "register_plugin_tasks",
    "task_refs",
]
