"""A service that is gone for good no longer blocks rollouts once an administrator forgets
it; when it comes back it registers again and catches up (real processes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .cluster import Cluster, cluster, versions
from .pluginkit import plugin_wheel
from .test_plugin_cli import peek

PROBE = "peek_plugin_probe"


async def wait_down(c: Cluster, kind: str) -> None:
    while True:
        status = await c.status()
        if next(s for s in status["services"] if s["kind"] == kind)["state"] == "down":
            return
        await asyncio.sleep(0.1)


async def test_a_forgotten_down_service_stops_blocking_and_catches_up_when_back(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(tmp_path / "sep", "separate") as c:
        await c.kill("agent")
        await wait_down(c, "agent")
        blocked = await c.roll_out(v1)
        assert blocked["problems"] == ["agent remote-agent is down"]
        code, out, err = await peek(c, "service", "forget", "remote-agent")
        assert code == 0, out + err
        assert "forgot agent remote-agent" in out
        assert "agent" not in {s["kind"] for s in (await c.status())["services"]}
        done = await c.roll_out(v1)
        assert done["state"] == "active", c.logs()
        await c.spawn("agent")
        after = await c.wait_services({"server", "client", "agent"}, generation=done["generation"])
        assert versions(after, PROBE) == {"server": "1.0.0", "client": "1.0.0", "agent": "1.0.0"}


async def test_only_a_down_service_can_be_forgotten(tmp_path: Path) -> None:
    async with cluster(tmp_path / "sep", "separate", kinds=("agent",)) as c:
        status, body = await c.api("DELETE", "/api/services/remote-agent")
        assert (status, body["error"]) == (409, "running")
        assert "only a down service is forgotten" in body["message"]
        status, body = await c.api("DELETE", "/api/services/no-such-service")
        assert (status, body["error"]) == (404, "no_service")
        code, _, err = await peek(c, "service", "forget", "remote-agent")
        assert code == 3
        assert "remote-agent is connected" in err
        assert "agent" in {s["kind"] for s in (await c.status())["services"]}
