"""Plugin rollout in the services: what each service runs, and the server's admin API for it.

- :class:`HostApplier` runs a generation on any service: it puts the
  generation's directories on ``sys.path``, discovers its plugins and has
  :meth:`peek.plugin.lifecycle.PluginLifecycle.apply` swap the changed ones;
  :class:`ServerApplier` also migrates them first, and on the way back
  downgrades what the failed generation migrated.
- :class:`UpstreamRollout` is a client's, agent's or worker's side of the
  switch protocol over its link (:mod:`peek.rollout.coordinator`).
- :class:`ServerRollout` is the server's: the generation history in the
  database, recovery at start, the coordinator, the artifact download routes
  of the exchange site and the admin API (see :meth:`ServerRollout.admin_routes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

import peek
from peek.config import PeekConfig, ServiceKind
from peek.plugin.discovery import PluginSpec, discover
from peek.plugin.errors import PluginError
from peek.plugin.lifecycle import PluginLifecycle, PluginState
from peek.plugin.resolve import resolve
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.backend import ArtifactFetcher, HostBackend
from peek.rollout.backends import host_backend
from peek.rollout.backends.nixos import Interrupted, NixosHostBackend, RebuildTimeout
from peek.rollout.backends.plain import PlainHostBackend
from peek.rollout.coordinator import Rollout, RolloutBusy, RolloutCoordinator
from peek.rollout.errors import (
    GenerationError,
    RolloutError,
    UnsatisfiedRequirements,
    UploadRejected,
    UploadTooLarge,
)
from peek.rollout.fetch import (
    ARTIFACT_PATH,
    GENERATION_PATH,
    HttpArtifactFetcher,
    fetch_generation,
    local_fetcher,
)
from peek.rollout.generations import (
    Generation,
    GenerationPlugin,
    GenerationState,
    changed_plugins,
)
from peek.rollout.history import GenerationHistory, GenerationRecord
from peek.rollout.participant import RESTART, RESTART_EXIT_CODE, Health, Participant, Restart
from peek.rollout.prune import PruneResult, generations_to_keep, prune_host
from peek.rollout.restart import RESTART_FILE, PendingRestart
from peek.rollout.signing import SignaturePolicy
from peek.rollout.validate import StagingArea, UploadLimits, validate_upload
from peek.services.common import PluginHost
from peek.storage import Migrator, Storage, migrate_installation, platform_history, plugin_history
from peek.vortex.link import LinkClient, LinkDown, LinkServer, Message
from peek.vortex.tokens import TokenInfo

if TYPE_CHECKING:
    from peek.services.registry import ServiceRegistry

__all__ = [
    "HostApplier",
    "ServerApplier",
    "ServerRollout",
    "UpstreamRollout",
    "initial_generation",
]

log = logging.getLogger(__name__)

# Progress of a download is reported at most this often per artifact.
PROGRESS_INTERVAL = 0.5
UPLOAD_CHUNK = 1 << 16
MANIFEST_TIMEOUT = 30.0
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


async def _blocking(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(
        None, functools.partial(fn, *args, **kwargs)
    )


# -- running a generation on a service -----------------------------------------------


class HostApplier:
    """Runs generations on one service's :class:`PluginHost` (an ``Applier``).

    ``after_apply`` is called with the plugins that were restarted (the
    worker restarts its Celery child when they contribute tasks, say).
    """

    def __init__(
        self,
        host: PluginHost,
        after_apply: Callable[[frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.host = host
        self.after_apply = after_apply
        # NixOS backend: the generation the running system was built from (its
        # plugins are in the system's environment; nothing is activated here).
        self.system: Generation | None = None

    def running(self) -> Generation | None:
        activation = self.host.activation
        return activation.generation if activation is not None else self.system

    async def apply(self, generation: Generation, *, reverting: Generation | None = None) -> Health:
        host = self.host
        lifecycle = host.lifecycle
        if lifecycle is None:
            return Health(False, ("the service's plugins have not loaded yet",))
        previous = host.activation.plugin_dirs if host.activation is not None else ()
        activation, specs, errors = await _blocking(
            host.discover_plugins, previous, generation.number
        )
        old = {spec.name: spec for spec in host.specs}
        new = {spec.name: spec for spec in specs}
        changed = {
            name
            for name in old.keys() | new.keys()
            if name not in old or name not in new or _where(old[name]) != _where(new[name])
        }
        restarted = await lifecycle.apply(
            specs,
            changed,
            discovery_errors=errors,
            prepare=self.migrations(frozenset(changed), reverting, old),
        )
        host.activation = activation
        host.specs = list(specs)
        if restarted:
            log.info("generation %d: restarted %s", generation.number, ", ".join(sorted(restarted)))
        if self.after_apply is not None:
            await self.after_apply(restarted)
        return self.health(generation)

    def migrations(
        self,
        changed: frozenset[str],
        reverting: Generation | None,
        leaving: Mapping[str, PluginSpec],
    ) -> Callable[[PluginLifecycle, list[PluginSpec]], Awaitable[None]] | None:
        """What runs between unloading the changed plugins and loading them (server: migrate)."""
        return None

    def health(self, generation: Generation | None = None) -> Health:
        """Every plugin of ``generation`` (default: the running one) that runs here started,
        and none of them answers ``peek_health`` with a problem."""
        lifecycle = self.host.lifecycle
        if lifecycle is None:
            return Health(False, ("the service's plugins have not loaded yet",))
        generation = generation or self.running()
        names = set(generation.names()) if generation is not None else None
        # Plugins' own health hooks first: one that raises is failed, and so
        # shows up among the plugins that are not started.
        unhealthy = [
            f"{name}: {answer}"
            for name, answer in lifecycle.contributions("peek_health")
            if names is None or name in names
        ]
        problems = unhealthy + [
            f"{s.name} {s.version}".strip() + f": {s.error or s.state.value}"
            for s in lifecycle.status()
            if s.state is not PluginState.STARTED and (names is None or s.name in names)
        ]
        return Health(not problems, tuple(problems))


def _where(spec: PluginSpec) -> tuple[str, str]:
    return (str(spec.manifest.version), str(spec.package_dir))


class ServerApplier(HostApplier):
    """The server's: the changed plugins' schemas migrate before they start.

    Before migrating, the revisions they start from are kept in the
    database (the rollout pointer's ``schema_before``); going back from a
    failed generation downgrades them to those revisions with the failed
    version's own scripts, before the previous version starts again.
    """

    def __init__(
        self,
        host: PluginHost,
        storage: Storage,
        history: GenerationHistory,
        after_apply: Callable[[frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(host, after_apply)
        self.storage = storage
        self.history = history
        self.data_root = host.config.data_dir / "plugins" / "server"

    def migrations(
        self,
        changed: frozenset[str],
        reverting: Generation | None,
        leaving: Mapping[str, PluginSpec],
    ) -> Callable[[PluginLifecycle, list[PluginSpec]], Awaitable[None]]:
        async def migrate(lifecycle: PluginLifecycle, specs: list[PluginSpec]) -> None:
            order = {name: i for i, name in enumerate(lifecycle.resolution.order)}
            targets = sorted(
                (
                    s
                    for s in specs
                    if s.name in changed and s.name not in lifecycle.resolution.failed
                ),
                key=lambda s: order.get(s.name, len(order)),
            )
            failed = await _blocking(self._migrate, targets, reverting is not None, dict(leaving))
            for name, error in failed.items():
                lifecycle.fail(name, error)

        return migrate

    def _migrate(
        self, targets: list[PluginSpec], reverting: bool, leaving: dict[str, PluginSpec]
    ) -> dict[str, PluginError]:
        """Blocking."""
        failed: dict[str, PluginError] = {}
        if reverting:
            failed.update(
                downgrade_to(
                    self.storage, self.history.pointer().schema_before, leaving, self.data_root
                )
            )
        else:
            # Kept before anything changes, so a crash mid-way can still be undone.
            self.history.record_schema(schema_revisions(self.storage, targets, self.data_root))
        failed.update(migrate_installation(self.storage, targets, self.data_root))
        return failed


def schema_revisions(
    storage: Storage, specs: Sequence[PluginSpec], data_root: Path
) -> dict[str, tuple[str, ...]]:
    """Blocking: the current schema revisions of each plugin of ``specs`` that has migrations."""
    migrator = Migrator(storage)
    before: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        history = plugin_history(spec, data_root / spec.name)
        if history is not None:
            migrator.ensure_namespace(spec.name)
            before[spec.name] = migrator.current(history)
    return before


def downgrade_to(
    storage: Storage,
    before: Mapping[str, Sequence[str]],
    specs: Mapping[str, PluginSpec],
    data_root: Path,
) -> dict[str, PluginError]:
    """Blocking: take each plugin of ``before`` back to its revision there (``base`` if
    none), with the scripts of the version in ``specs`` (the one that migrated it)."""
    migrator = Migrator(storage)
    failed: dict[str, PluginError] = {}
    for name, revisions in before.items():
        spec = specs.get(name)
        history = plugin_history(spec, data_root / name) if spec is not None else None
        if history is None:
            continue
        target = revisions[0] if revisions else "base"
        try:
            if set(migrator.current(history)) != set(revisions):
                migrator.downgrade(history, target)
                log.warning("%s: schema changes undone (back at %s)", name, target)
        except PluginError as exc:
            log.error("cannot undo the schema changes of %s: %s", name, exc)
            failed[name] = exc
    return failed


# -- NixOS: generations are whole systems ------------------------------------------------------


class SystemParticipant(Participant):
    """A participant on the NixOS backend: the plugins run from the system's Python
    environment, so any change of the plugin set restarts the services (root's switch
    does it) instead of swapping plugins in-process."""

    def restart_needed(self, generation: Generation, old: Generation | None = None) -> list[str]:
        old = old if old is not None else self.applier.running()
        if old is not None and old.plugin_set_digest() == generation.plugin_set_digest():
            return []
        return sorted(changed_plugins(old, generation)) or ["the system's plugin set"]

    # Root's switch or rollback restarts this service while it waits for the answer:
    # "restarting" goes out first, so the coordinator expects the link to drop.

    async def switch(self, generation: Generation) -> Health | Restart:
        await self._announce(generation)
        return await super().switch(generation)

    async def revert(self, to: Generation, leaving: Generation | None) -> Health | Restart:
        # Root is asked only if its system is not already ``to``'s (see rollback).
        if await self._blocking(self.backend.active) != to.number:
            await self._announce(to)
        return await super().revert(to, leaving)

    async def converge(self, generation: Generation) -> Health | Restart:
        running = self.applier.running()
        if running is not None and running.digest() == generation.digest():
            return Health(True)
        await self.prepare(generation)
        await self._announce(generation)
        await self._blocking(self.backend.switch, generation.number)
        return await self._run(generation, None)

    async def _run(self, generation: Generation, leaving: Generation | None) -> Health | Restart:
        if self.restart_needed(generation):
            return await super()._run(generation, leaving)
        # The system's environment has this plugin set already (root left this host
        # on it, or it never changed): nothing to swap in-process, and no plugin
        # directories of a generation to activate (the plain backend's layout).
        n = generation.number
        if isinstance(self.applier, HostApplier):
            self.applier.system = generation
            health = self.applier.health(generation)
        else:
            health = Health(True)
        await self.report("switched", n, None)
        await self.report(
            "healthy" if health.ok else "unhealthy", n, "; ".join(health.problems) or None
        )
        return health

    async def _announce(self, generation: Generation) -> None:
        restart = self.restart_needed(generation)
        if restart:
            detail = "root's switch restarts this service: " + ", ".join(restart)
            await self.report("restarting", generation.number, detail)


def participant(
    kind: ServiceKind,
    backend: HostBackend,
    fetch: ArtifactFetcher,
    applier: HostApplier,
    report: Callable[[str, int, str | None], Awaitable[None]],
) -> Participant:
    """The participant a ``backend`` needs (:class:`SystemParticipant` on NixOS)."""
    cls = SystemParticipant if isinstance(backend, NixosHostBackend) else Participant
    return cls(kind, backend, fetch, applier, report)


def system_generation(config: PeekConfig, backend: NixosHostBackend) -> Generation | None:
    """Blocking: the plugin generation the running NixOS system was built from (the
    module renders its number from the generation lock; None before the first)."""
    number = config.rollout.nixos.generation
    return backend.manifest(number) if number is not None else None


def _outcome(left: Interrupted) -> str:
    if left.failure is not None:
        return f"failed: {left.failure.reason}"
    return "done" if left.answered else "still running"


async def root_answer(backend: NixosHostBackend, left: Interrupted) -> list[str]:
    """After root's switch or rollback ``left`` restarted this service: wait for root's
    answer (its health wait covers every Peek unit of the host and ends with the new boot
    default), up to the switch timeout, and forget the request. What went wrong (nothing:
    root completed it); a switch root undid says it switched the host back, and why."""
    try:
        answered = await _blocking(backend.wait_interrupted, backend.rebuild_timeout)
    except RebuildTimeout as exc:
        return [str(exc)]
    if answered is None or answered.request_id != left.request_id:
        return []
    log.info(
        "root's %s of plugin generation %d: %s", left.action, left.generation, _outcome(answered)
    )
    await _blocking(backend.forget_interrupted, answered.request_id)
    if answered.failure is None:
        return []
    if answered.action == "switch":
        return [f"root switched this host back: {answered.failure.reason}"]
    return [str(answered.failure)]


# -- client, agent, worker -----------------------------------------------------------------


class UpstreamRollout:
    """A client's, agent's or worker's side of the switch protocol (see the module).

    ``request_restart`` is called when the service must restart into a
    generation: it stops the service, which exits with
    :data:`~peek.rollout.participant.RESTART_EXIT_CODE`.
    """

    def __init__(
        self,
        config: PeekConfig,
        kind: ServiceKind,
        host: PluginHost,
        *,
        server_url: str,
        token: str,
        request_restart: Callable[[], None],
        after_apply: Callable[[frozenset[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.kind = kind
        self.server_url = server_url
        self._token = token
        self._request_restart = request_restart
        self.link: LinkClient | None = None
        self.backend = host_backend(config, kind)
        self.store = ArtifactStore.in_data_dir(config.data_dir)
        self.applier = HostApplier(host, after_apply)
        self.fetcher = HttpArtifactFetcher(
            server_url, token, self.store, progress=self._download_progress
        )
        self.participant = participant(kind, self.backend, self.fetcher, self.applier, self._report)
        self._manifests: dict[int, Generation] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._progress_at: dict[str, float] = {}
        self._reporting: int | None = None
        # NixOS: root's switch or rollback that restarted this service, until root
        # answered (no health is reported meanwhile), and the switches root failed, by
        # generation: a converge to one of those is not asked of root again.
        self._left: Interrupted | None = None
        self._root_failed: dict[int, tuple[str, ...]] = {}

    def recover(self) -> None:
        """Blocking: clean what an interrupted prepare or switch left (before plugins load)."""
        self.backend.recover()
        if isinstance(self.backend, NixosHostBackend):
            # Restarted by root's switch, usually: the system says which generation
            # runs (the server learns it from the hello), root's answer says how it went.
            self.applier.system = system_generation(self.config, self.backend)
            left = self.backend.interrupted()
            if left is not None and left.action != "build":
                # Reported once the plugins started, before any health (see attach).
                self._left = left
            elif left is not None and left.answered:
                log.info(
                    "the %s of plugin generation %d asked for before the restart: %s",
                    left.action,
                    left.generation,
                    _outcome(left),
                )
                self.backend.forget_interrupted(left.request_id)

    def attach(self, link: LinkClient) -> None:
        self.link = link
        self._loop = asyncio.get_running_loop()
        for kind, handler in (
            ("rollout.prepare", self._prepare),
            ("rollout.commit", self._commit),
            ("rollout.revert", self._revert),
            ("rollout.converge", self._converge),
            ("rollout.abort", self._abort),
            ("rollout.prune", self._prune),
        ):
            link.on(kind, functools.partial(self._spawn, handler))
        if self._left is not None:
            # Started before the link runs: it holds the participant's lock before any
            # step the server asks for can take it, and until root answered.
            left = self._left
            task = self._loop.create_task(
                self._report_after_root(left), name=f"root's {left.action} to {left.generation}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def hello(self) -> dict[str, Any]:
        """What the ``hello`` says about rollouts: the generation and its health here
        (none while root has not answered the switch that restarted this service: the
        health follows as ``rollout.health`` once it did)."""
        running = self.applier.running()
        return {
            "generation": running.number if running is not None else None,
            "health": None if self._left is not None else self.applier.health().as_json(),
        }

    async def _report_after_root(self, left: Interrupted) -> None:
        """The server host's way (see :func:`root_answer`), reported over the link: root's
        failure as this host's failure of that generation, else the plugins' health."""
        backend = self.backend
        assert isinstance(backend, NixosHostBackend)
        async with self.participant.lock:
            problems = await root_answer(backend, left)
            if problems:
                log.error("plugin generation %d: %s", left.generation, "; ".join(problems))
                if left.action == "switch":
                    self._root_failed[left.generation] = tuple(problems)
                number, health = left.generation, Health(False, tuple(problems))
            else:
                running = self.applier.running()
                number = running.number if running is not None else left.generation
                health = self.applier.health()
            self._left = None
        # A hello from now on carries the health, and a converge to what root failed is
        # answered with root's reason (_converge). A link coming up meanwhile may have
        # sent its hello without: once up, it is told.
        if not await self._send_health(number, health) and self.link is not None:
            await self.link.connected.wait()
            await self._send_health(number, health)

    async def close(self) -> None:
        if isinstance(self.backend, NixosHostBackend):
            # A step waiting for root (in the executor) would hold up the exit.
            self.backend.stop_waiting()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))

    def _spawn(
        self, handler: Callable[[Message], Coroutine[Any, Any, None]], message: Message
    ) -> None:
        # Never block the link's reader (heartbeats): each step is a task,
        # and the participant's lock keeps them in order.
        task = asyncio.get_running_loop().create_task(
            handler(message), name=f"{self.kind} {message.get('t')} {message.get('gen')}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: dict[str, Any]) -> bool:
        if self.link is None:
            return False
        try:
            await self.link.send(message)
        except LinkDown as exc:
            log.warning("cannot tell the server %s: %s", message.get("t"), exc)
            return False
        return True

    async def _report(self, step: str, number: int, detail: str | None) -> None:
        await self._send({"t": "rollout.progress", "gen": number, "step": step, "detail": detail})

    def _download_progress(self, plugin: GenerationPlugin, done: int, total: int | None) -> None:
        # Called from the executor thread that downloads.
        now = time.monotonic()
        if done != total and now - self._progress_at.get(plugin.sha256, 0.0) < PROGRESS_INTERVAL:
            return
        self._progress_at[plugin.sha256] = now
        number = self._reporting
        if self._loop is None or number is None:
            return
        detail = f"{plugin.name} {plugin.version}: {done} of {total or '?'} bytes"
        asyncio.run_coroutine_threadsafe(self._report("downloading", number, detail), self._loop)

    async def _manifest(self, message: Message) -> Generation:
        number = int(message["gen"])
        found = self._manifests.get(number)
        if found is not None and found.digest() == message.get("digest"):
            return found
        generation: Generation = await _blocking(
            fetch_generation,
            self.server_url,
            self._token,
            number,
            str(message.get("digest")),
            MANIFEST_TIMEOUT,
        )
        self._manifests[number] = generation
        return generation

    async def _prepare(self, message: Message) -> None:
        number = message.get("gen")
        try:
            async with self.participant.lock:
                generation = await self._manifest(message)
                self._reporting = generation.number
                await self.participant.prepare(generation)
        except Exception as exc:  # isolation boundary: the reason goes to the server
            log.error("cannot prepare plugin generation %s: %s", number, exc)
            await self._send(
                {
                    "t": "rollout.ready",
                    "gen": number,
                    "ok": False,
                    "problem": Participant.problem(exc),
                }
            )
            return
        await self._send({"t": "rollout.ready", "gen": number, "ok": True})

    async def _commit(self, message: Message) -> None:
        await self._step(message, self.participant.switch)

    async def _converge(self, message: Message) -> None:
        # Under the lock: root's answer, which the lock is held for, is in by then.
        async with self.participant.lock:
            failed = self._root_failed.get(message.get("gen"))  # type: ignore[arg-type]
            if failed is not None:
                # Root switched this host back from it: asking again fails the same way.
                number = int(message["gen"])
                log.warning("not switching to plugin generation %d again: root undid it", number)
                await self._send_health(number, Health(False, failed))
                return
        await self._step(message, self.participant.converge)

    async def _revert(self, message: Message) -> None:
        leaving = self._manifests.get(message.get("leaving"))  # type: ignore[arg-type]
        await self._step(message, lambda g: self.participant.revert(g, leaving))

    async def _prune(self, message: Message) -> None:
        keep = [n for n in message.get("keep") or () if isinstance(n, int)]
        artifacts = [a for a in message.get("artifacts") or () if isinstance(a, str)]
        if not keep:
            return
        try:
            async with self.participant.lock:
                await _blocking(prune_host, self.backend, self.store, keep, artifacts)
        except Exception:  # isolation boundary: pruning is housekeeping, never fatal
            log.exception("cannot prune old plugin generations")

    async def _abort(self, message: Message) -> None:
        log.warning("the server aborted the rollout of plugin generation %s", message.get("gen"))

    async def _step(
        self, message: Message, step: Callable[[Generation], Awaitable[Health | str]]
    ) -> None:
        number = message.get("gen")
        try:
            async with self.participant.lock:
                generation = await self._manifest(message)
                self._reporting = generation.number
                result = await step(generation)
        except Exception as exc:  # isolation boundary: the reason goes to the server
            log.exception("plugin generation %s: %s failed", number, message.get("t"))
            result = Health(False, (Participant.problem(exc),))
        if result == RESTART:
            log.warning("restarting into plugin generation %s", number)
            self._request_restart()
            return
        assert isinstance(result, Health)
        running = self.applier.running()
        await self._send_health(running.number if running is not None else number, result)

    async def _send_health(self, number: Any, health: Health) -> bool:
        running = self.applier.running()
        return await self._send(
            {
                "t": "rollout.health",
                "gen": number,
                "health": health.as_json(),
                # Differs from gen when root failed gen and left this host where it was.
                "running": running.number if running is not None else None,
            }
        )


def restart_process(service: Any) -> Callable[[], None]:
    """A ``request_restart`` for a service run by :func:`run_until_signalled`: stop cleanly
    (SIGTERM to itself), then exit with the restart code."""

    def request() -> None:
        service.exit_code = RESTART_EXIT_CODE
        os.kill(os.getpid(), signal.SIGTERM)

    return request


# -- the server ----------------------------------------------------------------------------


def initial_generation(number: int, config: PeekConfig) -> Generation:
    """Blocking: the first generation, the configured plugins installed with the platform."""
    specs, errors = discover(config.plugins.enabled)
    for error in errors:
        log.error("%s: left out of the initial plugin generation", error)
    return Generation(
        number=number,
        parent=None,
        created_by="peek",
        reason="the plugins installed with the platform",
        created_at=datetime.now(UTC),
        environment={spec.name: str(spec.manifest.version) for spec in specs},
    )


class ServerRollout:
    """The server's generations, the switch protocol and the admin API (see the module)."""

    def __init__(
        self,
        config: PeekConfig,
        host: PluginHost,
        *,
        storage: Storage,
        link: LinkServer,
        registry: ServiceRegistry,
        verify: Callable[[str], Awaitable[TokenInfo | None]],
        server_name: str,
        after_apply: Callable[[frozenset[str]], Awaitable[None]] | None = None,
        request_restart: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.storage = storage
        self.registry = registry
        self._verify = verify
        self.history = GenerationHistory(storage)
        self.store = ArtifactStore.in_data_dir(config.data_dir)
        self.staging = StagingArea.in_data_dir(config.data_dir)
        self.backend = host_backend(config, "server")
        self.applier = ServerApplier(host, storage, self.history, after_apply)
        self.participant = participant(
            "server", self.backend, local_fetcher(self.store), self.applier, self._report
        )
        self.coordinator = RolloutCoordinator(
            self.history,
            self.participant,
            link,
            server_name=server_name,
            down_services=registry.down,
            on_finished=self._rollout_finished,
            prepare_timeout=config.rollout.prepare_timeout,
            health_timeout=config.rollout.health_timeout,
            request_restart=request_restart,
            restart_record=self.restart_record,
        )
        # NixOS: the request to root an earlier process of this server left, and
        # the tasks that wait for root's answer (see started).
        self._left: Interrupted | None = None
        self._root_tasks: set[asyncio.Task[None]] = set()
        # A rollout this server restarted into, to finish once it runs (see bootstrap).
        self._pending: tuple[PendingRestart, Generation, Generation | None] | None = None
        # Held from storing an upload's artifact until its generation is proposed, and
        # while pruning: a prune never removes an artifact on its way into a generation.
        self._store_lock = asyncio.Lock()

    @property
    def restart_record(self) -> Path:
        return self.config.data_dir / "server" / RESTART_FILE

    async def _report(self, step: str, number: int, detail: str | None) -> None:
        self.coordinator.local_progress(step, number, detail)

    # -- start -----------------------------------------------------------------

    def bootstrap(self) -> Generation:
        """Blocking, before the server's plugins load: the platform schema, the history,
        recovery of a rollout a crash interrupted, and the active generation on disk."""
        self.storage.prepare_files()
        self.storage.resolve_credentials()
        Migrator(self.storage).upgrade(platform_history())
        self.staging.clear()
        self.backend.recover()
        if isinstance(self.backend, NixosHostBackend):
            self.applier.system = system_generation(self.config, self.backend)
            self._left = self.backend.interrupted()
        self._recover()
        record = self.history.ensure_initial(lambda n: initial_generation(n, self.config))
        generation = record.generation
        if isinstance(self.backend, NixosHostBackend):
            # The system runs what it was built from; switching it here would wait
            # for root, whose health wait waits for this very server to be ready.
            running = self.applier.system
            if running is not None and running.number != generation.number:
                log.warning(
                    "this host's system runs plugin generation %d, the active one is %d; "
                    "services converge to it, this host at its next switch",
                    running.number,
                    generation.number,
                )
        elif self.backend.active() != generation.number:
            self.backend.prepare(generation, local_fetcher(self.store))
            self.backend.switch(generation.number)
        self.coordinator.set_active(generation)
        return generation

    def _recover(self) -> None:
        pointer = self.history.pointer()
        if pointer.phase != "restarting":
            PendingRestart.clear(self.restart_record)
        if pointer.target is None:
            return
        target = self.history.get(pointer.target)
        if pointer.phase == "restarting" and target is not None:
            # Restarted on purpose, into the target: finish its rollout once running.
            pending = PendingRestart.read(self.restart_record)
            if pending is None or pending.generation != pointer.target:
                log.error("no record of who takes part in generation %d", pointer.target)
                pending = PendingRestart(pointer.target, pointer.previous, None, ())
            before = self.history.get(pointer.previous) if pointer.previous else None
            self._pending = (
                pending,
                target.generation,
                before.generation if before is not None else None,
            )
            log.warning("plugin generation %d: restarted into it", pointer.target)
            return
        if pointer.phase == "preparing":
            problem = "the server stopped before every service was ready; nothing was switched"
            self.history.fail(pointer.target, [problem], active=pointer.active)
            log.warning("plugin generation %d: %s", pointer.target, problem)
            return
        previous = pointer.previous
        root_said: list[str] = []
        if (
            previous is not None
            and target is not None
            and isinstance(self.backend, NixosHostBackend)
        ):
            root_said = self._system_go_back(self.backend, previous, target, pointer.schema_before)
        elif previous is not None and target is not None:
            # Committed, not confirmed healthy: go back to where everyone was.
            if previous in self.backend.prepared():
                self.backend.rollback(previous)
            plain = self.backend
            assert isinstance(plain, PlainHostBackend), "host_backend makes plain or nixos"
            specs = {
                name: PluginSpec(
                    manifest=plugin.spec().manifest,
                    package_dir=plain.install_dir(plugin) / name,
                )
                for name, plugin in target.generation.plugins.items()
            }
            downgrade_to(
                self.storage,
                pointer.schema_before,
                specs,
                self.config.data_dir / "plugins" / "server",
            )
        problems = root_said or [
            "the server stopped after the switch, before every service reported healthy; "
            f"every service went back to generation {previous}"
        ]
        if pointer.phase == "reverting" and target is not None:
            # It failed, and the server restarted to go back: keep why it failed.
            problems = list(target.problems) or problems
        self.history.fail(pointer.target, problems, active=previous)
        log.warning("plugin generation %d: %s", pointer.target, "; ".join(problems))

    async def resume(self) -> None:
        """After :meth:`bootstrap`, before the server accepts links: finish the rollout it
        restarted into, if any (the coordinator waits for :meth:`started`)."""
        if self._pending is not None:
            pending, generation, previous = self._pending
            await self.coordinator.resume(pending, generation, previous)

    def before_migrations(self, specs: Sequence[PluginSpec]) -> None:
        """Blocking, at start before the plugins' migrations: when restarted into a
        generation, keep the schema revisions its changed plugins start from."""
        if self._pending is None:
            return
        _, generation, previous = self._pending
        changed = changed_plugins(previous, generation)
        targets = [spec for spec in specs if spec.name in changed]
        data_root = self.config.data_dir / "plugins" / "server"
        self.history.resume(schema_revisions(self.storage, targets, data_root))

    def started(self) -> None:
        """The server's plugins started: its health, for a rollout it restarted into."""
        if self._pending is not None:
            generation = self._pending[1].number
            self._pending = None
            if self._after_root(generation):
                return
            self.coordinator.local_started(list(self.applier.health().problems))

    # -- NixOS: root switched this host, the server among its units ------------------------

    def _after_root(self, generation: int) -> bool:
        """If root's switch to ``generation`` restarted this server, report the server's
        health once root answered (its health wait covers every Peek unit of the host and
        ends with the new boot default) and say True; False if nothing waits for root."""
        left = self._left
        if not isinstance(self.backend, NixosHostBackend) or left is None:
            return False
        if left.action != "switch" or left.generation != generation:
            return False
        task = asyncio.get_running_loop().create_task(
            self._report_after_root(self.backend, left), name=f"root's switch to {generation}"
        )
        self._root_tasks.add(task)
        task.add_done_callback(self._root_tasks.discard)
        return True

    async def _report_after_root(self, backend: NixosHostBackend, left: Interrupted) -> None:
        problems = await root_answer(backend, left)
        problems += self.applier.health().problems
        self.coordinator.local_started(problems)

    def _system_go_back(
        self,
        backend: NixosHostBackend,
        previous: int,
        target: GenerationRecord,
        schema_before: Mapping[str, Sequence[str]],
    ) -> list[str]:
        """Blocking, in recovery from a committed rollout: this host back to ``previous``
        without waiting for root (root's rollback waits for this server to be ready); what
        root said about the switch to the target, when it failed there."""
        said: list[str] = []
        left = self._left
        rolling_back = False
        if left is not None:
            if left.action == "switch" and left.generation == target.number and left.failure:
                said.append(f"root switched the server host back: {left.failure.reason}")
            rolling_back = left.action == "rollback" and left.generation == previous
            if left.answered:
                backend.forget_interrupted(left.request_id)
            elif left.action == "switch" and left.generation == target.number:
                # Only a commit without a server restart gets here (the plugin set of
                # this host did not change), so root's switch changes nothing Peek runs.
                log.warning("root still switches this host to plugin generation %d", target.number)
        # root's active.json moves only when a switch completed healthy.
        if backend.active() not in (None, previous) and not rolling_back:
            try:
                back = self.history.get(previous)
                if back is not None and previous not in backend.prepared():
                    # Root builds it (nothing waits on this server for that).
                    backend.prepare(back.generation, local_fetcher(self.store))
                backend.ask("rollback", previous)
                log.warning("asked root to switch this host back to plugin generation %d", previous)
            except RolloutError as exc:
                log.error("cannot ask root to go back to plugin generation %d: %s", previous, exc)
        # The failed generation's own scripts undo its schema changes; this
        # system does not have its code, so its wheels are unpacked for that.
        if schema_before:
            with tempfile.TemporaryDirectory(prefix="peek-downgrade-") as work:
                dirs = backend.unpack(target.number, Path(work))
                specs = {
                    name: PluginSpec(manifest=plugin.spec().manifest, package_dir=dirs[name] / name)
                    for name, plugin in target.generation.plugins.items()
                }
                downgrade_to(
                    self.storage,
                    schema_before,
                    specs,
                    self.config.data_dir / "plugins" / "server",
                )
        return said

    def hello_generation(self) -> int | None:
        running = self.applier.running()
        return running.number if running is not None else None

    # -- routes ---------------------------------------------------------------------

    def exchange_routes(self) -> list[web.RouteDef]:
        """Manifests and artifacts for services (service token required)."""
        return [
            web.get(f"{GENERATION_PATH}/{{number:\\d+}}", self._exchange_generation),
            web.get(f"{ARTIFACT_PATH}/{{sha256:[0-9a-f]{{64}}}}", self._exchange_artifact),
        ]

    def admin_routes(self, require_admin: Callable[[web.Request], Any]) -> list[web.RouteDef]:
        """The admin API; ``require_admin(request)`` authenticates (and names) the caller.

        ========================================  ==========================================
        ``POST /api/plugins``                     multipart ``file`` (+ ``signature``,
                                                  ``reason``): 202 with the generation
        ``GET /api/plugins``                      the active set, per-service state, rollout
        ``DELETE /api/plugins/{name}``            a generation without it (202)
        ``GET /api/generations``                  the history, newest first
        ``POST /api/generations/{n}/rollback``    a generation with n's plugin set (202)
        ``GET /api/generations/{n}/events``       that rollout's progress (SSE), to the end
        ``GET /api/events``                       every rollout's progress (SSE), live
        ``POST /api/generations/prune``           keep the newest generations on disk
                                                  (``[rollout] keep_generations``), delete
                                                  what no kept one uses, on every host
        ``DELETE /api/services/{name}``           forget a down service (``?kind=``): rollouts
                                                  no longer wait for it; it registers again
                                                  and catches up when it reconnects
        ========================================  ==========================================
        """
        self._require_admin = require_admin
        return [
            web.post("/api/plugins", self._api_upload),
            web.get("/api/plugins", self._api_plugins),
            web.delete("/api/plugins/{name}", self._api_remove),
            web.get("/api/generations", self._api_generations),
            web.post("/api/generations/{number:\\d+}/rollback", self._api_rollback),
            web.get("/api/generations/{number:\\d+}/events", self._api_events),
            web.get("/api/events", self._api_events),
            web.delete("/api/services/{name}", self._api_forget),
            web.post("/api/generations/prune", self._api_prune),
        ]

    async def _service(self, request: web.Request) -> TokenInfo:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        info = await self._verify(token) if scheme.lower() == "bearer" and token else None
        if info is None:
            raise web.HTTPUnauthorized(
                text="a valid service token is required",
                headers={"WWW-Authenticate": 'Bearer realm="peek-link"'},
            )
        return info

    async def _exchange_generation(self, request: web.Request) -> web.Response:
        await self._service(request)
        record = await _blocking(self.history.get, int(request.match_info["number"]))
        if record is None:
            raise web.HTTPNotFound(text="no such generation")
        return web.Response(
            body=record.generation.canonical_json(), content_type="application/json"
        )

    async def _exchange_artifact(self, request: web.Request) -> web.StreamResponse:
        await self._service(request)
        path = self.store.path_for(request.match_info["sha256"])
        if not await _blocking(path.is_file):
            raise web.HTTPNotFound(text="no such artifact")
        # aiohttp answers Range requests (206) itself: downloads resume.
        return web.FileResponse(path, headers={"Content-Type": "application/octet-stream"})

    # -- admin API ---------------------------------------------------------------------

    async def _api_upload(self, request: web.Request) -> web.Response:
        who = self._require_admin(request) or "admin"
        limit = self.config.rollout.max_upload_bytes
        if request.content_length is not None and request.content_length > limit + (1 << 20):
            return _refused(UploadTooLarge(limit, request.content_length))
        if self.coordinator.current is not None:
            return _error(409, "busy", str(RolloutBusy(self.coordinator.current.number)))
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError, KeyError):
            return _error(400, "bad_request", "send the plugin as multipart/form-data field 'file'")
        work = await _blocking(self.staging.new)
        try:
            upload: Path | None = None
            filename = ""
            signature: bytes | None = None
            reason = ""
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "file":
                    filename = part.filename or "upload"
                    upload = work / "received"
                    await _receive(part, upload, limit)
                elif part.name == "signature":
                    signature = bytes(await part.read())[:4096]
                elif part.name == "reason":
                    reason = (await part.text())[:500]
            if upload is None:
                return _error(400, "no_file", "the multipart field 'file' is missing")
            try:
                active = self._active()
                current, import_path = await _blocking(self._current_specs, active)
                validated = await _blocking(
                    validate_upload,
                    upload,
                    staging=self.staging,
                    filename=filename,
                    current=current,
                    limits=UploadLimits.from_config(self.config.rollout),
                    signature=signature,
                    policy=SignaturePolicy.from_config(self.config.rollout),
                    import_path=import_path,
                )
            except UploadRejected as exc:
                log.warning("upload %s refused: %s", filename, exc.reason)
                return _refused(exc)
            async with self._store_lock:
                with validated:
                    plugin = await _blocking(validated.store_in, self.store)
                existing = active.plugins.get(plugin.name)
                if existing is not None and existing.sha256 == plugin.sha256:
                    return _error(
                        409,
                        "unchanged",
                        f"{plugin.name} {plugin.version} (this very file) is already active",
                    )
                why = reason or f"upload of {plugin.name} {plugin.version} ({filename})"
                return await self._propose(
                    lambda n: active.derive(n, created_by=who, reason=why, add=[plugin]),
                    extra={
                        "plugin": {
                            "name": plugin.name,
                            "version": plugin.version,
                            "sha256": plugin.sha256,
                        }
                    },
                )
        except UploadTooLarge as exc:
            return _refused(exc)
        finally:
            await _blocking(_remove_tree, work)

    def _active(self) -> Generation:
        active = self.coordinator.active
        if active is None:
            raise web.HTTPServiceUnavailable(text="plugin generations are not managed here")
        return active

    def _current_specs(self, active: Generation) -> tuple[list[PluginSpec], list[Path]]:
        """Blocking: the active set as validation sees it, and its plugin directories."""
        specs, _errors = discover(active.names())
        activation = self.host.activation
        return specs, list(activation.plugin_dirs) if activation is not None else []

    async def _propose(
        self,
        make: Callable[[int], Generation],
        *,
        leaving: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> web.Response:
        try:
            number = await _blocking(self.history.next_number)
            generation = make(number)
            rollout = await self.coordinator.start(generation, leaving=leaving)
        except RolloutBusy as exc:
            return _error(409, "busy", str(exc))
        except GenerationError as exc:
            return _error(409, "busy" if "being rolled out" in str(exc) else "invalid", str(exc))
        n = rollout.number
        return web.json_response(
            {
                "generation": n,
                "state": "proposed",
                "events": f"/api/generations/{n}/events",
                **(extra or {}),
            },
            status=202,
        )

    async def _api_plugins(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        active = self._active()
        current = self.coordinator.current
        services: list[dict[str, Any]] = [
            {
                "kind": "server",
                "name": self.coordinator.server_name,
                "state": "running",
                "generation": self.hello_generation(),
                "health": self.applier.health().as_json(),
                "step": current.steps.get("server") if current else None,
            }
        ]
        for record in self.registry.records():
            key = f"{record.kind} {record.name}"
            services.append(
                {
                    "kind": record.kind,
                    "name": record.name,
                    "state": record.state,
                    "generation": record.generation,
                    "step": current.steps.get(key) if current else None,
                    "plugins": record.plugins,
                }
            )
        plugins = [
            {
                "name": name,
                "version": version,
                "source": "upload" if name in active.plugins else "environment",
                "sha256": active.plugins[name].sha256 if name in active.plugins else None,
            }
            for name, version in sorted(active.versions().items())
        ]
        return web.json_response(
            {
                "generation": active.number,
                "rollout": current.as_json() if current else None,
                "plugins": plugins,
                "services": services,
            }
        )

    async def _api_generations(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        records: list[GenerationRecord] = await _blocking(self.history.records)
        active = self.coordinator.active
        number = active.number if active is not None else None
        return web.json_response({"generations": [r.as_json(active=number) for r in records]})

    async def _api_rollback(self, request: web.Request) -> web.Response:
        who = self._require_admin(request) or "admin"
        number = int(request.match_info["number"])
        record: GenerationRecord | None = await _blocking(self.history.get, number)
        if record is None:
            return _error(404, "no_generation", f"there is no generation {number}")
        active = self._active()
        if record.generation.plugin_set_digest() == active.plugin_set_digest():
            return _error(409, "unchanged", f"generation {number}'s plugin set is the active one")
        target = record.generation
        missing = [p.name for p in target.plugins.values() if not self.store.has(p.sha256)]
        if missing:
            return _error(
                409,
                "pruned",
                f"generation {number} was pruned: the artifacts of {', '.join(missing)} "
                "are gone; upload them again",
            )

        def make(n: int) -> Generation:
            return Generation(
                number=n,
                parent=active.number,
                created_by=who,
                reason=f"rollback to generation {number}",
                created_at=datetime.now(UTC),
                plugins=target.plugins,
                environment=target.environment,
            )

        return await self._propose(make, leaving=active.number)

    async def _api_remove(self, request: web.Request) -> web.Response:
        who = self._require_admin(request) or "admin"
        name = request.match_info["name"]
        active = self._active()
        if name not in active.names():
            return _error(404, "no_plugin", f"{name} is not in the active plugin set")
        try:
            current, _dirs = await _blocking(self._current_specs, active)
            _check_removal(name, current)
        except UnsatisfiedRequirements as exc:
            return _refused(exc)
        return await self._propose(
            lambda n: active.derive(n, created_by=who, reason=f"removal of {name}", remove=[name])
        )

    async def _api_prune(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        try:
            result = await self.prune()
        except RolloutBusy as exc:
            return _error(409, "busy", str(exc))
        return web.json_response(result.as_json())

    async def prune(self) -> PruneResult:
        """Keep the newest ``keep_generations`` generations (and the active one and its
        parent) on this host and every connected one; delete what no kept one uses.
        Raises :class:`RolloutBusy` while a rollout is in flight."""
        async with self._store_lock:
            current = self.coordinator.current
            if current is not None:
                raise RolloutBusy(current.number)
            keep, artifacts = await _blocking(self._to_keep)
            async with self.participant.lock:
                result: PruneResult = await _blocking(
                    prune_host, self.backend, self.store, keep, artifacts
                )
            await self.coordinator.broadcast(
                {"t": "rollout.prune", "keep": sorted(keep), "artifacts": sorted(artifacts)}
            )
        return result

    def _to_keep(self) -> tuple[frozenset[int], frozenset[str]]:
        """Blocking: the generations every host keeps, and the artifacts they use."""
        records = {r.number: r for r in self.history.records()}
        pointer = self.history.pointer()
        active = records.get(pointer.active) if pointer.active is not None else None
        keep = generations_to_keep(
            records,
            keep=self.config.rollout.keep_generations,
            active=pointer.active,
            parent=active.generation.parent if active is not None else None,
            also=(pointer.target, pointer.previous),
        )
        artifacts = frozenset(
            sha for n in keep if n in records for sha in records[n].generation.artifacts()
        )
        return keep, artifacts

    async def _rollout_finished(self, rollout: Rollout) -> None:
        if rollout.state != GenerationState.ACTIVE.value:
            return
        try:
            await self.prune()
        except RolloutBusy:
            pass  # the next rollout prunes once it is over
        except Exception:  # isolation boundary: pruning is housekeeping, never fatal
            log.exception("cannot prune old plugin generations")

    async def _api_forget(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        name = request.match_info["name"]
        kind = request.query.get("kind")
        found = [r for r in self.registry.records() if r.name == name and kind in (None, r.kind)]
        if not found:
            return _error(404, "no_service", f"no service named {name} is known")
        if len(found) > 1:
            kinds = ", ".join(r.kind for r in found)
            return _error(409, "ambiguous", f"{name} names a {kinds}: say which with ?kind=")
        record = found[0]
        if record.state != "down":
            return _error(
                409,
                "running",
                f"{record.kind} {name} is connected; only a down service is forgotten",
            )
        self.registry.forget(record.kind, record.name)
        self.coordinator.forget((record.kind, record.name))
        # Gone from the database too before the answer: a server restart does not bring it back.
        await self.registry.flush()
        log.warning("forgot the down %s %s: rollouts no longer wait for it", record.kind, name)
        return web.json_response({"forgotten": {"kind": record.kind, "name": record.name}})

    async def _api_events(self, request: web.Request) -> web.StreamResponse:
        self._require_admin(request)
        number = int(request.match_info["number"]) if "number" in request.match_info else None
        events: AsyncIterator[dict[str, Any]]
        if number is not None and number not in self.coordinator.rollouts:
            record: GenerationRecord | None = await _blocking(self.history.get, number)
            if record is None:
                raise web.HTTPNotFound(text=f"there is no generation {number}")
            events = _finished_events(record)
        else:
            events = self.coordinator.subscribe(number)
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            async for event in events:
                data = json.dumps(event)
                await response.write(f"event: {event['step']}\ndata: {data}\n\n".encode())
        return response

    async def close(self) -> None:
        if isinstance(self.backend, NixosHostBackend):
            # A step waiting for root (in the executor) would hold up the exit.
            self.backend.stop_waiting()
        for task in list(self._root_tasks):
            task.cancel()
        if self._root_tasks:
            await asyncio.wait(set(self._root_tasks))
        await self.coordinator.close()


async def _finished_events(record: GenerationRecord) -> AsyncIterator[dict[str, Any]]:
    yield {
        "generation": record.number,
        "service": "server",
        "step": "done",
        "state": record.state.value,
        "problems": list(record.problems),
        "detail": "; ".join(record.problems) or None,
    }


def _check_removal(name: str, current: Sequence[PluginSpec]) -> None:
    before = resolve(list(current), peek.__version__)
    after = resolve([s for s in current if s.name != name], peek.__version__)
    broken = [
        f"{other} would stop working: {error}"
        for other, error in sorted(after.failed.items())
        if other not in before.failed
    ]
    if broken:
        raise UnsatisfiedRequirements(name, broken)


async def _receive(part: BodyPartReader, path: Path, limit: int) -> None:
    size = 0
    handle = await _blocking(path.open, "wb")
    try:
        while chunk := await part.read_chunk(UPLOAD_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(limit)
            await _blocking(handle.write, chunk)
    finally:
        await _blocking(handle.close)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


def _refused(exc: UploadRejected) -> web.Response:
    extra = {"limit": exc.limit} if isinstance(exc, UploadTooLarge) else {}
    return _error(exc.http_status, exc.code, exc.reason, **extra)
