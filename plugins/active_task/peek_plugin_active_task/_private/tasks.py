"""The tasks on the server: kept in a JSON file, checked against the ``user`` API."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from peek_plugin_active_task._private.storage import JsonFile, StoreCorrupt
from peek_plugin_active_task.server import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TITLE_LENGTH,
    InvalidTask,
    Task,
    UnknownTask,
    UnknownUser,
)

__all__ = ["TASKS_FILE", "TaskStore", "UserLookup", "utc_now"]

TASKS_FILE = "tasks.json"
FORMAT = 1

Clock = Callable[[], datetime]


class _NamedUser(Protocol):
    @property
    def username(self) -> str: ...


@runtime_checkable
class UserLookup(Protocol):
    """All that active_task needs of the ``user`` API, whoever provides it."""

    async def get_user(self, username: str) -> _NamedUser | None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    """The ``active_task`` API on the server (implements
    :class:`peek_plugin_active_task.server.ActiveTaskApi`).

    ``users`` returns the ``user`` API at the time of the call, so a swapped
    provider is used from then on. Writes are serialised and reach the file
    before memory. Must be used from the event loop; call :meth:`open` first.
    """

    def __init__(
        self,
        file: JsonFile,
        users: Callable[[], UserLookup],
        logger: logging.Logger,
        *,
        clock: Clock = utc_now,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._file = file
        # Told the username whose tasks changed (the vortex observable's notify).
        self._on_change = on_change
        self._users = users
        self._log = logger
        self._clock = clock
        self._tasks: dict[str, Task] = {}
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        """Read the tasks file (if any)."""
        self._tasks = _parse(self._file, await self._file.read())

    async def add_task(self, username: str, title: str, description: str = "") -> Task:
        title = _text("title", title, MAX_TITLE_LENGTH).strip()
        if not title:
            raise InvalidTask("title", "must not be empty")
        description = _text("description", description, MAX_DESCRIPTION_LENGTH)
        user = await self._users().get_user(username)
        if user is None:
            raise UnknownUser(username)
        task = Task(
            task_id=uuid.uuid4().hex,
            username=user.username,
            title=title,
            description=description,
            created_at=self._clock(),
        )
        async with self._write_lock:
            await self._commit({**self._tasks, task.task_id: task})
        self._log.info("added task %s for %s", task.task_id, task.username)
        self._changed(task.username)
        return task

    async def tasks_for(self, username: str, *, include_completed: bool = True) -> list[Task]:
        # The user API's spelling, so that its rules (case, say) apply here too.
        user = await self._users().get_user(username)
        name = user.username if user is not None else username
        found = [
            t
            for t in self._tasks.values()
            if t.username == name and (include_completed or not t.completed)
        ]
        return sorted(found, key=lambda t: (t.created_at, t.task_id))

    async def get_task(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def complete_task(self, task_id: str) -> Task:
        async with self._write_lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise UnknownTask(task_id)
            if task.completed:
                return task
            task = replace(task, completed_at=self._clock())
            await self._commit({**self._tasks, task_id: task})
        self._log.info("task %s completed", task_id)
        self._changed(task.username)
        return task

    async def remove_task(self, task_id: str) -> None:
        async with self._write_lock:
            removed = self._tasks.get(task_id)
            if removed is None:
                raise UnknownTask(task_id)
            await self._commit({i: t for i, t in self._tasks.items() if i != task_id})
        self._log.info("removed task %s", task_id)
        self._changed(removed.username)

    def _changed(self, username: str) -> None:
        if self._on_change is not None:
            self._on_change(username)

    async def _commit(self, tasks: dict[str, Task]) -> None:
        document = {"format": FORMAT, "tasks": [_task_json(tasks[i]) for i in sorted(tasks)]}
        await self._file.write(document)
        self._tasks = tasks


def _text(field: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise InvalidTask(field, f"must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidTask(field, f"longer than {limit} characters")
    return value


def _task_json(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "username": task.username,
        "title": task.title,
        "description": task.description,
        "created_at": task.created_at.isoformat(),
        "completed_at": task.completed_at.isoformat() if task.completed_at else None,
    }


def _parse(file: JsonFile, document: Any) -> dict[str, Task]:
    if document is None:
        return {}
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise StoreCorrupt(file.path, f"not a format {FORMAT} tasks file")
    tasks: dict[str, Task] = {}
    for entry in document.get("tasks", []):
        try:
            completed = entry["completed_at"]
            task = Task(
                task_id=str(entry["task_id"]),
                username=str(entry["username"]),
                title=str(entry["title"]),
                description=str(entry["description"]),
                created_at=datetime.fromisoformat(entry["created_at"]),
                completed_at=datetime.fromisoformat(completed) if completed else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreCorrupt(file.path, f"bad task entry: {exc!r}") from None
        tasks[task.task_id] = task
    return tasks
