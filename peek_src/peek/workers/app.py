"""The Celery application of one Peek installation, built from its configuration.

:func:`make_celery` is the only place a Celery app is made; there is no
module-level app for plugins to import. Plugins write plain functions marked
with :func:`peek.plugin.task`; :func:`register_plugin_tasks` turns them into
Celery tasks named ``<plugin>.<task>``, and :func:`queue_for` routes each to
its plugin's own queue (``<queue_prefix>.<plugin>``), so one plugin's flood
waits behind itself and not in front of every other plugin's tasks.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from celery import Celery
from celery.backends.redis import RedisBackend

from peek.config import PeekConfig
from peek.plugin.tasks import TaskOptions, task_options
from peek.workers.errors import TaskDefinitionError

__all__ = [
    "EMBEDDED_POLL_INTERVAL",
    "PeekRedisBackend",
    "TaskRef",
    "embedded_dir",
    "make_celery",
    "plugin_of",
    "queue_for",
    "register_plugin_tasks",
    "resolve_task_refs",
    "task_refs",
]

log = logging.getLogger(__name__)

# Seconds between polls of the embedded broker by an idle worker. Measured
# (bench/workers.py): 2 ms keeps a task's median round trip under 10 ms; the
# 1 s kombu default makes it ~1 s.
EMBEDDED_POLL_INTERVAL = 0.002
WORKER_LOST_WAIT = 1.0
EMBEDDED_TRANSPORT = "peek.workers.embedded:Transport"
EMBEDDED_RESULTS = "peek.workers.embedded:ResultBackend"
REDIS_BACKEND = "peek.workers.app:PeekRedisBackend"
WORKER_POOL = "peek.workers.pool:TaskPool"

# "<module>:<qualified name>" of a task function, importable in the worker's
# Celery process.
TaskRef = str


class PeekRedisBackend(RedisBackend):  # type: ignore[misc]
    """Celery's Redis result backend, without a subscription per queued task.

    Celery's own backend subscribes to every queued task's result channel in
    the sending process, for ``AsyncResult.get()``. Peek's callers read
    results in batches instead (see :mod:`peek.workers.client`), so those
    subscriptions would only pile up unread on the server.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None


def embedded_dir(config: PeekConfig) -> Path:
    """Where the embedded broker and result store keep their SQLite files."""
    return config.data_dir / "tasks"


def _embedded_urls(config: PeekConfig) -> tuple[str, str]:
    folder = embedded_dir(config).resolve()
    return (
        f"sqlite:///{folder / 'broker.sqlite'}",
        f"{EMBEDDED_RESULTS}+sqlite:///{folder / 'results.sqlite'}",
    )


def queue_for(prefix: str, plugin: str) -> str:
    """The queue that carries ``plugin``'s tasks."""
    return f"{prefix}.{plugin}"


def plugin_of(task_name: str) -> str:
    """``peek_plugin_noop`` for ``peek_plugin_noop.echo``."""
    plugin, dot, rest = task_name.partition(".")
    if not dot or not plugin or not rest:
        raise TaskDefinitionError(task_name, "task names are '<plugin>.<task>'")
    return plugin


def make_celery(config: PeekConfig, *, name: str = "peek") -> Celery:
    """A new Celery app for this installation's ``[worker]`` settings. Blocking.

    ``broker_url`` and ``result_backend`` unset mean the embedded default:
    Peek's SQLite transport and Celery's database result backend, both in
    files under ``<data_dir>/tasks`` (made here), needing no server process.
    A ``redis://`` result backend uses :class:`PeekRedisBackend`.
    """
    wc = config.worker
    embedded_broker, embedded_results = _embedded_urls(config)
    broker = wc.broker_url or embedded_broker
    backend = wc.result_backend or embedded_results
    if backend.startswith(("redis://", "rediss://", "redis+socket://")):
        backend = f"{REDIS_BACKEND}+{backend}"
    if wc.broker_url is None or wc.result_backend is None:
        embedded_dir(config).mkdir(parents=True, exist_ok=True, mode=0o750)
    app = Celery(name, broker=broker, backend=backend, set_as_current=False)
    prefix = wc.queue_prefix

    def route(task_name: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        plugin, dot, _ = task_name.partition(".")
        return {"queue": queue_for(prefix, plugin if dot and plugin else "celery")}

    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=wc.result_expires,
        task_routes=(route,),
        task_default_queue=queue_for(prefix, "celery"),
        worker_concurrency=wc.concurrency,
        # Prefork; a task that is not idempotent starts only once acknowledged.
        worker_pool=WORKER_POOL,
        # Fairness between plugin queues: a worker reserves one task per
        # process, so a task queued on a quiet plugin's queue is next in line.
        worker_prefetch_multiplier=1,
        # Seconds to wait for the result of a pool process that died before
        # calling its task lost (Celery: 10). Results are stored by the pool
        # process itself, and a stored success is never turned into a failure.
        worker_lost_wait=WORKER_LOST_WAIT,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
    )
    if wc.broker_url is None:
        # kombu takes transport classes by import path only from this
        # setting, never from a URL.
        app.conf.broker_transport = EMBEDDED_TRANSPORT
        app.conf.broker_transport_options = {
            "polling_interval": EMBEDDED_POLL_INTERVAL,
            "visibility_timeout": wc.embedded_lease,
        }
    return app


