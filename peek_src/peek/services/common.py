"""What every service process shares: its plugins, its HTTP sites, its shutdown."""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

import peek
from peek.config import PeekConfig, ServiceKind
from peek.plugin.discovery import PluginSpec, discover
from peek.plugin.errors import PluginError
from peek.plugin.hookspecs import Site
from peek.plugin.lifecycle import PluginLifecycle
from peek.services.systemd import SystemdNotifier

__all__ = [
    "PLUGIN_ROUTE_PREFIX",
    "HttpSite",
    "PluginHost",
    "Service",
    "health_routes",
    "install_twisted_reactor",
    "mount_plugin_routes",
    "run_until_signalled",
]

log = logging.getLogger(__name__)

PLUGIN_ROUTE_PREFIX = "/plugins"


class Service(Protocol):
    """A service process: started once, stopped once (like Twisted's IService)."""

    kind: ServiceKind

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PluginHost:
    """The plugin set of one service: discovery (or given specs) plus the lifecycle."""

    def __init__(
        self,
        config: PeekConfig,
        kind: ServiceKind,
        specs: Sequence[PluginSpec] | None = None,
    ) -> None:
        self.config = config
        self.kind: ServiceKind = kind
        self._specs = specs
        self.lifecycle: PluginLifecycle | None = None

    async def load(
        self,
        resources: Any = None,
        prepare: Callable[[PluginLifecycle, list[PluginSpec]], Awaitable[None]] | None = None,
    ) -> PluginLifecycle:
        """Discover (off the loop), resolve and load the enabled plugins.

        ``prepare`` runs once they are resolved and before any loads (the
        server migrates their schemas there and fails those it cannot).
        """
        errors: list[PluginError] = []
        if self._specs is None:
            enabled = self.config.plugins.enabled
            cache = self.config.data_dir / "cache" / "discovery.json"
            specs, errors = await asyncio.get_running_loop().run_in_executor(
                None, functools.partial(discover, enabled, cache_file=cache)
            )
        else:
            specs = list(self._specs)
        for error in errors:
            log.error("%s", error, extra={"plugin": error.plugin})
        self.lifecycle = PluginLifecycle(
            self.kind,
            specs,
            peek_version=peek.__version__,
            data_root=self.config.data_dir / "plugins" / self.kind,
            plugin_config=self.config.plugin,
            hook_timeout=self.config.plugins.hook_timeout,
            resources=resources,
            discovery_errors=errors,
        )
        if prepare is not None:
            await prepare(self.lifecycle, specs)
        await self.lifecycle.load_all()
        return self.lifecycle

    async def start(self) -> None:
        assert self.lifecycle is not None, "load() first"
        await self.lifecycle.start_all()
        states = [s.state.value for s in self.lifecycle.status()]
        log.info("%s plugins started, %s failed", states.count("started"), states.count("failed"))

    async def stop(self) -> None:
        if self.lifecycle is not None:
            await self.lifecycle.unload_all()
            await self.lifecycle.wait_abandoned()

    def plugins_json(self) -> list[dict[str, Any]]:
        if self.lifecycle is None:
            return []
        return [status.as_json() for status in self.lifecycle.status()]


@dataclass
class HttpSite:
    """An aiohttp application bound to one host and port (runner and site kept apart)."""

    name: str
    app: web.Application
    host: str
    port: int
    runner: web.AppRunner | None = field(default=None, init=False)

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        await site.start()
        # With port 0 the kernel picks one; report the real one.
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        log.info("%s site listening on http://%s:%s", self.name, self.host, self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


def health_routes(kind: ServiceKind, host: PluginHost) -> list[web.RouteDef]:
    """``GET /healthz``: 200 while the service runs, with a count of plugin states."""

    async def healthz(request: web.Request) -> web.Response:
        plugins = host.plugins_json()
        return web.json_response(
            {
                "status": "ok",
                "service": kind,
                "version": peek.__version__,
                "plugins": {
                    "started": sum(p["state"] == "started" for p in plugins),
                    "failed": sum(p["state"] == "failed" for p in plugins),
                },
            }
        )

    return [web.get("/healthz", healthz)]


def mount_plugin_routes(app: web.Application, lifecycle: PluginLifecycle, site: Site) -> None:
    """Add every running plugin's routes for ``site`` below ``/plugins/<api>/``."""
    for name, routes in lifecycle.contributions("peek_site_routes", site=site):
        prefix = f"{PLUGIN_ROUTE_PREFIX}/{name.removeprefix('peek_plugin_')}"
        for route in routes:
            if not isinstance(route, web.RouteDef):
                log.error(
                    "plugin %s returned a %s from peek_site_routes; only web.get/post/... "
                    "routes are mounted",
                    name,
                    type(route).__name__,
                    extra={"plugin": name},
                )
                continue
            path = prefix + (route.path if route.path.startswith("/") else "/" + route.path)
            web.RouteDef(route.method, path, route.handler, route.kwargs).register(app.router)


def default_name(kind: ServiceKind) -> str:
    return f"{socket.gethostname()}-{kind}"


def install_twisted_reactor() -> None:
    """Run Twisted (if installed) on this process's asyncio loop. Must run in the loop.

    Plugins that use Twisted then get a reactor that shares the one event
    loop, and hooks may return Deferreds. Done before any plugin imports
    ``twisted.internet.reactor``, which would otherwise install another.
    """
    loop = asyncio.get_running_loop()
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None:
        try:
            from twisted.internet import asyncioreactor
        except ImportError:
            return
        asyncioreactor.install(loop)  # type: ignore[no-untyped-call]
        from twisted.internet import reactor as installed

        # Fire Twisted's start-up triggers without handing it the loop.
        installed.startRunning(installSignalHandlers=False)
        return
    bound = getattr(reactor, "_asyncioEventloop", None)
    if bound is None:
        log.warning(
            "a Twisted reactor that is not asyncio-based was installed before Peek "
            "started; plugins that use Twisted will not run"
        )
    elif bound is not loop:
        _rebind_reactor(reactor, loop)


def _rebind_reactor(reactor: Any, loop: asyncio.AbstractEventLoop) -> None:
    # A process has one loop at a time but may have several in a row (a
    # service restarted in-process, a test suite). Twisted's reactor can be
    # installed only once, so move it to the loop that runs now; pending
    # timers are re-armed there. File descriptors of the old loop are gone
    # with it.
    reactor._asyncioEventloop = loop
    reactor._scheduledAt = None
    reactor._timerHandle = None
    reactor._reschedule()


async def run_until_signalled(service: Service, notifier: SystemdNotifier | None = None) -> None:
    """Start ``service``, wait for SIGTERM or SIGINT, stop it cleanly.

    Under systemd (``NOTIFY_SOCKET``, or an explicit ``notifier``) it sends
    ``READY=1`` once the service and its plugins have started, feeds the
    watchdog while it runs and sends ``STOPPING=1`` when it begins to stop.
    """
    loop = asyncio.get_running_loop()
    notifier = notifier if notifier is not None else SystemdNotifier.from_environ()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        notifier.status(f"starting the {service.kind}")
        await service.start()
        notifier.ready(f"{service.kind} running")
        notifier.start_watchdog()
        await stop.wait()
        log.info("stopping the %s", service.kind)
        notifier.stopping(f"stopping the {service.kind}")
    finally:
        try:
            await service.stop()
        finally:
            await notifier.close()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
