"""What every service process shares: its plugins, its HTTP sites, its shutdown."""

from __future__ import annotations

import asyncio
import ctypes
import faulthandler
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from aiohttp import web

import peek
from peek.config import PeekConfig, ServiceKind
from peek.plugin.discovery import PluginSpec, discover
from peek.plugin.errors import PluginError
from peek.plugin.hookspecs import Site
from peek.plugin.lifecycle import PluginLifecycle
from peek.rollout.backends.plain import Activation, activate_on_sys_path
from peek.services.systemd import NOTIFY_ENV, SystemdNotifier

__all__ = [
    "PLUGIN_ROUTE_PREFIX",
    "HttpSite",
    "PluginHost",
    "Service",
    "health_routes",
    "install_twisted_reactor",
    "mount_plugin_routes",
    "restart_in_place",
    "run_until_signalled",
    "supervised",
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
        # The whole enabled set (every service's plugins): the web apps show
        # pages of plugins that run elsewhere (active_task's are the client's).
        self.specs: list[PluginSpec] = []
        # The plugin generation this process runs (None: the configured plugins).
        self.activation: Activation | None = None

    @property
    def managed(self) -> bool:
        """Plugins come from discovery, so rollout generations choose them."""
        return self._specs is None

    def discover_plugins(
        self, previous: Sequence[Path] = (), number: int | None = None
    ) -> tuple[Activation | None, list[PluginSpec], list[PluginError]]:
        """Blocking: the plugins of the active plugin generation (or of ``number``), its
        directories first on ``sys.path`` (``previous`` ones leave it), or the
        configured plugins before any generation."""
        activation = activate_on_sys_path(self.config.data_dir, previous=previous, number=number)
        enabled = (
            activation.generation.names() if activation is not None else self.config.plugins.enabled
        )
        cache = self.config.data_dir / "cache" / "discovery.json"
        specs, errors = discover(enabled, cache_file=cache)
        return activation, specs, errors

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
            self.activation, specs, errors = await asyncio.get_running_loop().run_in_executor(
                None, self.discover_plugins
            )
        else:
            specs = list(self._specs)
        self.specs = list(specs)
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

    def ui_specs(self) -> list[PluginSpec]:
        """The plugins whose pages the web apps show: the enabled set, less those that
        cannot resolve (a missing requirement, say)."""
        failed = self.lifecycle.resolution.failed if self.lifecycle is not None else {}
        return [spec for spec in self.specs if spec.name not in failed]

    def plugins_json(self) -> list[dict[str, Any]]:
        if self.lifecycle is None:
            return []
        return [status.as_json() for status in self.lifecycle.status()]


# Seconds a stopping site gives requests still in flight before cancelling them.
# aiohttp's default is 60 s; a stream that never ends (an event stream opened
# while the service stops) would hold a restart up that long. Downloads from
# the exchange site resume, and an event stream reader reconnects.
SHUTDOWN_GRACE = 5.0


@dataclass
class HttpSite:
    """An aiohttp application bound to one host and port (runner and site kept apart)."""

    name: str
    app: web.Application
    host: str
    port: int
    shutdown_grace: float = SHUTDOWN_GRACE
    runner: web.AppRunner | None = field(default=None, init=False)

    async def start(self) -> None:
        self.runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self.shutdown_grace,
        )
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
    """Serve every running plugin's routes for ``site`` below ``/plugins/<api>/``.

    The routes live in a router of their own, rebuilt when a rollout changes
    the plugin set (``lifecycle.revision``): a plugin swapped or added while
    the site runs answers with its new code, a removed one no longer answers.
    """
    routes = _PluginRoutes(lifecycle, site)
    app.router.add_route("*", PLUGIN_ROUTE_PREFIX + "/{_peek_plugin_path:.*}", routes.handle)


class _PluginRoutes:
    def __init__(self, lifecycle: PluginLifecycle, site: Site) -> None:
        self._lifecycle = lifecycle
        self._site: Site = site
        self._router: web.UrlDispatcher | None = None
        self._revision = -1

    def _build(self) -> web.UrlDispatcher:
        router = web.UrlDispatcher()
        for name, routes in self._lifecycle.contributions("peek_site_routes", site=self._site):
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
                web.RouteDef(route.method, path, route.handler, route.kwargs).register(router)
        return router

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self._router is None or self._revision != self._lifecycle.revision:
            self._revision = self._lifecycle.revision
            self._router = self._build()
        match = await self._router.resolve(request)
        if match.http_exception is not None:
            raise match.http_exception
        match.add_app(request.app)
        # aiohttp has no public way to hand a request on to a second router; its
        # own dispatcher sets this attribute just so before calling a handler.
        request._match_info = match
        # A site with middlewares has read (and cached) request.match_info already
        # (aiohttp's current-app middleware does): replace the cached value too.
        request._cache["match_info"] = match
        response: web.StreamResponse = await match.handler(request)
        return response


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


