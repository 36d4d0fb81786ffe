"""Client, agent and worker: services that dial out to the server over the link."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

import peek
from peek.config import PeekConfig, ServiceKind
from peek.plugin.context import ServiceResources
from peek.plugin.discovery import PluginSpec
from peek.services.common import (
    HttpSite,
    PluginHost,
    default_name,
    health_routes,
    install_twisted_reactor,
    mount_plugin_routes,
)
from peek.services.rollout import UpstreamRollout, restart_process
from peek.services.webapps import ShellApp, UiCatalog
from peek.vortex.browser import BrowserGateway
from peek.vortex.exchange import ExchangeClient
from peek.vortex.hub import UpstreamVortex
from peek.vortex.link import DEFAULT_HEARTBEAT, Backoff, LinkClient
from peek.vortex.sessions import SessionStore
from peek.vortex.tokens import read_token_file
from peek.workers import TaskDefinitionError, TaskRef, WorkerProcess, task_refs

__all__ = ["AgentService", "ClientService", "UpstreamService", "WorkerService"]

log = logging.getLogger(__name__)


class UpstreamService:
    """A service whose plugins run locally and that reports to the server.

    The link is started after the plugins, and a ``status`` message follows
    every change, so the server always knows what runs here. A server that is
    down at start is not an error: the link keeps dialling.
    """

    kind: ServiceKind

    def __init__(
        self,
        config: PeekConfig,
        *,
        specs: Sequence[PluginSpec] | None = None,
        name: str | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.name = name or default_name(self.kind)
        self.plugins = PluginHost(config, self.kind, specs)
        self._heartbeat = heartbeat
        self._backoff = backoff
        self.link: LinkClient | None = None
        self._link_task: asyncio.Task[None] | None = None
        self.exchange: ExchangeClient | None = None
        # Subscriptions and actions made before the link is up wait for it.
        self.vortex = UpstreamVortex(self.kind, self.name, config.vortex)
        # Its side of plugin rollouts (when plugins are discovered, not given).
        self.rollout: UpstreamRollout | None = None
        # What the process exits with: RESTART_EXIT_CODE to come back on a new generation.
        self.exit_code = 0

    @property
    def server_url(self) -> str:
        url: str = getattr(self.config, self.kind).server_url
        return url

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        install_twisted_reactor()
        token = await loop.run_in_executor(None, read_token_file, self.config.token_file(self.kind))
        self.exchange = ExchangeClient(self.server_url, token)
        if self.plugins.managed:
            self.rollout = UpstreamRollout(
                self.config,
                self.kind,
                self.plugins,
                server_url=self.server_url,
                token=token,
                request_restart=restart_process(self),
                after_apply=self.plugins_applied,
            )
            await loop.run_in_executor(None, self.rollout.recover)
        await self.plugins.load(
            ServiceResources(service_name=self.name, server=self.exchange, vortex=self.vortex)
        )
        await self.start_sites()
        await self.plugins.start()
        self.link = LinkClient(
            self.server_url,
            token,
            self._hello,
            heartbeat=self._heartbeat,
            backoff=self._backoff,
            on_connect=self.vortex.link_up,
            max_frame=self.config.vortex.max_frame,
        )
        self.vortex.attach(self.link)
        if self.rollout is not None:
            self.rollout.attach(self.link)
        self._link_task = loop.create_task(self.link.run(), name=f"{self.kind} link")

    async def stop(self) -> None:
        if self.rollout is not None:
            await self.rollout.close()
        if self.link is not None:
            await self.link.close()
        if self._link_task is not None:
            # The link may be asleep between reconnect attempts; cancel it and
            # wait for it without taking its CancelledError as ours.
            self._link_task.cancel()
            await asyncio.wait({self._link_task})
        await self.plugins.stop()
        await self.stop_sites()
        await self.vortex.close()
        if self.exchange is not None:
            await self.exchange.close()

    async def start_sites(self) -> None:
        """Services with HTTP sites open them here, after plugins load."""

    async def stop_sites(self) -> None:
        """Close what :meth:`start_sites` opened."""

    def _hello(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "version": peek.__version__,
            "plugins": self.plugins.plugins_json(),
            **(self.rollout.hello() if self.rollout is not None else {}),
        }

    async def plugins_applied(self, restarted: frozenset[str]) -> None:
        """After a rollout swapped plugins (``restarted``) in this process: tell the server."""
        await self.report_status()

    async def report_status(self) -> None:
        """Tell the server what runs here now (no-op while the link is down)."""
        if self.link is not None and self.link.connected.is_set():
            message: dict[str, Any] = {"t": "status", "plugins": self.plugins.plugins_json()}
            if self.rollout is not None:
                message.update(self.rollout.hello())
            await self.link.send(message)


def browser_sessions_path(config: PeekConfig) -> Path:
    """The client's kept browser sessions (hashed tokens only)."""
    return config.data_dir / "client" / "browser-sessions.sqlite3"


