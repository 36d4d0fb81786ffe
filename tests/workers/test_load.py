"""The embedded broker under load: the issue's bar of 2000 tasks, none lost, median < 20 ms."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from .conftest import ClientFactory, ConfigFactory, WorkerFactory

TOTAL = 2000
# Tasks in flight at any time: each caller queues its next task when the
# previous result is back (the closed loop bench/workers.py measures too).
CALLERS = 4
# The bar is a median under 20 ms; bench/workers.py measures it on a
# quiet machine (bench/results/workers.json). Here the suite runs beside
# other tests on 2 cores, so this bound only catches a broker that polls
# slowly again (kombu's 1 s default gives a median near 1 s).
MEDIAN_LIMIT = 0.200


@pytest.mark.timeout(180)
async def test_embedded_broker_carries_2000_tasks_under_load_without_loss(
    make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    config = make_config("embedded")
    await start_worker(config)
    client = await task_client(config)
    round_trips: list[float] = []
    wrong: list[int] = []

    async def caller(numbers: range) -> None:
        for i in numbers:
            started = time.perf_counter()
            value = await client.call("sample.echo", [i], timeout=60)
            round_trips.append(time.perf_counter() - started)
            if value != i:
                wrong.append(i)

    per = TOTAL // CALLERS
    await asyncio.gather(*(caller(range(c * per, (c + 1) * per)) for c in range(CALLERS)))
    assert len(round_trips) == TOTAL and not wrong
    median = statistics.median(round_trips)
    assert median < MEDIAN_LIMIT, f"median round trip {median * 1000:.1f} ms"


@pytest.mark.timeout(180)
async def test_embedded_broker_loses_nothing_in_a_burst_to_two_workers(
    make_config: ConfigFactory, start_worker: WorkerFactory, task_client: ClientFactory
) -> None:
    # Two consumers race for every message: each must be taken exactly once.
    config = make_config("embedded")
    await start_worker(config)
    await start_worker(config)
    client = await task_client(config)
    values = await asyncio.gather(
        *(client.call("sample.echo", [i], timeout=120) for i in range(TOTAL))
    )
    assert values == list(range(TOTAL))