SUPERVISOR_ENV = "PEEK_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1
# systemd sets it for every unit's processes (v232 and later).
_SYSTEMD_INVOCATION_ENV = "INVOCATION_ID"


def supervised(environ: Mapping[str, str] | None = None) -> bool:
    """Whether something restarts this process when it exits: ``peek run`` or systemd."""
    env = os.environ if environ is None else environ
    return any(key in env for key in (SUPERVISOR_ENV, NOTIFY_ENV, _SYSTEMD_INVOCATION_ENV))


def restart_in_place() -> NoReturn:
    """Replace this process with a fresh start of the same command line (same pid).

    For a service run by hand that stopped to restart into a new plugin
    generation: nothing else would start it again. Open files are closed by
    the exec (Python opens them non-inheritable).
    """
    log.warning("restarting in place: %s", " ".join(sys.orig_argv))
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, sys.orig_argv)


def stop_with_supervisor(environ: Mapping[str, str] | None = None) -> None:
    """Under ``peek run``, get SIGTERM when the supervisor dies, however it dies.

    The supervisor starts each child in a session of its own (so that a
    terminal's Ctrl-C reaches only the supervisor), which also means that a
    supervisor killed with SIGKILL would leave its services running. The
    kernel's parent-death signal closes that gap; if the supervisor is already
    gone by the time this runs, the service stops at once.
    """
    env = os.environ if environ is None else environ
    expected = env.get(SUPERVISOR_ENV)
    if not expected or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning(
            "cannot ask to be stopped with the supervisor: %s", os.strerror(ctypes.get_errno())
        )
        return
    if str(os.getppid()) != expected:
        log.error("the peek run supervisor (pid %s) is gone; stopping", expected)
        os.kill(os.getpid(), signal.SIGTERM)


# Seconds a service's stop may take before the process gives up on it. Below
# systemd's default TimeoutStopSec (90 s), so the stacks are logged before a
# SIGKILL would come; and a service that stops by itself to restart into a
# new plugin generation has no one else to kill it if its stop hangs.
STOP_LIMIT = 60.0


async def run_until_signalled(
    service: Service,
    notifier: SystemdNotifier | None = None,
    *,
    stop_limit: float = STOP_LIMIT,
) -> None:
    """Start ``service``, wait for SIGTERM or SIGINT, stop it cleanly.

    Under systemd (``NOTIFY_SOCKET``, or an explicit ``notifier``) it sends
    ``READY=1`` once the service and its plugins have started, feeds the
    watchdog while it runs and sends ``STOPPING=1`` when it begins to stop.

    A stop that takes longer than ``stop_limit`` seconds (a plugin's stop
    hook blocking the loop, a request that never ends) ends the process:
    every thread's stack is written to stderr and it exits with the
    service's ``exit_code`` (or 1).
    """
    loop = asyncio.get_running_loop()
    notifier = notifier if notifier is not None else SystemdNotifier.from_environ()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stop_with_supervisor()
    try:
        notifier.status(f"starting the {service.kind}")
        await service.start()
        notifier.ready(f"{service.kind} running")
        notifier.start_watchdog()
        await stop.wait()
        log.info("stopping the %s", service.kind)
        notifier.stopping(f"stopping the {service.kind}")
    finally:
        # A thread, not a loop timer: it fires even when the loop is blocked.
        deadline = threading.Timer(stop_limit, _stop_overran, (service, stop_limit))
        deadline.daemon = True
        deadline.start()
        began = time.monotonic()
        try:
            await service.stop()
            log.info("stopped the %s in %.1f s", service.kind, time.monotonic() - began)
        finally:
            deadline.cancel()
            await notifier.close()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)


def _stop_overran(service: Service, limit: float) -> None:
    code = getattr(service, "exit_code", 0) or 1
    log.critical(
        "the %s did not stop within %g s; exiting with code %d (the stacks follow)",
        service.kind,
        limit,
        code,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    # The main thread is stuck in the stop: only the process can end here.
    os._exit(code)
