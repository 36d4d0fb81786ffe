"""A plugin that cannot be swapped inside the running server: the server restarts into the
new generation as part of the same switch, and a failure after the restart rolls every
service back (real ``peek run`` processes)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import aiohttp

from .cluster import ROLLOUT_TIMEOUT, cluster, generations, versions
from .pluginkit import plugin_wheel

PROBE = "peek_plugin_probe"
SERVICES = {"server", "client", "agent", "worker"}


async def test_a_server_plugin_that_needs_a_restart_restarts_the_server_into_the_generation(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server", "client"))
    v2 = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        services=("server", "client"),
        manifest_extra="restart = true",
    )
    async with cluster(tmp_path / "run", "run") as c:
        assert (await c.roll_out(v1))["state"] == "active", c.logs()
        before = await asyncio.to_thread(c.service_pids)
        admin_before = await c.plugin_state("probe", "admin")
        status, body = await c.upload(v2)
        assert status == 202, body
        events = await c.follow(body["generation"])
        assert events[-1]["state"] == "active", (events, c.logs())
        steps = {(e["service"].split()[0], e["step"]) for e in events}
        assert {("server", "restarted"), ("server", "healthy")} <= steps
        after = await c.wait_services(SERVICES, generation=body["generation"])
        assert set(generations(after).values()) == {body["generation"]}
        assert versions(after, PROBE) == {
            "server": "2.0.0",
            "client": "2.0.0",
            "agent": None,
            "worker": None,
        }
        admin_after = await c.plugin_state("probe", "admin")
        assert admin_after["version"] == "2.0.0"
        assert admin_after["pid"] != admin_before["pid"]
        pids = await asyncio.to_thread(c.service_pids)
        # The server and the client (it hosts the plugin too) restarted; the rest did not.
        assert pids["server"] != before["server"]
        assert pids["client"] != before["client"]
        assert pids["agent"] == before["agent"]
        assert pids["worker"] == before["worker"]


async def test_a_server_run_by_hand_restarts_itself_in_place_into_the_generation(
    tmp_path: Path,
) -> None:
    # `peek server` and `peek client` started directly: no peek run, no systemd to restart them.
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server", "client"))
    v2 = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        services=("server", "client"),
        manifest_extra="restart = true",
    )
    async with cluster(tmp_path / "sep", "separate", kinds=("client",)) as c:
        assert (await c.roll_out(v1))["state"] == "active", c.logs()
        before = await c.plugin_state("probe", "admin")
        status, body = await c.upload(v2)
        assert status == 202, body
        events = await c.follow(body["generation"])
        assert events[-1]["state"] == "active", (events, c.logs())
        after = await c.wait_services({"server", "client"}, generation=body["generation"])
        assert versions(after, PROBE) == {"server": "2.0.0", "client": "2.0.0"}
        admin_after = await c.plugin_state("probe", "admin")
        assert admin_after["version"] == "2.0.0"
        # The same process (exec), started afresh; it never exited.
        assert admin_after["pid"] == before["pid"] == c.procs["server"].pid
        assert c.procs["server"].returncode is None
        assert "restarting in place" in (c.root / "server.log").read_text()


async def test_a_server_plugin_failing_after_the_restart_rolls_every_service_back(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server",))
    bad = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        services=("server",),
        manifest_extra="restart = true",
        start={"server": "raise RuntimeError('no licence for this line after the restart')"},
    )
    async with cluster(tmp_path / "run", "run") as c:
        good = (await c.roll_out(v1))["generation"]
        admin_before = await c.plugin_state("probe", "admin")
        status, body = await c.upload(bad)
        assert status == 202, body
        events = await c.follow(body["generation"])
        done = events[-1]
        assert done["state"] == "failed", (events, c.logs())
        assert any("no licence for this line" in p for p in done["problems"])
        after = await c.wait_services(SERVICES, generation=good)
        assert set(generations(after).values()) == {good}
        assert versions(after, PROBE)["server"] == "1.0.0"
        admin_after = await c.plugin_state("probe", "admin")
        assert admin_after["version"] == "1.0.0"
        assert admin_after["pid"] != admin_before["pid"]
        _, history = await c.api("GET", "/api/generations")
        record = next(g for g in history["generations"] if g["number"] == body["generation"])
        assert record["state"] == "failed"
        assert any("no licence for this line" in p for p in record["problems"])
        assert (c.data() / "generations" / "current").readlink() == Path(str(good))


async def test_a_server_killed_after_restarting_into_a_generation_brings_everyone_back(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server", "client"))
    # The restarted server's start of v2 hangs: it is killed before it reports health.
    hanging = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        services=("server", "client"),
        manifest_extra="restart = true",
        start={"server": "await asyncio.sleep(60)"},
    )
    async with cluster(tmp_path / "run", "run") as c:
        good = (await c.roll_out(v1))["generation"]
        status, body = await c.upload(hanging)
        assert status == 202, body
        deadline = time.monotonic() + ROLLOUT_TIMEOUT
        while True:
            assert time.monotonic() < deadline, c.logs()
            with contextlib.suppress(aiohttp.ClientError, OSError, ValueError):
                _, plugins = await c.api("GET", "/api/plugins")
                rollout = plugins.get("rollout") or {}
                if rollout.get("services", {}).get("server") == "restarted":
                    break
            await asyncio.sleep(0.2)
        server = (await asyncio.to_thread(c.service_pids))["server"]
        os.kill(server, signal.SIGKILL)
        events = await c.follow(body["generation"])
        assert events[-1]["state"] == "failed", c.logs()
        assert "after the switch" in events[-1]["problems"][0]
        after = await c.wait_services(SERVICES, generation=good)
        assert versions(after, PROBE) == {
            "server": "1.0.0",
            "client": "1.0.0",
            "agent": None,
            "worker": None,
        }
        assert (c.data() / "generations" / "current").readlink() == Path(str(good))
