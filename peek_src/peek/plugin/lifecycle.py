"""Running a plugin set on one service: load, start, stop, unload, with isolation.

All plugins load in dependency order before any starts; stop and unload run
in reverse. Each hook call is an isolation boundary: an exception or a hang
past the timeout fails that plugin and every plugin that needs it, and the
rest carry on. A plugin that fails at stop does not keep the others from
stopping.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import inspect
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy
from packaging.version import Version

from peek.config import ServiceKind
from peek.plugin import hookspecs
from peek.plugin.context import PluginContext
from peek.plugin.discovery import PluginSpec
from peek.plugin.errors import (
    ApiUnavailable,
    DependencyFailed,
    HookFailed,
    HookTimeout,
    PluginError,
)
from peek.plugin.resolve import Resolution, resolve

__all__ = ["DEFAULT_HOOK_TIMEOUT", "PluginLifecycle", "PluginState", "PluginStatus"]

log = logging.getLogger(__name__)

DEFAULT_HOOK_TIMEOUT = 30.0
# Like Home Assistant: say so when a hook is slow, well before giving up on it.
SLOW_HOOK_WARNING = 10.0

PHASES = ("load", "start", "stop", "unload")


class PluginState(enum.Enum):
    PENDING = "pending"
    LOADED = "loaded"
    STARTED = "started"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass(frozen=True)
class PluginStatus:
    """One plugin's state on one service, as reported to ``peek status``."""

    name: str
    version: str
    state: PluginState
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        # The status contract has three states; "loaded" is not running yet.
        public = {
            PluginState.STARTED: "started",
            PluginState.FAILED: "failed",
        }.get(self.state, "stopped")
        return {"name": self.name, "version": self.version, "state": public, "error": self.error}


@dataclass
class _Record:
    spec: PluginSpec
    state: PluginState = PluginState.PENDING
    error: PluginError | None = None
    hook: Any = None
    ctx: PluginContext | None = None
    registered: bool = False
    phases_done: set[str] = field(default_factory=set)


