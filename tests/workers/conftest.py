"""Fixtures for the worker tests: configurations for the embedded broker and for
RabbitMQ + Redis, and Celery workers started as ``peek worker`` starts them."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from peek.config import PeekConfig
from peek.testing import free_config
from peek.testing.requirements import unavailable
from peek.workers import TaskClient, WorkerProcess, make_celery

RABBITMQ = ("127.0.0.1", 5672)
REDIS = ("127.0.0.1", 6379)
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
# A Redis database the rest of the suite does not use; keys are task ids.
RESULT_BACKEND = "redis://127.0.0.1:6379/7"

SAMPLE = "peek_worker_sample_tasks"
SAMPLE_REFS = [
    f"{SAMPLE}:{name}"
    for name in (
        "echo",
        "fail",
        "exit_fork",
        "segfault",
        "exit_fork_counted",
        "slow_idempotent",
        "slow_once",
        "kill_worker_once_started",
        "nap",
        "worker_pid",
    )
]


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def require_rabbitmq_and_redis() -> None:
    """Skip (fail under CI) unless RabbitMQ and Redis answer on 127.0.0.1."""
    for name, address in (("RabbitMQ", RABBITMQ), ("Redis", REDIS)):
        if not _reachable(address):
            unavailable(f"{name} is not reachable on {address[0]}:{address[1]}")


@pytest.fixture(params=["embedded", pytest.param("rabbitmq", marks=pytest.mark.real_service)])
def broker(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on the embedded broker and on RabbitMQ + Redis."""
    if request.param == "rabbitmq":
        require_rabbitmq_and_redis()
    return str(request.param)


ConfigFactory = Callable[..., PeekConfig]


@pytest.fixture
def make_config(tmp_path: Path) -> Iterator[ConfigFactory]:
    """``make_config(broker, **overrides)``: a config with its own data dir and, on
    RabbitMQ, queues of its own (deleted afterwards)."""
    made: list[PeekConfig] = []

    def make(broker: str, **overrides: Any) -> PeekConfig:
        values: dict[str, Any] = {"worker.concurrency": 2}
        if broker == "rabbitmq":
            values.update(
                {
                    "worker.broker_url": BROKER_URL,
                    "worker.result_backend": RESULT_BACKEND,
                    "worker.queue_prefix": f"peektest-{uuid.uuid4().hex[:12]}",
                }
            )
        values.update(overrides)
        config = free_config(tmp_path / f"data-{len(made)}", **values)
        made.append(config)
        return config

    yield make
    for config in made:
        if config.worker.broker_url is not None:
            _delete_queues(config)


def _delete_queues(config: PeekConfig) -> None:
    app = make_celery(config)
    prefix = config.worker.queue_prefix
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for plugin in ("sample", "flood", "quiet", "celery"):
            try:
                channel.queue_delete(f"{prefix}.{plugin}")
            except Exception:  # the channel closes on a missing queue: reopen
                channel = conn.channel()
    app.close()


WorkerFactory = Callable[..., Awaitable[WorkerProcess]]


@pytest_asyncio.fixture
async def start_worker() -> AsyncIterator[WorkerFactory]:
    """``await start_worker(config, tasks={plugin: refs})``: a Celery worker, stopped after."""
    started: list[WorkerProcess] = []

    async def start(
        config: PeekConfig, tasks: Mapping[str, Sequence[str]] | None = None, **kwargs: Any
    ) -> WorkerProcess:
        process = WorkerProcess(
            config,
            tasks if tasks is not None else {"sample": SAMPLE_REFS},
            hostname=f"test-{uuid.uuid4().hex[:8]}@localhost",
            env={"PYTHONPATH": str(Path(__file__).parent)},
            stop_grace=5.0,
            **kwargs,
        )
        await process.start()
        started.append(process)
        return process

    yield start
    # Each stop waits for Celery's warm shutdown (about 2 s): all at once.
    await asyncio.gather(*(process.stop() for process in started))


ClientFactory = Callable[[PeekConfig], Awaitable[TaskClient]]


@pytest_asyncio.fixture
async def task_client() -> AsyncIterator[ClientFactory]:
    """``await task_client(config)``: a TaskClient on that config, closed after."""
    made: list[TaskClient] = []

    async def make(config: PeekConfig) -> TaskClient:
        client = TaskClient(await asyncio.to_thread(make_celery, config))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()
