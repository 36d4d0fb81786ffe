"""The public API of ``active_task``: what ``ctx.api("active_task")`` returns on the server.

A plugin that wants to give users something to do declares
``[requires] active_task = ">=0.1"`` and::

    from peek_plugin_active_task.server import ActiveTaskApi

    tasks: ActiveTaskApi = ctx.api("active_task")
    task = await tasks.add_task("alice", "Inspect feeder 12", "Reported hot by SCADA")
    ...
    await tasks.complete_task(task.task_id)

Tasks are for users that the ``user`` API knows (whichever plugin provides
it). Delivering tasks to the users' devices lands with the vortex
observables; until then they are kept, and queried, on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from peek.errors import PeekError

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_TITLE_LENGTH",
    "ActiveTaskApi",
    "ActiveTaskError",
    "InvalidTask",
    "Task",
    "UnknownTask",
    "UnknownUser",
]

MAX_TITLE_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 10_000


@dataclass(frozen=True, slots=True)
class Task:
    """One task for one user. Times are timezone-aware UTC."""

    task_id: str
    username: str
    title: str
    description: str
    created_at: datetime
    completed_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


@runtime_checkable
class ActiveTaskApi(Protocol):
    """The ``active_task`` API. Every method must run in the event loop; none blocks it."""

    async def add_task(self, username: str, title: str, description: str = "") -> Task:
        """Give ``username`` a new, open task.

        Raises :class:`UnknownUser` if the ``user`` API does not know the
        user, and :class:`InvalidTask` for an empty or overlong title or
        description. The task's ``username`` is the user API's spelling.
        """
        ...

    async def tasks_for(self, username: str, *, include_completed: bool = True) -> list[Task]:
        """The user's tasks, oldest first (an empty list for an unknown user)."""
        ...

    async def get_task(self, task_id: str) -> Task | None:
        """The task with this id, or ``None``."""
        ...

    async def complete_task(self, task_id: str) -> Task:
        """Mark the task done and return it; completing it again changes nothing.

        Raises :class:`UnknownTask`.
        """
        ...

    async def remove_task(self, task_id: str) -> None:
        """Forget the task, done or not. Raises :class:`UnknownTask`."""
        ...


class ActiveTaskError(PeekError):
    """Base of the errors the ``active_task`` API raises on purpose."""


class UnknownUser(ActiveTaskError, LookupError):
    """The ``user`` API does not know ``username``, so no task can be given to them."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"cannot give a task to {username!r}: no such user")


class UnknownTask(ActiveTaskError, LookupError):
    """No task has id ``task_id``."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no task with id {task_id!r}")


class InvalidTask(ActiveTaskError, ValueError):
    """The task's ``field`` is unacceptable; ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"invalid task {field}: {reason}")
