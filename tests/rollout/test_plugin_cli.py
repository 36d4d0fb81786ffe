"""``peek plugin upload|generations|rollback|remove|list`` against a running server: the
progress they print, and exit codes 0 (active), 1 (failed, rolled back), 3 (refused),
4 (no server)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from .cluster import Cluster, cluster
from .pluginkit import plugin_wheel

CLI_TIMEOUT = 120.0


async def peek(c: Cluster | None, *args: str, config: Path | None = None) -> tuple[int, str, str]:
    cfg = config if config is not None else c.config()  # type: ignore[union-attr]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peek", *args, "--config", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("PEEK")},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_upload_prints_progress_per_service_and_exits_0_once_active(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with cluster(tmp_path / "c", "separate", kinds=("agent",)) as c:
        code, out, err = await peek(c, "plugin", "upload", str(wheel))
        assert code == 0, out + err
        lines = out.splitlines()
        for step in ("downloading", "prepared", "switched", "healthy"):
            assert any(line.startswith(f"agent remote-agent: {step}") for line in lines), out
        assert "server: healthy" in lines
        assert lines[-1] == "generation 2 is active on every service"
        assert "generation 2 with peek_plugin_probe 1.0.0 accepted" in err


async def test_upload_exits_1_with_the_reason_when_the_rollout_is_rolled_back(
    tmp_path: Path,
) -> None:
    wheel = plugin_wheel(
        tmp_path / "w", "probe", "1.0.0", services=("server",),
        start={"server": "raise RuntimeError('the probe is unplugged')"},
    )  # fmt: skip
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        code, out, err = await peek(c, "plugin", "upload", str(wheel), "--json")
        assert code == 1
        result = json.loads(out)
        assert result["state"] == "failed"
        assert any("the probe is unplugged" in p for p in result["problems"])
        code, out, err = await peek(c, "plugin", "upload", str(wheel))
        assert code == 1
        assert "failed; every service is back on the previous one" in err
        assert "the probe is unplugged" in err


async def test_upload_follows_the_rollout_across_a_server_restart_and_exits_0(
    tmp_path: Path,
) -> None:
    wheel = plugin_wheel(
        tmp_path / "w", "probe", "1.0.0", services=("server",), manifest_extra="restart = true"
    )
    async with cluster(tmp_path / "c", "run") as c:
        code, out, err = await peek(c, "plugin", "upload", str(wheel))
        assert code == 0, out + err + c.logs()
        lines = out.splitlines()
        assert lines.index("server: restarting: cannot swap in-process: peek_plugin_probe") < (
            lines.index("server: restarted: running generation 2")
        )
        assert lines[-1] == "generation 2 is active on every service"


async def test_an_upload_the_server_refuses_exits_3_with_its_message(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a plugin")
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        code, out, err = await peek(c, "plugin", "upload", str(bad))
        assert code == 3
        assert "refused: 'notes.txt' is neither a wheel (.whl) nor a .zip or .tar.gz" in err
        code, out, err = await peek(c, "plugin", "generations", "--json")
        assert [g["number"] for g in json.loads(out)["generations"]] == [1]


async def test_generations_lists_the_history_with_states_and_reasons(tmp_path: Path) -> None:
    good = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server",))
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        assert (await peek(c, "plugin", "upload", str(good), "--reason", "new probe"))[0] == 0
        code, out, _ = await peek(c, "plugin", "generations", "--json")
        assert code == 0
        history = json.loads(out)["generations"]
        assert [(g["number"], g["state"], g["active"]) for g in history] == [
            (2, "active", True),
            (1, "active", False),
        ]
        assert history[0]["reason"] == "new probe"
        assert history[0]["created_by"] == "admin (local admin token)"
        code, out, _ = await peek(c, "plugin", "generations")
        assert out.splitlines()[0].split() == [
            "GEN", "STATE", "ACTIVE", "CREATED", "BY", "PLUGINS", "REASON",
        ]  # fmt: skip


async def test_rollback_without_a_number_returns_to_the_previous_generation(
    tmp_path: Path,
) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server",))
    v2 = plugin_wheel(tmp_path / "w", "probe", "2.0.0", services=("server",))
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        for wheel in (v1, v2):
            assert (await peek(c, "plugin", "upload", str(wheel)))[0] == 0
        code, out, err = await peek(c, "plugin", "rollback")
        assert code == 0, out + err
        assert (await c.plugin_state("probe"))["version"] == "1.0.0"
        _, body = await c.api("GET", "/api/generations")
        states = {g["number"]: g["state"] for g in body["generations"]}
        assert states == {4: "active", 3: "rolled_back", 2: "active", 1: "active"}
        assert body["generations"][0]["reason"] == "rollback to generation 2"


async def test_remove_rolls_out_the_set_without_the_plugin(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server",))
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        assert (await peek(c, "plugin", "upload", str(v1)))[0] == 0
        code, out, err = await peek(c, "plugin", "remove", "peek_plugin_probe")
        assert code == 0, out + err
        code, out, _ = await peek(c, "plugin", "list", "--json")
        assert [p["name"] for p in json.loads(out)["plugins"]] == ["peek_plugin_noop"]
        code, out, err = await peek(c, "plugin", "remove", "peek_plugin_probe")
        assert code == 3
        assert "peek_plugin_probe is not in the active plugin set" in err


async def test_list_shows_the_servers_set_and_each_services_generation(tmp_path: Path) -> None:
    v1 = plugin_wheel(tmp_path / "w", "probe", "1.0.0", services=("server",))
    async with cluster(tmp_path / "c", "separate", kinds=()) as c:
        assert (await peek(c, "plugin", "upload", str(v1)))[0] == 0
        code, out, _ = await peek(c, "plugin", "list")
        assert code == 0
        lines = out.splitlines()
        assert lines[0] == "generation 2"
        assert any(line.split()[:3] == ["peek_plugin_probe", "1.0.0", "upload"] for line in lines)
        assert any(
            line.split()[:3] == ["peek_plugin_noop", "0.1.0", "environment"] for line in lines
        )


async def test_without_a_server_upload_exits_4_and_list_falls_back_to_installed(
    tmp_path: Path,
) -> None:
    config = tmp_path / "peek.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[server]\nadmin_port = 9\n')
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    code, _, err = await peek(None, "plugin", "upload", str(wheel), config=config)
    assert code == 4
    assert "cannot read the admin token" in err
    code, out, err = await peek(None, "plugin", "list", "--json", config=config)
    assert code == 0
    assert "listing the plugins installed here instead" in err
    assert "peek_plugin_noop" in [p["name"] for p in json.loads(out)["plugins"]]
