"""Uploads rolled out to every service, with real processes: ``peek run`` (the local case)
and a server with a client and an agent as separate processes on data directories of
their own (remote services, which download the artifacts)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from .cluster import cluster, generations, versions
from .pluginkit import plugin_wheel

PROBE = "peek_plugin_probe"


async def test_upload_makes_the_new_version_active_on_every_service(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    v2 = plugin_wheel(tmp_path / "w", "probe", "2.0.0")
    async with cluster(tmp_path / "run", "run") as c:
        first = await c.roll_out(v1)
        assert first["state"] == "active", c.logs()
        done = await c.roll_out(v2)
        assert done["state"] == "active", c.logs()
        status = await c.status()
        assert versions(status, PROBE) == {
            "server": "2.0.0",
            "client": "2.0.0",
            "agent": "2.0.0",
            "worker": None,
        }
        assert set(generations(status).values()) == {done["generation"]}
        # The swapped plugin answers on the running sites with its new code.
        assert (await c.plugin_state("probe", "admin"))["version"] == "2.0.0"
        assert (await c.plugin_state("probe", "user"))["version"] == "2.0.0"


async def test_remote_services_download_and_switch_to_the_upload(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(tmp_path / "sep", "separate") as c:
        status, body = await c.upload(v1)
        assert status == 202
        events = await c.events(body["generation"])
        assert events[-1]["state"] == "active", c.logs()
        steps = {(e["service"].split()[0], e["step"]) for e in events}
        assert {("client", "downloading"), ("agent", "downloading")} <= steps
        assert {("client", "healthy"), ("agent", "healthy"), ("server", "healthy")} <= steps
        # Each remote host has the artifact in its own store now.
        sha = body["plugin"]["sha256"]
        for kind in ("client", "agent"):
            assert (c.data(kind) / "artifacts" / "sha256" / sha[:2] / f"{sha}.whl").is_file()
        status_doc = await c.status()
        assert versions(status_doc, PROBE) == {
            "server": "1.0.0",
            "client": "1.0.0",
            "agent": "1.0.0",
        }


async def test_start_failing_on_one_remote_service_rolls_everything_back(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    bad = plugin_wheel(
        tmp_path / "w",
        "probe",
        "2.0.0",
        start={"agent": "raise RuntimeError('no hardware on this agent')"},
    )
    async with cluster(tmp_path / "sep", "separate", extra="health_timeout = 20") as c:
        good = (await c.roll_out(v1))["generation"]
        done = await c.roll_out(bad)
        assert done["state"] == "failed"
        assert any("agent" in p and "no hardware on this agent" in p for p in done["problems"])
        status = await c.wait_services({"server", "client", "agent"}, generation=good)
        assert versions(status, PROBE) == {"server": "1.0.0", "client": "1.0.0", "agent": "1.0.0"}
        _, history = await c.api("GET", "/api/generations")
        failed = next(g for g in history["generations"] if g["number"] == done["generation"])
        assert failed["state"] == "failed"
        assert any("no hardware on this agent" in p for p in failed["problems"])
        assert (await c.plugin_state("probe"))["version"] == "1.0.0"


UNHEALTHY_CLIENT = """\
from peek.plugin import PluginHook, hookimpl


class Hook(PluginHook):
    @hookimpl
    def peek_health(self):
        return "cannot reach the line controller"
"""


async def test_a_health_hook_reporting_a_problem_rolls_everything_back(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    sick = plugin_wheel(tmp_path / "w", "probe", "2.0.0", modules={"client": UNHEALTHY_CLIENT})
    async with cluster(tmp_path / "run", "run", extra="health_timeout = 20") as c:
        good = (await c.roll_out(v1))["generation"]
        done = await c.roll_out(sick)
        assert done["state"] == "failed", c.logs()
        assert any(
            "client" in p and "cannot reach the line controller" in p for p in done["problems"]
        )
        status = await c.wait_services({"server", "client", "agent"}, generation=good)
        assert versions(status, PROBE)["client"] == "1.0.0"


async def test_a_service_that_stops_answering_aborts_the_rollout_everywhere(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(tmp_path / "sep", "separate", extra="prepare_timeout = 4") as c:
        # Every service has reported its generation (the first) before the rollout.
        before = await c.wait_services({"server", "client", "agent"}, generation=1)
        current = (tmp_path / "sep" / "data" / "generations" / "current").readlink()
        c.signal("agent", signal.SIGSTOP)
        try:
            done = await c.roll_out(v1)
        finally:
            c.signal("agent", signal.SIGCONT)
        assert done["state"] == "failed"
        assert any("agent" in p and "did not prepare within 4 s" in p for p in done["problems"])
        # Nothing switched: the server's link and every service's generation are as before.
        assert (tmp_path / "sep" / "data" / "generations" / "current").readlink() == current
        after = await c.wait_services({"server", "client", "agent"})
        assert generations(after) == generations(before)
        assert versions(after, PROBE) == {"server": None, "client": None, "agent": None}


async def test_a_service_that_is_down_aborts_the_rollout(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(tmp_path / "sep", "separate") as c:
        await c.kill("agent")
        status = await c.status()
        while next(s for s in status["services"] if s["kind"] == "agent")["state"] != "down":
            await asyncio.sleep(0.1)
            status = await c.status()
        done = await c.roll_out(v1)
        assert done["state"] == "failed"
        assert done["problems"] == ["agent remote-agent is down"]
        assert versions(await c.status(), PROBE)["server"] is None


async def test_the_api_refuses_an_oversized_or_unauthenticated_upload_and_changes_nothing(
    tmp_path: Path,
) -> None:
    big = tmp_path / "peek_plugin_big-1.0.0-py3-none-any.whl"
    big.write_bytes(b"PK\x03\x04" + b"\0" * 4096)
    async with cluster(
        tmp_path / "srv", "separate", kinds=(), extra="max_upload_bytes = 2048"
    ) as c:
        status, body = await c.upload(big)
        assert status == 413
        assert body["error"] == "too_large"
        assert body["limit"] == 2048
        assert "upload limit of 2048 bytes" in body["message"]
        assert c.http is not None
        async with c.http.get(f"{c.admin}/api/generations") as response:
            assert response.status == 401
        _, history = await c.api("GET", "/api/generations")
        assert [g["number"] for g in history["generations"]] == [1]
        assert list((c.data() / "uploads").iterdir()) == []
        assert not (c.data() / "artifacts").exists()
