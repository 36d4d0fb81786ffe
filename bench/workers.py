"""Task dispatch + result through Peek vs raw Celery, and the embedded broker under load.

For each broker (the embedded SQLite broker and result store; RabbitMQ with
Redis results, when both answer on 127.0.0.1), one Celery worker is started
the way ``peek worker`` starts it (prefork, concurrency 2) with one task,
``bench.echo``. Against that same worker, broker and backend, alternately:

- ``peek``: ``TaskClient.call`` from asyncio, all tasks in flight at once
  (what server-side plugin code does), timed from the first submit to the
  last result;
- ``raw``: a plain ``Celery(broker=..., backend=...)`` app with Celery's
  defaults: ``send_task`` in a loop, then ``ResultSet.join_native()`` on
  Redis or ``ResultSet.join(interval=0.005)`` on the database backend (the
  ways Celery's documentation waits for many results). For the embedded
  broker the raw app uses kombu's stock ``sqla+sqlite://`` transport and
  Celery's ``db+sqlite://`` backend on the same files.

The ratio is Peek's throughput over raw Celery's (goal >= 0.9). Each side
runs ``--rounds`` rounds of ``--tasks`` tasks after a warm-up; medians are
reported. Sequential round trips (one task at a time) are measured too.

Then the embedded broker's load test (the issue's bar: 2000 tasks, none
lost, median round trip < 20 ms "under load"): 2000 tasks from 1, 4 and 8
concurrent callers (``--callers``), each awaiting its result before queuing
the next. "Under load" is 4 callers, twice the worker's concurrency: every
pool process always has a task running and one waiting for it, and the
broker, the result store and the client are all busy. The bar is checked at
that point (``bar``); 8 callers on 2 processes are reported too, but their
median is bounded by Little's law (8 / throughput), not by the broker;
every result is checked against its argument; lost = tasks whose correct
result never came.
A burst of 2000 queued at once follows (lost count and total time only: a
queue of 2000 waits by construction).

Writes ``bench/results/workers.json``. Run ``.venv/bin/python bench/workers.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from celery import Celery
from celery.result import ResultSet

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from peek.config import PeekConfig  # noqa: E402
from peek.testing import free_config  # noqa: E402
from peek.workers import TaskClient, WorkerProcess, make_celery  # noqa: E402
from peek.workers.app import embedded_dir  # noqa: E402

RESULTS = HERE / "results" / "workers.json"
TASKS_MODULE = "workers_bench_tasks"
RESULT_TIMEOUT = 120.0
# The bar, and the load it is checked at: twice the worker's concurrency.
BAR_MEDIAN_MS = 20.0
LOAD_CALLERS = 4


def _write_tasks_module(folder: Path) -> None:
    (folder / f"{TASKS_MODULE}.py").write_text(
        "from peek.plugin import task\n\n\n@task\ndef echo(value):\n    return value\n",
        encoding="utf-8",
    )


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _raw_app(config: PeekConfig) -> Celery:
    wc = config.worker
    if wc.broker_url is None:
        folder = embedded_dir(config).resolve()
        broker = f"sqla+sqlite:///{folder / 'broker.sqlite'}"
        backend = f"db+sqlite:///{folder / 'results.sqlite'}"
    else:
        broker, backend = wc.broker_url, wc.result_backend
    app = Celery("raw", broker=broker, backend=backend, set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"])
    return app


def _raw_round(app: Celery, queue: str, count: int) -> float:
    started = time.perf_counter()
    results = [
        app.send_task("bench.echo", args=[i], queue=queue, task_id=str(uuid.uuid4()))
        for i in range(count)
    ]
    rs = ResultSet(results, app=app)
    if rs.supports_native_join:
        values = rs.join_native(timeout=RESULT_TIMEOUT)
    else:
        values = rs.join(timeout=RESULT_TIMEOUT, interval=0.005)
    elapsed = time.perf_counter() - started
    assert values == list(range(count)), "raw Celery lost or mixed results"
    return elapsed


def _raw_sequential(app: Celery, queue: str, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        result = app.send_task("bench.echo", args=[i], queue=queue)
        value = result.get(timeout=RESULT_TIMEOUT, interval=0.002)
        times.append(time.perf_counter() - started)
        assert value == i
    return times


async def _peek_round(client: TaskClient, count: int) -> float:
    started = time.perf_counter()
    values = await asyncio.gather(
        *(client.call("bench.echo", [i], timeout=RESULT_TIMEOUT) for i in range(count))
    )
    elapsed = time.perf_counter() - started
    assert values == list(range(count)), "Peek lost or mixed results"
    return elapsed


async def _peek_sequential(client: TaskClient, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        assert await client.call("bench.echo", [i], timeout=RESULT_TIMEOUT) == i
        times.append(time.perf_counter() - started)
    return times


def _ms(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    }


async def compare(config: PeekConfig, folder: Path, tasks: int, rounds: int) -> dict[str, Any]:
    """Peek vs raw Celery on one broker and backend, against one worker."""
    worker = WorkerProcess(
        config,
        {"bench": [f"{TASKS_MODULE}:echo"]},
        hostname=f"bench-{uuid.uuid4().hex[:6]}@localhost",
        env={"PYTHONPATH": str(folder)},
    )
    await worker.start()
    client = TaskClient(await asyncio.to_thread(make_celery, config))
    raw = _raw_app(config)
    queue = f"{config.worker.queue_prefix}.bench"
    try:
        await _peek_round(client, 100)
        await asyncio.to_thread(_raw_round, raw, queue, 100)
        peek_times, raw_times = [], []
        for _ in range(rounds):
            peek_times.append(await _peek_round(client, tasks))
            raw_times.append(await asyncio.to_thread(_raw_round, raw, queue, tasks))
        peek_seq = await _peek_sequential(client, 200)
        raw_seq = await asyncio.to_thread(_raw_sequential, raw, queue, 200)
    finally:
        await client.close()
        await asyncio.to_thread(raw.close)
        await worker.stop()
    peek_tps = tasks / statistics.median(peek_times)
    raw_tps = tasks / statistics.median(raw_times)
    return {
        "tasks_per_round": tasks,
        "rounds": rounds,
        "peek_tasks_per_s": round(peek_tps, 1),
        "raw_celery_tasks_per_s": round(raw_tps, 1),
        "ratio_peek_over_raw": round(peek_tps / raw_tps, 3),
        "peek_sequential": _ms(peek_seq),
        "raw_celery_sequential": _ms(raw_seq),
    }


def _tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def load_test(
    config: PeekConfig, folder: Path, total: int, caller_counts: list[int]
) -> dict[str, Any]:
    """The embedded broker under load: closed-loop callers, then one burst."""
    worker = WorkerProcess(
        config,
        {"bench": [f"{TASKS_MODULE}:echo"]},
        hostname=f"load-{uuid.uuid4().hex[:6]}@localhost",
        env={"PYTHONPATH": str(folder)},
    )
    await worker.start()
    client = TaskClient(await asyncio.to_thread(make_celery, config))
    report: dict[str, Any] = {}

    async def caller(numbers: range, round_trips: list[float], lost: list[int]) -> None:
        for i in numbers:
            started = time.perf_counter()
            try:
                value = await client.call("bench.echo", [i], timeout=RESULT_TIMEOUT)
            except Exception:
                lost.append(i)
                continue
            round_trips.append(time.perf_counter() - started)
            if value != i:
                lost.append(i)

    try:
        for callers in caller_counts:
            per = total // callers
            round_trips: list[float] = []
            lost: list[int] = []
            assert worker.pid is not None
            cpu_before = _tree_cpu_seconds(worker.pid)
            started = time.perf_counter()
            await asyncio.gather(
                *(caller(range(c * per, (c + 1) * per), round_trips, lost) for c in range(callers))
            )
            loaded = time.perf_counter() - started
            worker_cpu = _tree_cpu_seconds(worker.pid) - cpu_before
            report[f"closed_loop_{callers}_callers"] = {
                "tasks": per * callers,
                "callers": callers,
                "lost": len(lost),
                "seconds": round(loaded, 2),
                "tasks_per_s": round(per * callers / loaded, 1),
                "worker_cpu_ms_per_task": round(worker_cpu * 1000 / (per * callers), 2),
                **_ms(round_trips),
            }
        started = time.perf_counter()
        burst = await asyncio.gather(
            *(client.call("bench.echo", [i], timeout=RESULT_TIMEOUT) for i in range(total)),
            return_exceptions=True,
        )
        burst_time = time.perf_counter() - started
    finally:
        await client.close()
        await worker.stop()
    return {
        **report,
        "burst": {
            "tasks": total,
            "lost": sum(1 for i, v in enumerate(burst) if v != i),
            "seconds": round(burst_time, 2),
            "tasks_per_s": round(total / burst_time, 1),
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500, help="tasks per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=int, default=2000, help="tasks in the load test")
    parser.add_argument(
        "--callers", default="1,4,8", help="concurrent callers of the load test, comma-separated"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="only the embedded load test; no results file"
    )
    args = parser.parse_args()
    if args.load_only:
        with tempfile.TemporaryDirectory() as tmp:
            _write_tasks_module(Path(tmp))
            sys.path.insert(0, tmp)
            only = free_config(Path(tmp) / "load", **{"worker.concurrency": 2})
            callers = [int(c) for c in args.callers.split(",")]
            print_section(
                "embedded broker load test", await load_test(only, Path(tmp), args.load, callers)
            )
        return
    load_before = os.getloadavg()
    report: dict[str, Any] = {
        "benchmark": "workers",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "nproc": os.cpu_count(),
        "worker_concurrency": 2,
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_tasks_module(folder)
        sys.path.insert(0, str(folder))
        embedded = free_config(folder / "embedded", **{"worker.concurrency": 2})
        report["embedded"] = await compare(embedded, folder, args.tasks, args.rounds)
        print_section("embedded (SQLite broker + SQLite results)", report["embedded"])
        if _reachable(5672) and _reachable(6379):
            real = free_config(
                folder / "real",
                **{
                    "worker.concurrency": 2,
                    "worker.broker_url": "amqp://guest:guest@127.0.0.1:5672//",
                    "worker.result_backend": "redis://127.0.0.1:6379/7",
                    "worker.queue_prefix": f"peekbench-{uuid.uuid4().hex[:8]}",
                },
            )
            report["rabbitmq_redis"] = await compare(real, folder, args.tasks, args.rounds)
            print_section("RabbitMQ + Redis", report["rabbitmq_redis"])
            await asyncio.to_thread(_delete_queue, real)
        else:
            report["rabbitmq_redis"] = "skipped: RabbitMQ or Redis not reachable on 127.0.0.1"
            print(report["rabbitmq_redis"])
        loaded = free_config(folder / "load", **{"worker.concurrency": 2})
        report["embedded_load"] = await load_test(
            loaded, folder, args.load, [int(c) for c in args.callers.split(",")]
        )
        at_load = report["embedded_load"].get(f"closed_loop_{LOAD_CALLERS}_callers")
        if at_load is not None:
            report["embedded_load"]["bar"] = {
                "callers": LOAD_CALLERS,
                "lost": at_load["lost"],
                "median_ms": at_load["median_ms"],
                "met": at_load["lost"] == 0 and at_load["median_ms"] < BAR_MEDIAN_MS,
            }
        print_section("embedded broker load test", report["embedded_load"])
    # Other work on the host (the load average) shifts every figure here.
    report["load_average_before_after"] = [load_before, os.getloadavg()]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


def _delete_queue(config: PeekConfig) -> None:
    app = make_celery(config)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(f"{config.worker.queue_prefix}.bench")
    app.close()


def print_section(title: str, data: dict[str, Any]) -> None:
    print(f"== {title}")
    for key, value in data.items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
