"""A service stops in bounded time: a hanging stop ends the process with its stacks, a request
that never ends does not hold a site up, and an event stream opened while the server stops ends.
Whether anything restarts it afterwards (peek run, systemd) decides how it restarts itself."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from peek.services.common import HttpSite, supervised
from peek.services.server import ServerService
from peek.testing.services import TEST_HEARTBEAT, admin_headers, free_config

WAIT = 30.0

HANGING_SERVICE = """
import asyncio, os, signal, sys, time
from peek.services.common import run_until_signalled

class Hanging:
    kind = "agent"
    exit_code = {exit_code}

    async def start(self):
        print("started", flush=True)

    async def stop(self):
        {stop_body}

async def main():
    loop = asyncio.get_running_loop()
    loop.call_soon(os.kill, os.getpid(), signal.SIGTERM)
    await run_until_signalled(Hanging(), stop_limit=0.5)

asyncio.run(main())
print("returned normally", flush=True)
"""


def run_hanging(stop_body: str, exit_code: int) -> subprocess.CompletedProcess[str]:
    script = HANGING_SERVICE.format(exit_code=exit_code, stop_body=textwrap.dedent(stop_body))
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=WAIT, check=False
    )


def test_a_stop_that_blocks_the_loop_ends_the_process_with_its_exit_code_and_stacks() -> None:
    # A restart into a new plugin generation sets exit_code 75: it must still come out as 75.
    done = run_hanging("time.sleep(3600)", exit_code=75)
    assert done.returncode == 75, done.stderr
    assert "the agent did not stop within 0.5 s; exiting with code 75" in done.stderr
    assert "in stop" in done.stderr  # faulthandler's stack names the stuck coroutine
    assert "returned normally" not in done.stdout


def test_a_stop_that_awaits_forever_ends_the_process_with_code_1() -> None:
    done = run_hanging("await asyncio.Event().wait()", exit_code=0)
    assert done.returncode == 1, done.stderr
    assert "did not stop within 0.5 s; exiting with code 1" in done.stderr


async def test_a_request_that_never_ends_is_cancelled_after_the_sites_shutdown_grace() -> None:
    cancelled = asyncio.Event()
    began = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        began.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return response

    app = web.Application()
    app.router.add_get("/endless", endless)
    site = HttpSite("test", app, "127.0.0.1", 0, shutdown_grace=0.2)
    await site.start()
    async with aiohttp.ClientSession() as session:
        reader = asyncio.create_task(session.get(site.url + "/endless"))
        await asyncio.wait_for(began.wait(), WAIT)
        # aiohttp's own default would wait 60 s here.
        await asyncio.wait_for(site.stop(), WAIT)
        assert cancelled.is_set()
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


async def test_an_event_stream_opened_while_the_server_stops_ends_at_once(tmp_path: Path) -> None:
    # Plugins from discovery (no specs given): the server runs plugin generations.
    config = free_config(tmp_path / "data", **{"plugins.enabled": []})
    server = ServerService(config, name="test-server", heartbeat=TEST_HEARTBEAT)
    await server.start()
    try:
        assert server.rollout is not None and server.admin_site is not None
        # The first step of the server's stop; its sites answer until they stop.
        await server.rollout.close()
        async with (
            aiohttp.ClientSession(headers=admin_headers(server)) as session,
            session.get(server.admin_site.url + "/api/events") as response,
        ):
            assert response.status == 200
            assert await asyncio.wait_for(response.read(), WAIT) == b""
    finally:
        await server.stop()


def test_a_stop_that_returns_in_time_leaves_the_exit_to_the_caller() -> None:
    # The control for the two tests above: the same script, a stop that returns.
    done = run_hanging("return", exit_code=0)
    assert done.returncode == 0, done.stderr
    assert "started" in done.stdout and "returned normally" in done.stdout
    assert "did not stop" not in done.stderr


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"PATH": "/usr/bin", "TERM": "xterm"}, False),
        ({"PEEK_SUPERVISOR_PID": "4242"}, True),  # a child of peek run
        ({"NOTIFY_SOCKET": "/run/systemd/notify"}, True),  # Type=notify unit
        ({"INVOCATION_ID": "0f3a9c"}, True),  # any systemd unit
    ],
)
def test_a_service_knows_whether_something_restarts_it(
    environ: dict[str, str], expected: bool
) -> None:
    assert supervised(environ) is expected
