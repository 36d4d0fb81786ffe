"""Tasks through a real Celery worker child, on the embedded broker and on RabbitMQ + Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from peek.plugin import TaskCrashed, TaskFailed, TaskTimeout

from .conftest import (
    SAMPLE_REFS,
    ClientFactory,
    ConfigFactory,
    WorkerFactory,
    require_rabbitmq_and_redis,
)

pytestmark = pytest.mark.timeout(120)

# Seconds a test waits for a result that should come.
RESULT_TIMEOUT = 30.0


def _runs(marker: Path) -> int:
    return len(marker.read_text(encoding="utf-8").splitlines()) if marker.exists() else 0


async def _wait_for_runs(marker: Path, count: int, deadline: float = 20.0) -> None:
    # The task's own marker file is the only sign that it started; poll it.
    end = time.monotonic() + deadline
    while await asyncio.to_thread(_runs, marker) < count:
        assert time.monotonic() < end, f"{marker} never reached {count} runs"
        await asyncio.sleep(0.05)


async def test_task_round_trip_returns_its_result(
    broker: str, make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config(broker)
    await start_worker(config)
    client = await task_client(config)
    value = {"text": "hi", "items": [1, 2.5, None], "nested": {"ok": True}}
    assert await client.call("sample.echo", [value], timeout=RESULT_TIMEOUT) == value


async def test_task_that_raises_returns_a_typed_error(
    broker: str, make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config(broker)
    await start_worker(config)
    client = await task_client(config)
    with pytest.raises(TaskFailed) as caught:
        await client.call("sample.fail", ["bad input"], timeout=RESULT_TIMEOUT)
    assert not isinstance(caught.value, TaskCrashed)
    assert caught.value.exc_type == "builtins.ValueError"
    assert caught.value.exc_message == "bad input"
    assert caught.value.task == "sample.fail"
    assert "ValueError" in (caught.value.remote_traceback or "")


@pytest.mark.parametrize("how", ["os._exit", "segfault"])
async def test_task_that_kills_its_fork_is_reported_crashed_not_hung(
    how: str,
    broker: str,
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
) -> None:
    config = make_config(broker)
    await start_worker(config)
    client = await task_client(config)
    name, args = ("sample.exit_fork", [7]) if how == "os._exit" else ("sample.segfault", [])
    with pytest.raises(TaskCrashed) as caught:
        await client.call(name, args, timeout=RESULT_TIMEOUT)
    assert caught.value.exc_type.endswith("WorkerLostError")
    # The pool replaced its process: the worker still serves.
    assert await client.call("sample.echo", [1], timeout=RESULT_TIMEOUT) == 1


async def test_idempotent_task_whose_fork_dies_runs_once_more_then_fails(
    broker: str,
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    config = make_config(broker)
    await start_worker(config)
    client = await task_client(config)
    marker = tmp_path / "runs"
    with pytest.raises(TaskCrashed):
        await client.call("sample.exit_fork_counted", [str(marker)], timeout=RESULT_TIMEOUT)
    assert _runs(marker) == 2


async def test_unknown_plugin_task_times_out_with_a_typed_error(
    make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config("embedded")
    await start_worker(config)
    client = await task_client(config)
    with pytest.raises(TaskTimeout) as caught:
        await client.call("nobody.echo", [1], timeout=0.5)
    assert caught.value.timeout == 0.5


async def test_results_expire(
    broker: str, make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config(broker, **{"worker.result_expires": 1})
    await start_worker(config)
    client = await task_client(config)
    task_id = await client.submit("sample.echo", ["kept for a second"])
    assert await client.result("sample.echo", task_id, timeout=RESULT_TIMEOUT) == (
        "kept for a second"
    )
    # Redis expires the key; on the embedded store the worker deletes it.
    await asyncio.sleep(2.5)
    with pytest.raises(TaskTimeout):
        await client.result("sample.echo", task_id, timeout=1.0)


async def test_flood_on_one_plugin_does_not_starve_another(
    broker: str, make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config(broker)
    await start_worker(config, {"flood": SAMPLE_REFS, "quiet": SAMPLE_REFS})
    client = await task_client(config)
    # 40 tasks of 0.1 s on 2 processes: the flood takes about 2 s.
    flood = [
        asyncio.ensure_future(client.call("flood.nap", [0.1], timeout=RESULT_TIMEOUT))
        for _ in range(40)
    ]
    await asyncio.sleep(0.3)
    quiet_done = await client.call("quiet.nap", [0], timeout=RESULT_TIMEOUT)
    flood_done = sorted(await asyncio.gather(*flood))
    # The quiet plugin's task finished while most of the flood still waited.
    assert sum(t > quiet_done for t in flood_done) > len(flood_done) // 2


async def test_many_workers_serve_one_queue(
    broker: str, make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config(broker)
    first = await start_worker(config)
    second = await start_worker(config)
    client = await task_client(config)
    await asyncio.gather(
        *(client.call("sample.nap", [0.05], timeout=RESULT_TIMEOUT) for _ in range(40))
    )
    pids = set(
        await asyncio.gather(
            *(client.call("sample.worker_pid", timeout=RESULT_TIMEOUT) for _ in range(40))
        )
    )
    assert pids <= {first.pid, second.pid}
    results = await asyncio.gather(
        *(client.call("sample.echo", [i], timeout=RESULT_TIMEOUT) for i in range(200))
    )
    assert results == list(range(200))


async def _kill_worker_mid_task(  # noqa: PLR0917
    name: str,
    broker: str,
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    marker: Path,
) -> str:
    config = make_config(broker)
    worker = await start_worker(config)
    client = await task_client(config)
    task_id = await client.submit(name, [str(marker), 1.0])
    await _wait_for_runs(marker, 1)
    # The whole Celery worker and its pool die at once (OOM killer, kill -9);
    # the service starts a new one.
    assert worker.pid is not None
    os.killpg(worker.pid, signal.SIGKILL)
    return task_id


@pytest.mark.real_service
async def test_killed_worker_redelivers_an_idempotent_task_which_runs_once_more(
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    broker = "rabbitmq"

    require_rabbitmq_and_redis()
    marker = tmp_path / "runs"
    task_id = await _kill_worker_mid_task(
        "sample.slow_idempotent", broker, make_config, start_worker, task_client, marker
    )
    client = await task_client(make_config(broker))
    del client
    # The supervising service restarts the worker, which gets the message again.
    await _wait_for_runs(marker, 2)
    assert _runs(marker) == 2
    assert task_id


@pytest.mark.real_service
async def test_killed_worker_does_not_run_a_non_idempotent_task_again(
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    broker = "rabbitmq"

    require_rabbitmq_and_redis()
    marker = tmp_path / "runs"
    await _kill_worker_mid_task(
        "sample.slow_once", broker, make_config, start_worker, task_client, marker
    )
    # Long enough for a restart (1 s) and a run (1 s) that must not happen.
    await asyncio.sleep(4)
    assert _runs(marker) == 1


# Seconds the embedded broker's lease lasts in the tests below: a killed
# worker's message goes back to its queue this long after its last renewal.
SHORT_LEASE = 2.0


async def test_a_task_that_is_not_idempotent_is_acknowledged_before_it_starts(
    broker: str,
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    # The task kills its whole worker the moment it starts: had its message not been
    # acknowledged by then, the broker would deliver it again and it would run twice.
    # Whether the main process would have acknowledged it in time is a race, so a
    # worker that acknowledges late is caught with good odds per round, not with
    # certainty: several rounds.
    lease = 1.0
    config = make_config(broker, **{"worker.concurrency": 1, "worker.embedded_lease": lease})
    await start_worker(config)
    client = await task_client(config)
    for round_ in range(3):
        marker = tmp_path / f"runs-{round_}"
        await client.submit("sample.kill_worker_once_started", [str(marker)])
        await _wait_for_runs(marker, 1)
        # An unacknowledged message is back in its queue once the connection drops
        # (RabbitMQ) or its lease ran out (embedded): by then the restarted worker
        # would take it before the task queued next.
        await asyncio.sleep(2 * lease)
        assert await client.call("sample.echo", [round_], timeout=RESULT_TIMEOUT) == round_
        assert _runs(marker) == 1, f"round {round_}: the task ran again"


async def test_killed_worker_on_embedded_broker_redelivers_an_idempotent_task_after_its_lease(
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    config = make_config("embedded", **{"worker.embedded_lease": SHORT_LEASE})
    marker = tmp_path / "runs"
    worker = await start_worker(config)
    client = await task_client(config)
    task_id = await client.submit("sample.slow_idempotent", [str(marker), 1.0])
    await _wait_for_runs(marker, 1)
    assert worker.pid is not None
    os.killpg(worker.pid, signal.SIGKILL)
    # The supervisor restarts the worker; once the dead one's lease has run
    # out, the message is back and the task runs a second time, to the end.
    runs = await client.result("sample.slow_idempotent", task_id, timeout=30)
    assert runs == 2


async def test_killed_worker_on_embedded_broker_does_not_run_a_non_idempotent_task_again(
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    config = make_config("embedded", **{"worker.embedded_lease": SHORT_LEASE})
    marker = tmp_path / "runs"
    worker = await start_worker(config)
    client = await task_client(config)
    await client.submit("sample.slow_once", [str(marker), 1.0])
    await _wait_for_runs(marker, 1)
    assert worker.pid is not None
    os.killpg(worker.pid, signal.SIGKILL)
    # Past the lease, a restart and a run: an echo queued now is served by
    # the restarted worker, and the killed task has not run again meanwhile.
    await asyncio.sleep(SHORT_LEASE + 1.0)
    assert await client.call("sample.echo", ["after"], timeout=30) == "after"
    await asyncio.sleep(1.5)
    assert _runs(marker) == 1


async def test_live_worker_on_embedded_broker_keeps_a_task_longer_than_its_lease(
    make_config: ConfigFactory,
    start_worker: WorkerFactory,
    task_client: ClientFactory,
    tmp_path: Path,
) -> None:
    # The worker renews its lease while the task runs, so a second worker
    # polling the same queue never gets the message back.
    lease = 1.0
    config = make_config("embedded", **{"worker.embedded_lease": lease})
    marker = tmp_path / "runs"
    await start_worker(config)
    await start_worker(config)
    client = await task_client(config)
    runs = await client.call("sample.slow_idempotent", [str(marker), 3 * lease], timeout=30)
    assert runs == 1
    assert _runs(marker) == 1