class ClientService(UpstreamService):
    """``peek client``: the user site (8000) for browsers, fed by the server."""

    kind: ServiceKind = "client"

    def __init__(self, config: PeekConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.user_site: HttpSite | None = None
        # Browser sessions are kept in the data dir: a restart does not log browsers out.
        self.browsers = BrowserGateway(
            self.vortex,
            config.vortex,
            self._authenticate,
            sessions=SessionStore(config.vortex.session_idle, path=browser_sessions_path(config)),
        )
        # The user site's web apps: desktop at /, mobile at /mobile/, and the
        # plugins' pages for both (call ui.set_plugins when the plugin set changes).
        self.desktop_app = ShellApp("desktop", "/")
        self.mobile_app = ShellApp("mobile", "/mobile/")
        self.ui = UiCatalog(["desktop", "mobile"])

    async def _authenticate(self, username: str, password: str) -> str | None:
        """Browser logins, checked by whichever plugin provides the ``user`` API here."""
        lifecycle = self.plugins.lifecycle
        provider = lifecycle.resolution.providers.get("user") if lifecycle else None
        api = None
        if lifecycle is not None and provider is not None:
            api = dict(lifecycle.running()).get(provider) and lifecycle.published(provider)
        if api is None:
            raise LookupError("no plugin provides the 'user' API on this client")
        user = await api.authenticate(username, password)
        return None if user is None else str(user.username)

    async def start_sites(self) -> None:
        assert self.plugins.lifecycle is not None
        await self.browsers.open()
        app = web.Application()
        app.add_routes(health_routes("client", self.plugins))
        app.add_routes(self.browsers.routes())
        mount_plugin_routes(app, self.plugins.lifecycle, "user")
        await self.desktop_app.load()
        await self.mobile_app.load()
        await self.ui.set_plugins(self.plugins.ui_specs())
        app.add_routes(self.ui.routes())
        app.add_routes(self.mobile_app.routes())
        app.add_routes(self.desktop_app.routes())  # last: its catch-all serves the shell
        self.user_site = HttpSite("user", app, self.config.client.host, self.config.client.port)
        await self.user_site.start()

    async def plugins_applied(self, restarted: frozenset[str]) -> None:
        """A rollout switched the plugin set: open browsers get the new pages."""
        await self.ui.set_plugins(self.plugins.ui_specs())
        await super().plugins_applied(restarted)

    async def stop_sites(self) -> None:
        self.ui.close()
        await self.browsers.close()
        if self.user_site is not None:
            await self.user_site.stop()


class AgentService(UpstreamService):
    """``peek agent``: integrates with outside systems; listens on nothing."""

    kind: ServiceKind = "agent"


class WorkerService(UpstreamService):
    """``peek worker``: runs plugins' worker parts and a Celery worker for their tasks.

    The plugins' worker hooks run here, on this process's event loop, like on
    every service. Their tasks run in a Celery worker that this service starts
    as a child process once the plugins have started, and restarts if it
    dies (see :mod:`peek.workers.process` for why a child and not a thread):
    it serves the tasks of every running plugin that contributes some through
    ``peek_worker_tasks``.
    """

    kind: ServiceKind = "worker"

    def __init__(self, config: PeekConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.celery: WorkerProcess | None = None
        # The plugins' tasks the Celery child serves.
        self.celery_tasks: dict[str, list[TaskRef]] = {}

    async def start(self) -> None:
        await super().start()
        tasks = self._task_refs()
        if not tasks:
            log.info("no running plugin contributes worker tasks; no Celery worker started")
            return
        self.celery_tasks = tasks
        self.celery = WorkerProcess(self.config, tasks, hostname=f"celery@{self.name}")
        await self.celery.start()

    async def stop(self) -> None:
        # Running tasks finish (or are killed after the grace) before the
        # plugins that may serve them stop.
        if self.celery is not None:
            await self.celery.stop()
        await super().stop()

    async def plugins_applied(self, restarted: frozenset[str]) -> None:
        """A rollout swapped plugins: the Celery child serves the new set's tasks (it is
        restarted only when a swapped plugin contributes tasks, before or after)."""
        tasks = self._task_refs()
        served = set(self.celery_tasks)
        if restarted & (served | set(tasks)):
            if self.celery is not None:
                await self.celery.stop()
                self.celery = None
            self.celery_tasks = tasks
            if tasks:
                self.celery = WorkerProcess(self.config, tasks, hostname=f"celery@{self.name}")
                await self.celery.start()
        await super().plugins_applied(restarted)

    def _task_refs(self) -> dict[str, list[TaskRef]]:
        assert self.plugins.lifecycle is not None
        tasks: dict[str, list[TaskRef]] = {}
        for plugin, contributed in self.plugins.lifecycle.contributions("peek_worker_tasks"):
            try:
                refs = task_refs(plugin, contributed)
            except TaskDefinitionError as exc:
                log.error("%s: its tasks are not served", exc, extra={"plugin": plugin})
                continue
            if refs:
                tasks[plugin] = refs
        return tasks
