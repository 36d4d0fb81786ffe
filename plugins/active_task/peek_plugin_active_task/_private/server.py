"""active_task on the server: the task store, published as the ``active_task`` API."""

from __future__ import annotations

from peek.plugin import PluginContext, PluginHook
from peek_plugin_active_task._private.storage import JsonFile
from peek_plugin_active_task._private.tasks import TASKS_FILE, TaskStore, UserLookup


class ServerHook(PluginHook):
    def __init__(self) -> None:
        self.tasks: TaskStore | None = None

    async def load(self, ctx: PluginContext) -> None:
        # Fail now, loudly, if the user API is missing or is not one we can use.
        _users(ctx)
        # The platform made ctx.data_dir before load; the file I/O runs in an executor.
        path = ctx.data_dir / TASKS_FILE
        tasks = TaskStore(JsonFile(path), lambda: _users(ctx), ctx.logger)
        await tasks.open()
        self.tasks = tasks
        ctx.publish(tasks)

    def unload(self, ctx: PluginContext) -> None:
        self.tasks = None


def _users(ctx: PluginContext) -> UserLookup:
    users = ctx.api("user")
    if not isinstance(users, UserLookup):
        raise TypeError(f"the 'user' API is a {type(users).__name__}, which has no get_user()")
    return users
