"""A service that is down while the server restarts is still known afterwards: it is listed
as down and a rollout waits for it (aborts naming it) until it is back or forgotten; when it
comes back it registers and catches up (real processes)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from .cluster import STOP_TIMEOUT, Cluster, cluster, versions
from .pluginkit import plugin_wheel
from .test_plugin_cli import peek
from .test_rollout_forget import wait_down
from .test_rollout_schema import database_url  # noqa: F401  (the fixture: SQLite, PostgreSQL)

PROBE = "peek_plugin_probe"
AGENT = ("agent", "remote-agent")


async def restart_server(c: Cluster) -> None:
    """Stop the server as a service manager would, and start it again."""
    c.signal("server", signal.SIGTERM)
    await asyncio.wait_for(c.procs["server"].wait(), STOP_TIMEOUT)
    await c.spawn("server")
    await c.wait_services({"server"})


def state_of(services: list[dict[str, Any]], kind: str, name: str) -> str | None:
    found = [s["state"] for s in services if (s["kind"], s["name"]) == (kind, name)]
    return found[0] if found else None


async def test_a_service_down_across_a_server_restart_blocks_rollouts_until_forgotten(
    tmp_path: Path,
    database_url: str | None,  # noqa: F811
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(
        tmp_path / "sep", "separate", kinds=("agent",), database_url=database_url
    ) as c:
        await c.kill("agent")
        await wait_down(c, "agent")

        await restart_server(c)

        code, out, err = await peek(c, "status", "--json")
        assert code == 0, out + err
        assert state_of(json.loads(out)["services"], *AGENT) == "down"
        _, plugins = await c.api("GET", "/api/plugins")
        assert state_of(plugins["services"], *AGENT) == "down"
        blocked = await c.roll_out(v1)
        assert blocked["state"] == "failed"
        assert blocked["problems"] == ["agent remote-agent is down"]
        assert versions(await c.status(), PROBE)["server"] is None

        code, out, err = await peek(c, "service", "forget", "remote-agent")
        assert code == 0, out + err
        done = await c.roll_out(v1)
        assert done["state"] == "active", c.logs()

        await c.spawn("agent")
        after = await c.wait_services({"server", "agent"}, generation=done["generation"])
        assert versions(after, PROBE) == {"server": "1.0.0", "agent": "1.0.0"}


async def test_a_forgotten_service_stays_forgotten_after_a_server_restart(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path / "sep", "separate", kinds=("agent",)) as c:
        await c.kill("agent")
        await wait_down(c, "agent")
        code, out, err = await peek(c, "service", "forget", "remote-agent")
        assert code == 0, out + err

        await restart_server(c)

        assert state_of((await c.status())["services"], *AGENT) is None
