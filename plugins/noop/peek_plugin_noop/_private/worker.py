"""noop on the worker: contributes its tasks (``peek_plugin_noop.echo``)."""

from types import ModuleType

from peek.plugin import hookimpl
from peek_plugin_noop._private import tasks
from peek_plugin_noop._private.hooks import NoopHook


class WorkerHook(NoopHook):
    @hookimpl
    def peek_worker_tasks(self) -> list[ModuleType]:
        return [tasks]
