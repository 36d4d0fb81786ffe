"""Remote services on the NixOS backend: root's switch restarts them, and they report to the
server only once root answered, root's failure included.

Real processes: a ``peek server`` (plain backend) and a remote ``peek agent`` or
``peek client`` on the NixOS backend, with a data directory of its own.
:class:`Root` plays the remote host's ``peek-rebuild.service`` and systemd: a
build is a symlink; a switch stops the service, starts it on the configuration
the new system renders (its plugin generation, the plugins of its lock on the
path) and waits until it is up on it (root's health wait), then answers; told
to fail, it starts the service on the old system again and answers with the
reason, as ``modules/peek-rebuild.sh`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from peek.rollout.wheels import install_wheel

from .cluster import ROLLOUT_TIMEOUT, STOP_TIMEOUT, Cluster, generations, versions
from .pluginkit import plugin_wheel
from .test_nixos_server_recovery import FakeRoot

PROBE = "peek_plugin_probe"
UNHEALTHY = "the new system is unhealthy: peek-worker.service is active 10s after it was ready"
ROOT_SAID = f"root switched this host back: {UNHEALTHY}"


@dataclass
class Root:
    """The remote host's root: answers the service's requests and restarts it (see the module)."""

    cluster: Cluster
    kind: str
    files: FakeRoot
    systems: Path
    # Switches root undoes, with the reason it gives.
    fail: dict[int, str] = field(default_factory=dict)
    # Write the failure before starting the service on the old system (it finds the
    # answer at start) instead of after (it waits for it).
    answer_first: bool = False
    # A switch to a generation here waits, before root answers, until its event is set;
    # ``reached`` is set once the service is up on the new system.
    hold: dict[int, asyncio.Event] = field(default_factory=dict)
    reached: dict[int, asyncio.Event] = field(default_factory=dict)
    requests: list[tuple[str, int]] = field(default_factory=list)
    system: int | None = None
    base: str = ""

    def render(self, generation: int | None) -> dict[str, str]:
        """Blocking: the service's configuration on the system built from ``generation``'s
        lock (as the NixOS module renders it), and the environment its unit runs with."""
        config = self.cluster.config(self.kind)
        if not self.base:
            self.base = config.read_text(encoding="utf-8")
        enabled = list(self.cluster.enabled)
        paths = []
        if generation is not None:
            gen_dir = (
                self.cluster.data(self.kind) / "system-flake" / "generations" / str(generation)
            )
            lock = json.loads((gen_dir / "generation.lock.json").read_text(encoding="utf-8"))
            for name, plugin in sorted(lock["plugins"].items()):
                target = self.systems / str(generation) / name
                if not target.exists():
                    wheel = gen_dir / plugin["wheel"]
                    install_wheel(wheel, target, filename=wheel.name)
                enabled.append(name)
                paths.append(str(target))
        text = self.base.replace("[rollout]\n", '[rollout]\nbackend = "nixos"\n', 1)
        text = text.replace(
            f"enabled = {json.dumps(list(self.cluster.enabled))}",
            f"enabled = {json.dumps(enabled)}",
        )
        text += f'\n[rollout.nixos]\nstate_dir = "{self.files.state_dir}"\nswitch_timeout = 60\n'
        if generation is not None:
            text += f"generation = {generation}\n"
        config.write_text(text, encoding="utf-8")
        return {"PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}

    async def start(self, generation: int | None) -> None:
        """systemd starts the service's unit of the system built from ``generation``."""
        env = await asyncio.to_thread(self.render, generation)
        log = await asyncio.to_thread((self.cluster.root / f"{self.kind}.log").open, "ab")
        try:
            config = str(self.cluster.config(self.kind))
            self.cluster.procs[self.kind] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "peek", self.kind, "--config", config,
                stdout=log, stderr=asyncio.subprocess.STDOUT,
                env={k: v for k, v in os.environ.items() if not k.startswith("PEEK")}
                | {"PYTHONUNBUFFERED": "1"} | env,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        self.system = generation

    async def stop(self) -> None:
        """systemd stops the unit: SIGTERM, SIGKILL if it does not exit in time."""
        proc = self.cluster.procs[self.kind]
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def restart(self, generation: int | None) -> None:
        await self.stop()
        await self.start(generation)

    def built(self, request_id: str, generation: int) -> None:
        """Blocking: a build's answer (nothing activated: the running system stays active)."""
        self.files.built(generation)
        body = {
            "id": request_id,
            "ok": True,
            "generation": generation,
            "system_generation": None,
            "system": f"/nix/store/fake-system-{generation}",
            "reason": "",
        }
        results = self.files.state_dir / "results"
        results.mkdir(parents=True, exist_ok=True)
        (results / f"{request_id}.json").write_text(json.dumps(body), encoding="utf-8")

    async def serve(self) -> None:
        """``peek-rebuild.path``: a request appears, the oneshot handles it."""
        request = self.files.request_dir / "request"
        while True:
            if await asyncio.to_thread(request.exists):
                fields = await asyncio.to_thread(self.files.take)
                await self.handle(fields["id"], fields["action"], int(fields["generation"]))
            await asyncio.sleep(0.05)

    async def handle(self, request_id: str, action: str, generation: int) -> None:
        self.requests.append((action, generation))
        if action == "build":
            await asyncio.to_thread(self.built, request_id, generation)
            return
        previous = self.system
        await self.restart(generation)
        # The health wait: the unit is up (its plugins started) on the new system.
        await self.cluster.wait_services({self.kind}, generation)
        self.reached.setdefault(generation, asyncio.Event()).set()
        if generation in self.hold:
            await self.hold[generation].wait()
        reason = self.fail.get(generation) if action == "switch" else None
        if reason is None:
            await asyncio.to_thread(self.files.answer, request_id, generation, ok=True)
            return
        failed = functools.partial(self.files.answer, request_id, generation, ok=False)
        if self.answer_first:
            await asyncio.to_thread(failed, reason=reason)
        await self.restart(previous)
        if not self.answer_first:
            await asyncio.to_thread(failed, reason=reason)


