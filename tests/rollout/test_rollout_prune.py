"""After a successful rollout every host keeps only the newest generations on disk (and the
active one and its parent) and deletes the installs and artifacts nothing kept uses; a
kept generation can still be rolled back to (real processes, remote hosts)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from .cluster import Cluster, cluster, versions
from .pluginkit import plugin_wheel
from .sites import file_digest
from .test_plugin_cli import peek

PROBE = "peek_plugin_probe"
HOSTS = ("server", "client", "agent")
PRUNE_TIMEOUT = 30.0


def artifact(c: Cluster, kind: str, sha: str) -> Path:
    return c.data(kind) / "artifacts" / "sha256" / sha[:2] / f"{sha}.whl"


def installs(c: Cluster, kind: str) -> set[str]:
    root = c.data(kind) / "plugins-installed" / PROBE
    return {p.name.split("-")[0] for p in root.iterdir()} if root.is_dir() else set()


async def until_gone(path: Path) -> None:
    deadline = time.monotonic() + PRUNE_TIMEOUT
    while await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, f"{path} was never pruned"
        await asyncio.sleep(0.2)


async def test_a_successful_rollout_prunes_what_no_kept_generation_uses_on_every_host(
    tmp_path: Path,
) -> None:
    wheels = [plugin_wheel(tmp_path / "w", "probe", f"{v}.0.0") for v in (1, 2, 3)]
    shas = [file_digest(w) for w in wheels]
    async with cluster(tmp_path / "sep", "separate", extra="keep_generations = 2") as c:
        for wheel in wheels:
            assert (await c.roll_out(wheel))["state"] == "active", c.logs()
        # Generations 1 (initial), 2 (v1), 3 (v2), 4 (v3, active): 3 and 4 are kept.
        for kind in HOSTS:
            await until_gone(artifact(c, kind, shas[0]))
        for kind in HOSTS:
            assert artifact(c, kind, shas[1]).is_file()
            assert artifact(c, kind, shas[2]).is_file()
            assert installs(c, kind) == {"2.0.0", "3.0.0"}
        generations = c.data() / "generations"
        assert sorted(p.name for p in generations.iterdir() if p.name.isdigit()) == ["3", "4"]

        status, body = await c.api("POST", "/api/generations/2/rollback")
        assert (status, body["error"]) == (409, "pruned")
        status, body = await c.api("POST", "/api/generations/3/rollback")
        assert status == 202, body
        done = (await c.events(body["generation"]))[-1]
        assert done["state"] == "active", c.logs()
        after = await c.wait_services(set(HOSTS), generation=done["generation"])
        assert versions(after, PROBE) == {"server": "2.0.0", "client": "2.0.0", "agent": "2.0.0"}


async def test_plugin_prune_reports_what_every_host_keeps(tmp_path: Path) -> None:
    wheels = [plugin_wheel(tmp_path / "w", "probe", f"{v}.0.0") for v in (1, 2)]
    async with cluster(tmp_path / "c", "separate", kinds=(), extra="keep_generations = 1") as c:
        for wheel in wheels:
            assert (await c.roll_out(wheel))["state"] == "active", c.logs()
        code, out, err = await peek(c, "plugin", "prune")
        assert code == 0, out + err
        # Generation 3 is active; its parent 2 stays as well.
        assert out.splitlines()[0] == "kept generations 2, 3"
