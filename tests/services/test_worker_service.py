"""``peek worker``: plugins' worker hooks plus a supervised Celery worker, serving the server."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import aiohttp
import pytest

from peek.services.upstream import WorkerService
from peek.testing import admin_headers

pytestmark = pytest.mark.timeout(90)

READY_TIMEOUT = 30.0


async def _echo(server: object, value: str) -> tuple[int, object]:
    url = server.admin_site.url + "/plugins/noop/echo"  # type: ignore[attr-defined]
    # The admin site's plugin routes need the admin: the local admin token will do.
    headers = admin_headers(server)  # type: ignore[arg-type]
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params={"value": value}, headers=headers) as r,
    ):
        text = await r.text()
        return r.status, json.loads(text) if r.status == 200 else text


async def test_worker_service_runs_noop_tasks_queued_by_the_server(peek_server, peek_upstream):
    server = await peek_server(["peek_plugin_noop"])
    worker = await peek_upstream("worker", server, ["peek_plugin_noop"])
    assert isinstance(worker, WorkerService) and worker.celery is not None
    assert worker.celery.queues == ["peek.peek_plugin_noop"]
    assert await _echo(server, "hello") == (200, {"echo": "hello"})


async def test_worker_service_restarts_a_celery_worker_that_died(peek_server, peek_upstream):
    server = await peek_server(["peek_plugin_noop"])
    worker = await peek_upstream("worker", server, ["peek_plugin_noop"])
    assert isinstance(worker, WorkerService) and worker.celery is not None
    first = worker.celery.pid
    assert first is not None
    os.killpg(first, signal.SIGKILL)
    await asyncio.wait_for(worker.celery.restarted.wait(), READY_TIMEOUT)
    assert worker.celery.ready.is_set() and worker.celery.restarts == 1
    assert worker.celery.pid != first
    assert await _echo(server, "again") == (200, {"echo": "again"})


async def test_worker_service_without_plugin_tasks_starts_no_celery_worker(
    peek_server, peek_upstream
):
    server = await peek_server([])
    worker = await peek_upstream("worker", server, [])
    assert isinstance(worker, WorkerService)
    assert worker.celery is None


async def test_server_answers_504_when_no_worker_serves_the_task(peek_server, monkeypatch):
    import peek_plugin_noop._private.server as noop_server

    monkeypatch.setattr(noop_server, "ECHO_TIMEOUT", 0.3)
    server = await peek_server(["peek_plugin_noop"])
    status, body = await _echo(server, "nobody listens")
    assert status == 504
    assert "no result within" in str(body)
