"""make_celery, task registration and routing: no worker process needed."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from kombu import Connection

from peek.plugin import task
from peek.testing import free_config
from peek.workers import TaskDefinitionError, make_celery, plugin_of, register_plugin_tasks
from peek.workers.app import EMBEDDED_POLL_INTERVAL, PeekRedisBackend, task_refs
from peek.workers.embedded import ResultBackend, Transport

sys.path.insert(0, str(Path(__file__).parent))
import peek_worker_sample_tasks as sample


def test_make_celery_uses_the_configured_broker_and_result_backend(tmp_path: Path) -> None:
    config = free_config(
        tmp_path,
        **{
            "worker.broker_url": "amqp://guest:guest@127.0.0.1:5672//",
            "worker.result_backend": "redis://127.0.0.1:6379/7",
            "worker.concurrency": 3,
        },
    )
    app = make_celery(config)
    assert app.conf.broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert isinstance(app.backend, PeekRedisBackend)
    assert app.conf.worker_concurrency == 3
    # Prefork, with tasks that start only once accepted (peek.workers.pool).
    assert app.conf.worker_pool == "peek.workers.pool:TaskPool"
    assert not (tmp_path / "tasks").exists()


def test_two_apps_from_one_config_share_nothing(tmp_path: Path) -> None:
    config = free_config(tmp_path)
    first, second = make_celery(config), make_celery(config)
    register_plugin_tasks(first, "peek_plugin_a", [sample.echo])
    assert "peek_plugin_a.echo" in first.tasks
    assert "peek_plugin_a.echo" not in second.tasks


def test_embedded_default_keeps_broker_and_results_in_sqlite_files(tmp_path: Path) -> None:
    app = make_celery(free_config(tmp_path))
    assert isinstance(app.backend, ResultBackend)
    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, Transport)
        assert conn.transport.polling_interval == EMBEDDED_POLL_INTERVAL
        # The polling interval must not reach create_engine (kombu's stock
        # transport passes it on, and SQLAlchemy refuses it).
        conn.default_channel.basic_publish(
            conn.default_channel.prepare_message("x"), exchange="", routing_key="q"
        )
    assert (tmp_path / "tasks" / "broker.sqlite").exists()
    assert (tmp_path / "tasks" / "results.sqlite").exists()


def test_stock_sqla_transport_refuses_a_polling_interval(tmp_path: Path) -> None:
    # Why Peek has its own transport class: the fact it works around.
    conn = Connection(
        f"sqla+sqlite:///{tmp_path / 'stock.sqlite'}",
        transport_options={"polling_interval": 0.01},
    )
    channel = conn.default_channel
    with pytest.raises(TypeError, match="polling_interval"):
        channel.basic_publish(channel.prepare_message("x"), exchange="", routing_key="q")
    conn.release()


def test_tasks_are_routed_to_their_plugins_own_queue(tmp_path: Path) -> None:
    app = make_celery(free_config(tmp_path, **{"worker.queue_prefix": "site1"}))
    route = app.amqp.router.route
    assert route({}, "peek_plugin_a.echo")["queue"].name == "site1.peek_plugin_a"
    assert route({}, "peek_plugin_b.echo")["queue"].name == "site1.peek_plugin_b"


def test_registered_task_is_named_after_its_plugin(tmp_path: Path) -> None:
    app = make_celery(free_config(tmp_path))
    names = register_plugin_tasks(app, "peek_plugin_a", [sample.echo, sample.fail])
    assert names == ["peek_plugin_a.echo", "peek_plugin_a.fail"]
    assert app.tasks["peek_plugin_a.echo"].run("x") == "x"


def test_idempotent_task_is_acknowledged_late_and_retried_once_after_a_lost_worker(
    tmp_path: Path,
) -> None:
    app = make_celery(free_config(tmp_path))
    register_plugin_tasks(app, "p", [sample.slow_idempotent, sample.slow_once])
    idempotent, once = app.tasks["p.slow_idempotent"], app.tasks["p.slow_once"]
    assert idempotent.acks_late and idempotent.reject_on_worker_lost
    assert idempotent.retry_on_worker_lost and idempotent.max_retries == 1
    assert not once.acks_late and not once.retry_on_worker_lost


def test_task_refs_of_a_module_are_its_marked_functions() -> None:
    refs = task_refs("sample", [sample])
    assert "peek_worker_sample_tasks:echo" in refs
    assert "peek_worker_sample_tasks:not_a_task" not in refs


def test_task_refs_refuses_an_unmarked_function() -> None:
    with pytest.raises(TaskDefinitionError, match="not a function marked"):
        task_refs("sample", [sample.not_a_task])


def test_task_refs_refuses_a_nested_function() -> None:
    @task
    def inner() -> None: ...

    with pytest.raises(TaskDefinitionError, match="module-level"):
        task_refs("sample", [inner])


def test_task_refs_refuses_two_tasks_with_one_name() -> None:
    module = types.ModuleType("dupes")

    @task(name="echo")
    def other() -> None: ...

    other.__module__ = "dupes"
    other.__qualname__ = "other"
    with pytest.raises(TaskDefinitionError, match="defined twice"):
        task_refs("sample", [sample.echo, other, module])


def test_a_task_name_without_a_plugin_is_refused() -> None:
    with pytest.raises(TaskDefinitionError):
        plugin_of("echo")
    assert plugin_of("peek_plugin_noop.echo") == "peek_plugin_noop"


def test_idle_embedded_consumer_polls_less_often(tmp_path: Path) -> None:
    import socket as socket_module

    from kombu import Queue

    from peek.workers.embedded import IDLE_POLL_INTERVAL

    app = make_celery(free_config(tmp_path))
    with app.connection_for_read() as conn, conn.Consumer(Queue("idle"), callbacks=[]):
        with pytest.raises(socket_module.timeout):
            conn.drain_events(timeout=0.05)
        assert conn.transport.polling_interval == IDLE_POLL_INTERVAL
