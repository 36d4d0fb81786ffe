"""active_task on the server: the task store, published as the ``active_task`` API,
and each user's tasks live to their browsers (see :mod:`peek_plugin_active_task.tuples`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from peek.plugin import ActionError, Caller, PluginContext, PluginHook, Selector, VortexApi
from peek_plugin_active_task._private.storage import JsonFile
from peek_plugin_active_task._private.tasks import TASKS_FILE, TaskStore, UserLookup
from peek_plugin_active_task.server import Task
from peek_plugin_active_task.tuples import ALL_TUPLES, CompleteTask, TaskTuple

TASKS_KEY = "active_task.Task"


class ServerHook(PluginHook):
    def __init__(self) -> None:
        self.tasks: TaskStore | None = None
        self.vortex: VortexApi | None = None
        # The user API at the time of the call (its provider may be swapped).
        self.users: Callable[[], UserLookup] | None = None

    async def load(self, ctx: PluginContext) -> None:
        # Fail now, loudly, if the user API is missing or is not one we can use.
        _users(ctx)
        self.users = lambda: _users(ctx)
        resources = ctx.resources
        vortex = resources.vortex if resources is not None else None
        # The platform made ctx.data_dir before load; the file I/O runs in an executor.
        path = ctx.data_dir / TASKS_FILE
        tasks = TaskStore(
            JsonFile(path), lambda: _users(ctx), ctx.logger, on_change=self._tasks_changed
        )
        await tasks.open()
        self.tasks = tasks
        ctx.publish(tasks)
        if vortex is not None:  # the conformance check runs without one
            vortex.register_tuples("active_task", *ALL_TUPLES)
            vortex.provide(TASKS_KEY, self.user_tasks, authorise=self.may_watch)
            vortex.handle_actions("active_task.CompleteTask", self.complete)
            self.vortex = vortex

    def unload(self, ctx: PluginContext) -> None:
        self.tasks = None
        self.vortex = None
        self.users = None

    def _tasks_changed(self, username: str) -> None:
        if self.vortex is not None:
            self.vortex.notify(TASKS_KEY, {"user": username})

    async def user_tasks(self, selector: Selector) -> Sequence[TaskTuple]:
        """``active_task.Task`` for ``{"user": name}``: that user's tasks, oldest first."""
        user = selector.get("user")
        if self.tasks is None or not isinstance(user, str):
            return []
        return [_tuple(task) for task in await self.tasks.tasks_for(user)]

    async def may_watch(self, selector: Selector, caller: Caller) -> bool:
        """Browsers watch only their own user's tasks, except admins (if the user API
        marks them); services (other plugins, agents) may watch anyone's."""
        if not caller.via_browser:
            return True
        wanted, me = selector.get("user"), caller.user
        if self.users is None or not isinstance(wanted, str) or me is None:
            return False
        users = self.users()
        owner = await users.get_user(wanted)
        if (owner.username if owner is not None else wanted) == me:
            return True
        viewer = await users.get_user(me)
        return getattr(viewer, "is_admin", False) is True

    async def complete(self, action: CompleteTask, caller: Caller) -> TaskTuple:
        """Complete one of the caller's own tasks (a browser user may complete only theirs)."""
        if self.tasks is None:
            raise ActionError("failed", "active_task is not loaded")
        task = await self.tasks.get_task(action.task_id)
        if task is None:
            raise ActionError("failed", f"no task with id {action.task_id!r}")
        if caller.via_browser and caller.user != task.username:
            raise ActionError("failed", "that task belongs to someone else")
        return _tuple(await self.tasks.complete_task(task.task_id))


def _tuple(task: Task) -> TaskTuple:
    return TaskTuple(
        task_id=task.task_id,
        username=task.username,
        title=task.title,
        description=task.description,
        created_at=task.created_at,
        completed_at=task.completed_at,
    )


def _users(ctx: PluginContext) -> UserLookup:
    users = ctx.api("user")
    if not isinstance(users, UserLookup):
        raise TypeError(f"the 'user' API is a {type(users).__name__}, which has no get_user()")
    return users
