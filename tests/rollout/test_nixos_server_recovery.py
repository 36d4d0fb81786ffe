"""The server on the NixOS backend: root's switch restarts it, and it carries on from root's answer.

A switch to a new system restarts every Peek unit of the host, the server
among them, while the server waits for root's answer. These tests play the
restart: one :class:`ServerRollout` asks root (through the real backend)
and is dropped, a new one starts on the same data directory with the
configuration the new system renders, and :class:`FakeRoot` plays
``peek-rebuild.service``: it takes the request and writes the result file.
The database is the server's own SQLite file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peek.config import PeekConfig, load_config
from peek.rollout.backends.nixos import IN_FLIGHT_FILE, REQUEST_FILE, NixosHostBackend
from peek.rollout.generations import Generation, GenerationPlugin, GenerationState
from peek.rollout.restart import PendingRestart
from peek.services.common import PluginHost
from peek.services.registry import ServiceRegistry
from peek.services.rollout import ServerRollout
from peek.storage import Storage
from peek.vortex.link import LinkServer
from peek.vortex.tokens import TokenInfo

WAIT = 30.0
UNHEALTHY = "the new system is unhealthy: peek-worker.service is failed"


@dataclass
class FakeRoot:
    """Plays ``peek-rebuild.service``: takes the request, answers in the result file."""

    request_dir: Path
    state_dir: Path

    def built(self, number: int) -> None:
        """Root's record of a system built at prepare."""
        (self.state_dir / "built").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "built" / str(number)).symlink_to(f"/nix/store/fake-system-{number}")

    def take(self) -> dict[str, str]:
        request = self.request_dir / REQUEST_FILE
        fields = dict(line.split("=", 1) for line in request.read_text().splitlines())
        request.unlink()
        return fields

    def answer(self, request_id: str, generation: int, *, ok: bool, reason: str = "") -> None:
        system = f"/nix/store/fake-system-{generation}"
        (self.state_dir / "results").mkdir(parents=True, exist_ok=True)
        body = {
            "id": request_id,
            "ok": ok,
            "generation": generation,
            "system_generation": 3,
            "system": system,
            "reason": reason,
        }
        (self.state_dir / "results" / f"{request_id}.json").write_text(json.dumps(body))
        if ok:
            active = {"generation": generation, "system_generation": 3, "system": system}
            (self.state_dir / "active.json").write_text(json.dumps(active))


@dataclass
class Host:
    tmp: Path
    root: FakeRoot
    restarts: list[int]

    def config(self, system_generation: int | None) -> PeekConfig:
        """What the system built from ``system_generation``'s lock renders."""
        return load_config(
            overrides={
                "data_dir": str(self.tmp / "data"),
                "plugins": {"enabled": []},
                "rollout": {
                    "backend": "nixos",
                    "nixos": {
                        "state_dir": str(self.root.state_dir),
                        "switch_timeout": WAIT,
                        "generation": system_generation,
                    },
                },
            }
        )

    async def start(self, system_generation: int | None) -> ServerRollout:
        """A server process on the system built from ``system_generation``: bootstrapped."""
        config = self.config(system_generation)

        async def verify(token: str) -> TokenInfo | None:
            return None

        rollout = ServerRollout(
            config,
            PluginHost(config, "server", specs=[]),
            storage=Storage.from_config(config),
            link=LinkServer(verify),
            registry=ServiceRegistry(),
            verify=verify,
            server_name="server",
            request_restart=lambda: self.restarts.append(1),
        )
        await blocking(rollout.bootstrap)
        return rollout


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - state owned by the coordinator's tasks
            await asyncio.sleep(0.02)


def second(environment: dict[str, str]) -> Generation:
    plugins: dict[str, GenerationPlugin] = {}
    return Generation(2, 1, "admin", "test", datetime.now(UTC), plugins, environment)


def make_host(tmp_path: Path) -> Host:
    data = tmp_path / "data"
    return Host(tmp_path, FakeRoot(data / "rebuild", tmp_path / "root"), [])


def no_fetch(plugin: GenerationPlugin) -> Path:
    raise AssertionError("generation 2 has no wheels to fetch")


