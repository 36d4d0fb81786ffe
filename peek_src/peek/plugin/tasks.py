"""Worker tasks as plugin authors write, contribute and call them.

A task is a plain module-level function marked with :func:`task`::

    # peek_plugin_weather/_private/tasks.py
    from peek.plugin import task

    @task(idempotent=True)
    def forecast(city: str) -> dict[str, float]:
        ...

The plugin's worker hook contributes it (or its whole module) through the
``peek_worker_tasks`` hook; the platform registers it as the Celery task
``peek_plugin_weather.forecast`` on the plugin's own queue. Server-side code
of the plugin queues it and awaits the result without blocking the loop::

    result = await ctx.resources.tasks.call("peek_plugin_weather.forecast", ["Oslo"])

Arguments and results travel as JSON. Nothing here imports Celery: the
platform does the wiring.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, overload

from peek.errors import PeekError

__all__ = [
    "DEFAULT_TASK_TIMEOUT",
    "TASK_ATTRIBUTE",
    "TaskCalls",
    "TaskCrashed",
    "TaskError",
    "TaskFailed",
    "TaskOptions",
    "TaskTimeout",
    "task",
    "task_options",
]

F = TypeVar("F", bound=Callable[..., Any])

# Seconds :meth:`TaskCalls.call` waits for a result unless told otherwise.
DEFAULT_TASK_TIMEOUT = 300.0
# Where :func:`task` keeps its options on the function.
TASK_ATTRIBUTE = "__peek_task__"


@dataclass(frozen=True)
class TaskOptions:
    """How the platform runs one task function.

    - ``name``: the task's name inside its plugin (default: the function's
      name); the full name is ``<plugin>.<name>``.
    - ``idempotent``: running it twice does no harm. Only then is a task
      whose worker died mid-run delivered again, and it runs at most once
      more. A task that is not idempotent is acknowledged when it starts:
      it runs at most once, and a worker lost under it is reported as
      :class:`TaskCrashed`.
    - ``time_limit``: seconds after which the process running it is killed
      (reported as :class:`TaskCrashed`); None for no limit.
    """

    name: str | None = None
    idempotent: bool = False
    time_limit: float | None = None


@overload
def task(fn: F, /) -> F: ...


@overload
def task(
    *, name: str | None = None, idempotent: bool = False, time_limit: float | None = None
) -> Callable[[F], F]: ...


def task(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    idempotent: bool = False,
    time_limit: float | None = None,
) -> F | Callable[[F], F]:
    """Mark a module-level function as a worker task (see :class:`TaskOptions`).

    Usable bare (``@task``) or with options (``@task(idempotent=True)``). The
    function is returned unchanged, so tests may call it directly.
    """
    options = TaskOptions(name=name, idempotent=idempotent, time_limit=time_limit)

    def mark(func: F) -> F:
        setattr(func, TASK_ATTRIBUTE, options)
        return func

    return mark(fn) if fn is not None else mark


def task_options(obj: object) -> TaskOptions | None:
    """The options :func:`task` put on ``obj``, or None if it is not a task."""
    options = getattr(obj, TASK_ATTRIBUTE, None)
    return options if isinstance(options, TaskOptions) else None


class TaskError(PeekError):
    """Base of the errors a queued task reports to its caller.

    ``task`` is the full task name, ``task_id`` the id it was queued under.
    """

    def __init__(self, task: str, task_id: str, message: str) -> None:
        self.task = task
        self.task_id = task_id
        super().__init__(f"task {task} [{task_id}]: {message}")


class TaskFailed(TaskError):
    """The task raised. ``exc_type`` is the qualified class name of what it
    raised (``builtins.ValueError``), ``exc_message`` its message and
    ``remote_traceback`` the worker's traceback text, when known."""

    def __init__(
        self,
        task: str,
        task_id: str,
        exc_type: str,
        exc_message: str,
        remote_traceback: str | None = None,
    ) -> None:
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.remote_traceback = remote_traceback
        super().__init__(task, task_id, f"raised {exc_type}: {exc_message}")


class TaskCrashed(TaskFailed):
    """The process running the task died under it (``os._exit``, a signal such
    as a segfault or the OOM killer, or its time limit), and it was not run
    again: it is not idempotent, or it already had its second run."""


class TaskTimeout(TaskError):
    """No result arrived within the caller's timeout. The task may still run
    (no worker serves its plugin, the queue is long) or its result expired."""

    def __init__(self, task: str, task_id: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(task, task_id, f"no result within {timeout:g} s")


class TaskCalls(Protocol):
    """Queues tasks on the workers and awaits their results (``ctx.resources.tasks``).

    Must be used from the event loop; nothing here blocks it.
    """

    async def call(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        # A deadline the result waiter keeps, not a cancellation scope.
        timeout: float = DEFAULT_TASK_TIMEOUT,  # noqa: ASYNC109
    ) -> Any:
        """Queue task ``name`` (``"<plugin>.<task>"``) and return its result.

        Raises :class:`TaskFailed` if the task raised, :class:`TaskCrashed`
        if its process died, :class:`TaskTimeout` if no result came in time.
        """
        ...

    async def submit(
        self, name: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> str:
        """Queue task ``name`` and return its id at once (see :meth:`result`)."""
        ...

    async def result(
        self,
        name: str,
        task_id: str,
        *,
        timeout: float = DEFAULT_TASK_TIMEOUT,  # noqa: ASYNC109
    ) -> Any:
        """Await the result of a task queued with :meth:`submit`; raises as :meth:`call`.

        Results are kept for ``[worker] result_expires`` seconds: later, the
        result is gone and this raises :class:`TaskTimeout`.
        """
        ...
