"""The tuples active_task moves through the vortex; other plugins' UIs may use them too.

- ``active_task.Task`` is an observable on the server: the tasks of one user,
  selector ``{"user": <username>}``, oldest first. It needs a login, and a
  browser may watch only its own user's tasks (admins anyone's): another
  user's selector is refused with ``forbidden``.
- ``active_task.CompleteTask`` is an action: mark a task of the logged-in user
  done; the reply is the ``active_task.Task`` as it is now. Completing a task
  twice changes nothing, so a browser may safely resend it after being offline.
"""

from __future__ import annotations

from peek.plugin import AwareDatetime, Tuple

__all__ = ["ALL_TUPLES", "CompleteTask", "TaskTuple"]


class TaskTuple(Tuple, tag="active_task.Task"):
    task_id: str
    username: str
    title: str
    description: str = ""
    created_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None


class CompleteTask(Tuple, tag="active_task.CompleteTask"):
    task_id: str


ALL_TUPLES = (TaskTuple, CompleteTask)