async def switch_asked_then_restarted(
    host: Host, *, restart_phase: bool
) -> tuple[ServerRollout, dict[str, str]]:
    """Generation 2 committed; the server asked root to switch, and root took it."""
    first = await host.start(None)
    gen2 = second({"peek_plugin_other": "1.0"})
    await blocking(first.history.propose, gen2)
    if restart_phase:
        record = PendingRestart(2, 1, None, ())
        await blocking(record.write, first.restart_record)
    await blocking(lambda: first.history.commit(2, restart=restart_phase))
    host.root.built(2)
    backend = first.backend
    assert isinstance(backend, NixosHostBackend)
    await blocking(backend.prepare, gen2, no_fetch)
    await blocking(backend.ask, "switch", 2)
    return first, host.root.take()


async def run_started(rollout: ServerRollout) -> None:
    """What ServerService.start does after bootstrap, with no plugins."""
    await rollout.resume()
    await blocking(rollout.before_migrations, [])
    await rollout.host.load()
    rollout.started()


async def test_the_restarted_server_runs_the_systems_generation_and_reports_health_after_root(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path)
    _, request = await switch_asked_then_restarted(host, restart_phase=True)

    restarted = await host.start(2)
    assert restarted.hello_generation() == 2
    await run_started(restarted)
    # Long enough for the coordinator to finish if it did not wait for root (a
    # few database writes); it must still be waiting.
    await asyncio.sleep(0.5)
    current = restarted.coordinator.current
    assert current is not None and current.phase == "switching", "waits for root's answer"
    record = await blocking(restarted.history.get, 2)
    assert record is not None and record.state is GenerationState.PREPARED

    host.root.answer(request["id"], 2, ok=True)
    await until(lambda: restarted.coordinator.current is None)

    record = await blocking(restarted.history.get, 2)
    assert record is not None and record.state is GenerationState.ACTIVE
    assert (await blocking(restarted.history.pointer)).target is None
    assert not (host.root.request_dir / IN_FLIGHT_FILE).exists()
    await restarted.close()


async def test_root_switching_the_host_back_fails_the_generation_with_roots_reason(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path)
    _, request = await switch_asked_then_restarted(host, restart_phase=True)
    restarted = await host.start(2)
    await run_started(restarted)

    host.root.answer(request["id"], 2, ok=False, reason=UNHEALTHY)
    await until(lambda: bool(host.restarts))
    await restarted.close()
    # Root switched the host back, which restarts the server on the old system.
    back = await host.start(1)

    record = await blocking(back.history.get, 2)
    assert record is not None and record.state is GenerationState.FAILED
    assert record.problems == (f"server: root switched this host back: {UNHEALTHY}",)
    pointer = await blocking(back.history.pointer)
    assert (pointer.active, pointer.target) == (1, None)
    assert back.hello_generation() is None, "the old system was built without a lock"
    assert not (host.root.request_dir / REQUEST_FILE).exists(), "root is not asked again"
    await back.close()


async def test_a_server_restarting_after_roots_failed_switch_records_roots_reason(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path)
    _, request = await switch_asked_then_restarted(host, restart_phase=False)
    host.root.answer(request["id"], 2, ok=False, reason=UNHEALTHY)

    back = await host.start(1)

    record = await blocking(back.history.get, 2)
    assert record is not None and record.state is GenerationState.FAILED
    assert record.problems == (f"root switched the server host back: {UNHEALTHY}",)
    assert (await blocking(back.history.pointer)).active == 1
    assert not (host.root.request_dir / REQUEST_FILE).exists()
    assert not (host.root.request_dir / IN_FLIGHT_FILE).exists()
    await back.close()


async def test_recovery_asks_root_to_go_back_without_waiting_for_the_answer(
    tmp_path: Path,
) -> None:
    host = make_host(tmp_path)
    first, request = await switch_asked_then_restarted(host, restart_phase=False)
    # Root's switch completed; the server stopped before every service said healthy.
    host.root.answer(request["id"], 2, ok=True)
    host.root.built(1)

    back = await host.start(2)  # returns: bootstrap does not wait for root

    asked = host.root.take()
    assert (asked["action"], asked["generation"]) == ("rollback", "1")
    record = await blocking(back.history.get, 2)
    assert record is not None and record.state is GenerationState.FAILED
    assert "went back to generation 1" in record.problems[0]
    await back.close()
    await first.close()
