"""A server killed (SIGKILL) in the middle of a rollout comes back consistent: every service
on one generation, never a mix; and what survives an update of another plugin."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .cluster import cluster, generations, versions
from .pluginkit import hook_module, plugin_wheel

PROBE = "peek_plugin_probe"
SERVICES = {"server", "client", "agent"}


async def history(c, number: int) -> dict:
    _, body = await c.api("GET", "/api/generations")
    return next(g for g in body["generations"] if g["number"] == number)


async def test_server_killed_between_prepare_and_commit_recovers_on_the_old_generation(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    # Importing the agent's hook takes a while: the agent prepares after the server did.
    slow = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        modules={"agent": "import time\ntime.sleep(3)\n" + hook_module("2.0.0")},
    )
    async with cluster(tmp_path / "sep", "separate") as c:
        good = (await c.roll_out(v1))["generation"]
        status, body = await c.upload(slow)
        assert status == 202
        await c.wait_for(body["generation"], ("server", "prepared"))
        await c.kill("server")
        await c.spawn("server")
        after = await c.wait_services(SERVICES, generation=good)
        assert versions(after, PROBE) == {"server": "1.0.0", "client": "1.0.0", "agent": "1.0.0"}
        record = await history(c, body["generation"])
        assert record["state"] == "failed"
        assert "before every service was ready" in record["problems"][0]
        assert (c.data() / "generations" / "current").readlink() == Path(str(good))


async def test_server_killed_between_commit_and_health_brings_everyone_back(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    # The server's start of the new version hangs: remote services switch meanwhile.
    hanging = plugin_wheel(
        tmp_path / "w", "probe", "2.0.0", start={"server": "await asyncio.sleep(60)"}
    )
    async with cluster(tmp_path / "sep", "separate") as c:
        good = (await c.roll_out(v1))["generation"]
        status, body = await c.upload(hanging)
        assert status == 202
        await c.wait_for(
            body["generation"], ("server", "committed"), ("client", "healthy"), ("agent", "healthy")
        )
        mixed = await c.status()
        assert versions(mixed, PROBE)["client"] == "2.0.0"
        await c.kill("server")
        await c.spawn("server")
        after = await c.wait_services(SERVICES, generation=good)
        assert versions(after, PROBE) == {"server": "1.0.0", "client": "1.0.0", "agent": "1.0.0"}
        record = await history(c, body["generation"])
        assert record["state"] == "failed"
        assert "after the switch" in record["problems"][0]
        assert (c.data() / "generations" / "current").readlink() == Path(str(good))


async def test_unrelated_plugins_keep_running_across_an_update_of_another(
    tmp_path: Path,
) -> None:
    counter = plugin_wheel(tmp_path / "w", "counter", "1.0.0", services=("server", "client"))
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    v2 = plugin_wheel(tmp_path / "w", "probe", "2.0.0")
    async with cluster(tmp_path / "run", "run") as c:
        assert (await c.roll_out(counter))["state"] == "active"
        assert (await c.roll_out(v1))["state"] == "active"
        before = {site: await c.plugin_state("counter", site) for site in ("admin", "user")}
        probe_before = await c.plugin_state("probe", "admin")
        assert (await c.roll_out(v2))["state"] == "active"
        await asyncio.sleep(0.2)
        for site in ("admin", "user"):
            after = await c.plugin_state("counter", site)
            # Same process, same hook object, never restarted, still counting.
            assert after["pid"] == before[site]["pid"]
            assert after["boot"] == before[site]["boot"]
            assert after["starts"] == 1
            assert after["ticks"] > before[site]["ticks"]
        probe_after = await c.plugin_state("probe", "admin")
        assert probe_after["version"] == "2.0.0"
        assert probe_after["pid"] == probe_before["pid"]  # swapped in-process
        assert probe_after["boot"] != probe_before["boot"]


async def test_a_plugin_that_asks_for_a_restart_restarts_its_services_into_the_generation(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    v2 = plugin_wheel(
        tmp_path / "w", "probe", "2.0.0", services=("client",), manifest_extra="restart = true"
    )
    async with cluster(tmp_path / "run", "run") as c:
        assert (await c.roll_out(v1))["state"] == "active"
        before = await c.plugin_state("probe", "user")
        done = await c.roll_out(v2)
        assert done["state"] == "active", c.logs()
        after = await c.plugin_state("probe", "user")
        assert after["version"] == "2.0.0"
        assert after["pid"] != before["pid"]  # the client restarted into it
        status = await c.status()
        assert set(generations(status).values()) == {done["generation"]}