@contextlib.asynccontextmanager
async def nixos_host(tmp_path: Path, kind: str) -> AsyncIterator[tuple[Cluster, Root]]:
    """A server and a ``kind`` on the NixOS backend, both on generation 1 (the remote
    host got there through root: a build and a switch)."""
    c = Cluster(tmp_path / "cluster", "separate", kinds=(kind,))
    files = FakeRoot(c.data(kind) / "rebuild", tmp_path / "root-state")
    root = Root(c, kind, files, tmp_path / "systems")
    serving: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(c.write)
        c.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ROLLOUT_TIMEOUT))
        await c.spawn("server")
        await root.start(None)
        serving = asyncio.create_task(root.serve())
        await c.wait_services({"server", kind}, generation=1)
        assert root.requests == [("build", 1), ("switch", 1)]
        yield c, root
    finally:
        if serving is not None:
            serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        await c.stop()


async def history(c: Cluster, number: int) -> dict[str, Any]:
    _, body = await c.api("GET", "/api/generations")
    [record] = [g for g in body["generations"] if g["number"] == number]
    return dict(record)


@pytest.mark.parametrize("kind", ["agent", "client"])
async def test_root_switching_a_remote_host_back_fails_the_rollout_everywhere_with_roots_reason(
    tmp_path: Path, kind: str
) -> None:
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with nixos_host(tmp_path, kind) as (c, root):
        root.fail[2] = UNHEALTHY
        status, body = await c.upload(wheel)
        assert status == 202, body

        done = (await c.follow(body["generation"]))[-1]

        assert done["state"] == "failed", c.logs()
        record = await history(c, 2)
        [problem] = record["problems"]
        assert problem.startswith(f"{kind} ") and problem.endswith(f": {ROOT_SAID}"), problem
        assert done["problems"] == [problem], "going back to generation 1 went without a problem"
        now = await c.wait_services({"server", kind}, generation=1)
        assert generations(now) == {"server": 1, kind: 1}
        assert versions(now, PROBE) == {"server": None, kind: None}
        assert root.system == 1
        assert root.requests[2:] == [("build", 2), ("switch", 2)], root.requests


async def test_a_remote_service_reports_healthy_only_after_roots_answer(tmp_path: Path) -> None:
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with nixos_host(tmp_path, "agent") as (c, root):
        root.hold[2] = asyncio.Event()
        root.reached[2] = asyncio.Event()
        status, body = await c.upload(wheel)
        assert status == 202, body
        # Root's health wait: the agent is up on the new system, connected, its plugins
        # started (the server saw its hello); root has not answered yet.
        await asyncio.wait_for(root.reached[2].wait(), ROLLOUT_TIMEOUT)

        _, plugins = await c.api("GET", "/api/plugins")
        rollout = plugins["rollout"]
        assert rollout is not None and rollout["state"] is None, "still waiting for the agent"
        [agent] = [s for s in plugins["services"] if s["kind"] == "agent"]
        assert agent["generation"] == 2
        assert agent["step"] != "healthy", rollout

        root.hold[2].set()
        done = (await c.follow(body["generation"]))[-1]

        assert done["state"] == "active", c.logs()
        now = await c.status()
        assert generations(now) == {"server": 2, "agent": 2}
        assert versions(now, PROBE) == {"server": "1.0.0", "agent": "1.0.0"}


async def test_a_remote_service_back_on_the_old_system_does_not_retry_the_failed_generation(
    tmp_path: Path,
) -> None:
    wheel = plugin_wheel(tmp_path / "w", "probe", "1.0.0")
    async with nixos_host(tmp_path, "agent") as (c, root):
        root.fail[2] = UNHEALTHY
        # Root's answer is there when the agent starts on the old system.
        root.answer_first = True
        status, body = await c.upload(wheel)
        assert status == 202, body
        done = (await c.follow(body["generation"]))[-1]
        assert done["state"] == "failed", c.logs()
        assert (await history(c, 2))["problems"][0].endswith(f": {ROOT_SAID}")

        # And once more: the agent restarts (reconnects) on the old system.
        await root.restart(1)
        now = await c.wait_services({"server", "agent"}, generation=1)

        assert generations(now) == {"server": 1, "agent": 1}
        assert root.requests[2:] == [("build", 2), ("switch", 2)], root.requests
        _, plugins = await c.api("GET", "/api/plugins")
        assert plugins["rollout"] is None and plugins["generation"] == 1