class PluginLifecycle:
    """The plugins of one service process and their lifecycle.

    ``specs`` is the enabled plugin set (all services); only the plugins with
    a hook for ``service`` are run here, but requirements are checked against
    the whole set. Must be used from the event loop.
    """

    def __init__(
        self,
        service: ServiceKind,
        specs: Sequence[PluginSpec],
        *,
        peek_version: Version | str,
        data_root: Path,
        plugin_config: Mapping[str, Mapping[str, Any]] | None = None,
        hook_timeout: float = DEFAULT_HOOK_TIMEOUT,
        resources: Any = None,
        discovery_errors: Sequence[PluginError] = (),
    ) -> None:
        self.service: ServiceKind = service
        self.hook_timeout = hook_timeout
        self._peek_version = peek_version
        # Counts plugin-set changes (apply), so that sites rebuild plugin routes.
        self.revision = 0
        self.resolution: Resolution = resolve(specs, peek_version)
        self._data_root = data_root
        self._plugin_config = plugin_config or {}
        self._resources = resources
        self._discovery_errors = list(discovery_errors)
        self._records: dict[str, _Record] = {
            spec.name: _Record(spec) for spec in specs if service in spec.manifest.hooks
        }
        for name, error in self.resolution.failed.items():
            if name in self._records:
                self._fail(name, error, log_it=True)
        self._abandoned: set[asyncio.Future[Any]] = set()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)

    # -- queries ---------------------------------------------------------

    def status(self) -> list[PluginStatus]:
        """Every plugin of this service, in load order, then the ones that never resolved."""
        ordered = [n for n in self.resolution.order if n in self._records]
        rest = sorted(set(self._records) - set(ordered))
        result = []
        for name in ordered + rest:
            rec = self._records[name]
            result.append(
                PluginStatus(
                    name=name,
                    version=str(rec.spec.manifest.version),
                    state=rec.state,
                    error=str(rec.error) if rec.error else None,
                )
            )
        for error in self._discovery_errors:
            result.append(PluginStatus(error.plugin, "", PluginState.FAILED, str(error)))
        return result

    def state(self, name: str) -> PluginState:
        return self._records[name].state

    def error(self, name: str) -> PluginError | None:
        """Why ``name`` failed on this service (a typed error), or None."""
        return self._records[name].error

    def hook(self, name: str) -> Any:
        """The hook object of ``name`` on this service (None before load)."""
        return self._records[name].hook

    def published(self, name: str) -> Any:
        """The API object ``name`` published on this service, or None."""
        ctx = self._records[name].ctx
        return ctx.published if ctx is not None else None

    def context(self, name: str) -> PluginContext | None:
        """The context ``name``'s hooks receive on this service (None before load)."""
        return self._records[name].ctx

    def running(self) -> Iterator[tuple[str, Any]]:
        """(name, hook object) of every loaded or started plugin, in load order."""
        for name in self.resolution.order:
            rec = self._records.get(name)
            if rec and rec.state in (PluginState.LOADED, PluginState.STARTED):
                yield name, rec.hook

    def contributions(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call pluggy hook ``hook_name`` on every running plugin that implements it.

        Returns ``(plugin name, result)`` pairs in load order; ``None`` results
        are left out. An implementation that raises fails its plugin only.
        """
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
        results = []
        for name, _hook in list(self.running()):
            impl = impls.get(name)
            if impl is None:
                continue
            try:
                result = impl.function(**{a: kwargs[a] for a in impl.argnames})
            except Exception as exc:  # isolation boundary: one plugin's contribution
                self._fail(name, HookFailed(name, hook_name, exc), exc_info=exc)
                # It was running: stop and unload it as its dependents are.
                self._unload_later(self._records[name])
                continue
            if result is not None:
                results.append((name, result))
        return results

    # -- lifecycle -------------------------------------------------------

    def fail(self, name: str, error: PluginError) -> None:
        """Fail ``name`` with ``error`` before it loads (its migrations failed, say), and
        every plugin here that needs it. ``name`` need not run on this service."""
        if name in self._records:
            self._fail(name, error)
            return
        log.error("%s", error, extra={"plugin": name})
        for dependent in self.resolution.dependents(name):
            dep = self._records.get(dependent)
            if dep is None or dep.state is PluginState.FAILED:
                continue
            needed = self.resolution.requires.get(dependent, frozenset())
            if name in needed:
                api = next(
                    a
                    for a in dep.spec.manifest.requires
                    if self.resolution.providers.get(a) == name
                )
                self._fail(dependent, DependencyFailed(dependent, api, name))

    async def load_all(self) -> None:
        """Import and load every plugin, providers first."""
        loop = asyncio.get_running_loop()
        pending = [
            n
            for n in self.resolution.order
            if n in self._records and self._records[n].state is PluginState.PENDING
        ]
        # Imports and directories are blocking I/O: one trip to a thread for
        # all plugins (as Home Assistant imports integrations), not one each.
        factories = await loop.run_in_executor(None, self._prepare, pending)
        for name in pending:
            rec = self._records[name]
            if rec.state is not PluginState.PENDING:
                # Failed meanwhile, because a plugin it needs failed to load.
                continue
            factory = factories[name]
            try:
                if isinstance(factory, BaseException):
                    raise factory
                rec.hook = factory()
            except Exception as exc:  # isolation boundary: a plugin's import
                self._fail(name, HookFailed(name, "import", exc), exc_info=exc)
                continue
            rec.ctx = PluginContext(
                service=self.service,
                manifest=rec.spec.manifest,
                config=self._plugin_config.get(name, {}),
                data_dir=self._data_root / name,
                lookup=self._lookup,
                resources=self._resources,
            )
            if await self._call(rec, "load", loop):
                rec.state = PluginState.LOADED
                self._register(rec)

    async def start_all(self) -> None:
        """Start every loaded plugin, providers first."""
        loop = asyncio.get_running_loop()
        for name in self.resolution.order:
            rec = self._records.get(name)
            if rec is None or rec.state is not PluginState.LOADED:
                continue
            if await self._call(rec, "start", loop):
                rec.state = PluginState.STARTED
            else:
                # Release what load made now, as for its dependents; it never
                # started, so it is not stopped.
                self._unload_later(rec, stop=False)

    async def stop_all(self) -> None:
        """Stop every started plugin, users before providers; errors are logged, not raised."""
        loop = asyncio.get_running_loop()
        for name in reversed(self.resolution.order):
            rec = self._records.get(name)
            if rec is None or rec.state is not PluginState.STARTED:
                continue
            if await self._call(rec, "stop", loop, fail_dependents=False):
                rec.state = PluginState.STOPPED

    async def unload_all(self) -> None:
        """Unload every loaded plugin (stopping it first if needed), in reverse order."""
        # Background clean-ups of failed plugins first, so no hook of one
        # plugin ever runs twice at once.
        await self.wait_abandoned()
        await self.stop_all()
        loop = asyncio.get_running_loop()
        for name in reversed(self.resolution.order):
            rec = self._records.get(name)
            if rec is None or "load" not in rec.phases_done or "unload" in rec.phases_done:
                continue
            await self._call(rec, "unload", loop, fail_dependents=False)
            self._unregister(rec)
            if rec.state is not PluginState.FAILED:
                rec.state = PluginState.STOPPED

    async def apply(
        self,
        specs: Sequence[PluginSpec],
        changed: Iterable[str],
        *,
        discovery_errors: Sequence[PluginError] = (),
        prepare: Callable[[PluginLifecycle, list[PluginSpec]], Awaitable[None]] | None = None,
    ) -> frozenset[str]:
        """Switch this service to the plugin set ``specs`` in place; return the plugins restarted.

        ``changed`` names the plugins whose code differs from what runs now
        (another version, added or removed). Those, every plugin that
        requires them (before or after), and every plugin whose resolution
        changes are stopped and unloaded in reverse order, the modules of
        the changed ones are dropped from ``sys.modules`` (so the next
        import reads the new version from ``sys.path``, which the caller has
        updated), and then they load and start like at boot. Every other
        plugin keeps running untouched: same objects, same state. ``prepare``
        runs between the unload and the load (the server migrates there).
        """
        await self.wait_abandoned()
        old = self.resolution
        new = resolve(specs, self._peek_version)
        changed = frozenset(changed)
        affected = set(changed)
        for name in changed:
            affected.update(old.dependents(name), new.dependents(name))
        affected |= set(old.failed) ^ set(new.failed)
        # Stop before unloading anything, users before providers, as at shutdown.
        loop = asyncio.get_running_loop()
        leaving = [n for n in reversed(old.order) if n in affected and n in self._records]
        for name in leaving:
            rec = self._records[name]
            if rec.state is PluginState.STARTED:
                await self._call(rec, "stop", loop, fail_dependents=False)
        for name in leaving:
            rec = self._records[name]
            if "load" in rec.phases_done and "unload" not in rec.phases_done:
                await self._call(rec, "unload", loop, fail_dependents=False)
            self._unregister(rec)
        _purge_modules(changed)
        self.resolution = new
        self._discovery_errors = list(discovery_errors)
        records: dict[str, _Record] = {}
        for spec in specs:
            if self.service not in spec.manifest.hooks:
                continue
            kept = self._records.get(spec.name)
            records[spec.name] = (
                kept if kept is not None and spec.name not in affected else _Record(spec)
            )
        self._records = records
        self.revision += 1
        for name, error in new.failed.items():
            if name in records and name in affected:
                self._fail(name, error, log_it=True)
        if prepare is not None:
            await prepare(self, list(specs))
        await self.load_all()
        await self.start_all()
        self.revision += 1
        return frozenset(n for n in affected if n in records)

    # -- internals -------------------------------------------------------

    def _lookup(self, requester: str, api: str) -> Any:
        provider = self.resolution.providers.get(api)
        rec = self._records.get(provider) if provider else None
        if rec is None:
            raise ApiUnavailable(requester, api, self.service, "its provider does not run here")
        if rec.state is PluginState.FAILED:
            raise ApiUnavailable(requester, api, self.service, f"{provider} failed")
        if rec.ctx is None or rec.ctx.published is None:
            raise ApiUnavailable(requester, api, self.service, f"{provider} published no API")
        return rec.ctx.published

    async def _call(
        self,
        rec: _Record,
        phase: str,
        loop: asyncio.AbstractEventLoop,
        *,
        fail_dependents: bool = True,
    ) -> bool:
        """Run one hook of one plugin; True if it succeeded (or is not defined)."""
        name = rec.spec.name
        rec.phases_done.add(phase)
        fn: Callable[[PluginContext], Any] | None = getattr(rec.hook, phase, None)
        if fn is None:
            return True
        try:
            result = fn(rec.ctx)  # type: ignore[arg-type]
            awaitable = _as_awaitable(result, loop)
            if awaitable is not None:
                await self._await_with_timeout(name, phase, awaitable)
        except PluginError as exc:
            self._fail(name, exc, fail_dependents=fail_dependents)
            return False
        except Exception as exc:  # isolation boundary: a plugin's lifecycle hook
            self._fail(
                name, HookFailed(name, phase, exc), exc_info=exc, fail_dependents=fail_dependents
            )
            return False
        return True

    async def _await_with_timeout(self, name: str, phase: str, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        warn = asyncio.get_running_loop().call_later(
            SLOW_HOOK_WARNING,
            lambda: log.warning(
                "plugin %s is still in %s after %g s",
                name,
                phase,
                SLOW_HOOK_WARNING,
                extra={"plugin": name},
            ),
        )
        started = time.monotonic()
        try:
            done, _ = await asyncio.wait({task}, timeout=self.hook_timeout)
        finally:
            warn.cancel()
        if not done:
            # Cancel but do not wait: a hook that swallows cancellation must
            # not hang the service as well.
            task.cancel()
            self._abandoned.add(task)
            task.add_done_callback(self._abandoned.discard)
            raise HookTimeout(name, phase, self.hook_timeout)
        task.result()
        log.debug("plugin %s %s took %.3f s", name, phase, time.monotonic() - started)

    def _fail(
        self,
        name: str,
        error: PluginError,
        *,
        exc_info: BaseException | None = None,
        log_it: bool = True,
        fail_dependents: bool = True,
    ) -> None:
        rec = self._records[name]
        rec.state = PluginState.FAILED
        rec.error = error
        self._unregister(rec)
        if log_it:
            log.error("%s", error, exc_info=exc_info, extra={"plugin": name})
        if not fail_dependents:
            return
        downstream = self.resolution.dependents(name)
        chain = {name, *downstream}
        for dependent in downstream:
            dep = self._records.get(dependent)
            if dep is None or dep.state is PluginState.FAILED:
                continue
            # Name what it needs directly (for an indirect dependent, the
            # plugin in between), not the plugin that failed first.
            provider = min(self.resolution.requires[dependent] & chain)
            api = next(
                a
                for a in dep.spec.manifest.requires
                if self.resolution.providers.get(a) == provider
            )
            was_loaded = "load" in dep.phases_done and "unload" not in dep.phases_done
            self._fail(dependent, DependencyFailed(dependent, api, provider), fail_dependents=False)
            if was_loaded:
                # It loaded against a provider that is now gone: let it clean up.
                self._unload_later(dep)

    def _unload_later(self, rec: _Record, *, stop: bool = True) -> None:
        async def unload() -> None:
            # unload_all may have got to it first: unload only once.
            if stop and "start" in rec.phases_done and "stop" not in rec.phases_done:
                await self._call(rec, "stop", asyncio.get_running_loop(), fail_dependents=False)
            if "unload" not in rec.phases_done:
                await self._call(rec, "unload", asyncio.get_running_loop(), fail_dependents=False)

        task = asyncio.get_running_loop().create_task(unload(), name=f"unload {rec.spec.name}")
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)

    def _register(self, rec: _Record) -> None:
        # Registering with pluggy inspects every attribute of the object; only
        # hooks that implement a contribution pay for it. (The conformance
        # check flags peek_* methods that match no hookspec.)
        hook_type = type(rec.hook)
        if any(hasattr(hook_type, spec) for spec in hookspecs.HOOK_NAMES):
            self.pm.register(rec.hook, name=rec.spec.name)
            rec.registered = True

    def _unregister(self, rec: _Record) -> None:
        if rec.registered:
            self.pm.unregister(name=rec.spec.name)
            rec.registered = False

    async def wait_abandoned(self) -> None:
        """Let background clean-ups (unloads of failed dependents) finish."""
        if self._abandoned:
            await asyncio.wait(set(self._abandoned), timeout=self.hook_timeout)

    def _prepare(self, names: Sequence[str]) -> dict[str, Callable[[], object] | BaseException]:
        """Blocking: make each plugin's data directory and import its hook class."""
        factories: dict[str, Callable[[], object] | BaseException] = {}
        try:
            existing = {entry.name for entry in os.scandir(self._data_root) if entry.is_dir()}
        except FileNotFoundError:
            existing = set()
        for name in names:
            try:
                if name not in existing:
                    (self._data_root / name).mkdir(parents=True, exist_ok=True, mode=0o750)
                factories[name] = self._records[name].spec.hook_factory(self.service)
            except Exception as exc:  # isolation boundary: a plugin's import
                factories[name] = exc
        return factories


def _purge_modules(packages: Iterable[str]) -> None:
    # Forget every module of these packages, so that importing them again
    # reads the files now on sys.path; objects still referring to the old
    # modules (none, once the plugin is unloaded) keep them alive.
    prefixes = tuple(f"{package}." for package in packages)
    wanted = set(packages)
    for module in [m for m in sys.modules if m in wanted or m.startswith(prefixes)]:
        del sys.modules[module]
    if wanted:
        importlib.invalidate_caches()


def _as_awaitable(result: Any, loop: asyncio.AbstractEventLoop) -> Awaitable[Any] | None:
    # A Deferred is awaitable too, but only inside Twisted's own coroutines:
    # bridge it to an asyncio future on this loop (Twisted runs on it).
    defer = sys.modules.get("twisted.internet.defer")
    if defer is not None and isinstance(result, defer.Deferred):
        return result.asFuture(loop)  # type: ignore[no-any-return]
    if inspect.isawaitable(result):
        return result
    return None
