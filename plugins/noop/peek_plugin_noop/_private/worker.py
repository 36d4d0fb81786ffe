"""noop on the worker (its Celery tasks land with the worker issue)."""

from peek_plugin_noop._private.hooks import NoopHook


class WorkerHook(NoopHook):
    pass