def task_refs(plugin: str, contributed: Iterable[object]) -> list[TaskRef]:
    """Check what ``plugin``'s ``peek_worker_tasks`` returned; the task functions' refs.

    A module stands for every task function defined in it. Raises
    :class:`TaskDefinitionError` for anything that is not a module-level task
    function, or for two tasks with one name.
    """
    refs: list[TaskRef] = []
    names: dict[str, TaskRef] = {}
    for item in contributed:
        if isinstance(item, ModuleType):
            functions = [
                fn
                for _, fn in inspect.getmembers(item, inspect.isfunction)
                if fn.__module__ == item.__name__ and task_options(fn) is not None
            ]
        else:
            functions = [item]  # type: ignore[list-item]
        for fn in functions:
            options = task_options(fn)
            if options is None or not callable(fn):
                raise TaskDefinitionError(
                    f"{plugin}.?", f"{fn!r} is not a function marked with peek.plugin.task"
                )
            qualname = getattr(fn, "__qualname__", "")
            if "<locals>" in qualname or "." in qualname:
                raise TaskDefinitionError(
                    f"{plugin}.{qualname}", "a task must be a module-level function"
                )
            ref = f"{fn.__module__}:{qualname}"
            task_name = f"{plugin}.{options.name or fn.__name__}"
            if names.get(task_name, ref) != ref:
                raise TaskDefinitionError(task_name, f"defined twice ({names[task_name]}, {ref})")
            if task_name not in names:
                names[task_name] = ref
                refs.append(ref)
    return refs


def resolve_task_refs(refs: Iterable[TaskRef]) -> list[Callable[..., Any]]:
    """Import task functions by ref (in the worker's Celery process). Blocking."""
    import importlib

    functions = []
    for ref in refs:
        module_name, _, qualname = ref.partition(":")
        fn = getattr(importlib.import_module(module_name), qualname, None)
        if fn is None or task_options(fn) is None:
            raise TaskDefinitionError(ref, "not found, or not marked with peek.plugin.task")
        functions.append(fn)
    return functions


def celery_task_options(options: TaskOptions) -> dict[str, Any]:
    """How Celery runs a task with these Peek options.

    Idempotent: acknowledged late, so a worker that dies under it leaves the
    message with the broker, which delivers it again; if the pool process
    running it dies, it is retried at once, at most once
    (``retry_on_worker_lost``, ``max_retries=1``). Otherwise: acknowledged
    when it starts (at most once), and a lost process is a failure.
    """
    idempotent = options.idempotent
    return {
        "acks_late": idempotent,
        "reject_on_worker_lost": idempotent,
        "retry_on_worker_lost": idempotent,
        "max_retries": 1 if idempotent else 0,
        "default_retry_delay": 0,
        "time_limit": options.time_limit,
    }


def register_plugin_tasks(
    app: Celery, plugin: str, functions: Iterable[Callable[..., Any]]
) -> list[str]:
    """Register ``plugin``'s task functions on ``app``; their full names."""
    names = []
    for fn in functions:
        options = task_options(fn)
        if options is None:
            raise TaskDefinitionError(f"{plugin}.?", f"{fn!r} is not marked with peek.plugin.task")
        task_name = f"{plugin}.{options.name or fn.__name__}"
        app.task(name=task_name, shared=False, **celery_task_options(options))(fn)
        names.append(task_name)
    return names


def plugin_queues(prefix: str, tasks: Mapping[str, Iterable[TaskRef]]) -> list[str]:
    """The queues a worker serving ``tasks`` (plugin -> refs) consumes."""
    return [queue_for(prefix, plugin) for plugin in sorted(tasks)]
