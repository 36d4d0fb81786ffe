"""``peek server``: the admin site (8010), the data-exchange site (8011) and the link hub."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

import peek
from peek.config import PeekConfig
from peek.plugin.context import ServiceResources
from peek.plugin.discovery import PluginSpec
from peek.plugin.lifecycle import PluginLifecycle
from peek.services.admin_auth import ADMIN_COOKIE, AdminAuth, AdminVortexHub, ensure_admin_password
from peek.services.common import (
    PLUGIN_ROUTE_PREFIX,
    HttpSite,
    PluginHost,
    default_name,
    health_routes,
    install_twisted_reactor,
    mount_plugin_routes,
)
from peek.services.known import KnownServiceStore
from peek.services.registry import ServiceRegistry
from peek.services.rollout import ServerRollout, restart_process
from peek.services.webapps import ShellApp, UiCatalog
from peek.storage import Storage, migrate_installation
from peek.vortex.browser import BrowserGateway
from peek.vortex.hub import ServerVortex
from peek.vortex.journal import FileActionJournal
from peek.vortex.link import DEFAULT_HEARTBEAT, LINK_PATH, LinkServer, Peer
from peek.vortex.tokens import TokenInfo, TokenStore, write_secret_file
from peek.workers import TaskClient, make_celery

__all__ = [
    "SERVICE_KEY",
    "ServerService",
    "admin_token_path",
    "ensure_admin_token",
    "token_store_path",
]

log = logging.getLogger(__name__)

# The service (token) that made an exchange-site request to a plugin route.
SERVICE_KEY = web.RequestKey("peek_service", TokenInfo)


def server_dir(config: PeekConfig) -> Path:
    return config.data_dir / "server"


def token_store_path(config: PeekConfig) -> Path:
    return server_dir(config) / "tokens.json"


def admin_token_path(config: PeekConfig) -> Path:
    """The local admin credential the CLI presents to the admin site (mode 0600)."""
    return server_dir(config) / "admin.token"


def ensure_admin_token(config: PeekConfig) -> str:
    """Read the admin token, creating it on first start. Blocking."""
    path = admin_token_path(config)
    try:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    write_secret_file(path, token + "\n")
    log.info("created the local admin token in %s", path)
    return token


class ServerService:
    """The central service. ``specs`` overrides plugin discovery (tests)."""

    kind = "server"

    def __init__(
        self,
        config: PeekConfig,
        *,
        specs: Sequence[PluginSpec] | None = None,
        name: str | None = None,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        self.config = config
        self.name = name or default_name("server")
        self.plugins = PluginHost(config, "server", specs)
        self.tokens = TokenStore(token_store_path(config))
        # The installation's database; nothing is opened until start.
        self.storage = Storage.from_config(config)
        # Every service known, kept in the database across restarts (loaded at start).
        self.registry = ServiceRegistry(KnownServiceStore(self.storage))
        self.link = LinkServer(
            self._verify,
            heartbeat=heartbeat,
            on_connect=self._peer_connected,
            on_disconnect=self._peer_disconnected,
            max_frame=config.vortex.max_frame,
        )
        self.link.on("status", self._peer_status)
        # What the process exits with: RESTART_EXIT_CODE to come back on a new generation.
        self.exit_code = 0
        # Plugin generations and their rollout (only when plugins are discovered).
        self.rollout = (
            ServerRollout(
                config,
                self.plugins,
                storage=self.storage,
                link=self.link,
                registry=self.registry,
                verify=self._verify,
                server_name=self.name,
                after_apply=self._plugins_applied,
                request_restart=restart_process(self),
            )
            if self.plugins.managed
            else None
        )
        # Live data and actions; the action journal keeps "once per id" across restarts.
        self.action_journal = FileActionJournal(
            server_dir(config) / "vortex-actions",
            retention=config.vortex.action_retention,
        )
        self.vortex = ServerVortex(self.name, config.vortex, self.action_journal)
        self.vortex.attach(self.link)
        self._admin_token = ""
        # The admin web app: its shell, the plugins' admin pages, the admin login
        # (sessions shared with the admin site's own vortex socket).
        self.admin_app = ShellApp("admin")
        self.ui = UiCatalog(["admin"])
        self.admin_browsers = BrowserGateway(
            AdminVortexHub(self.vortex, self.name),  # type: ignore[arg-type]
            config.vortex,
            self._admin_login,
            cookie=ADMIN_COOKIE,
        )
        self.admin_auth = AdminAuth(config, self.admin_browsers.sessions, lambda: self._admin_token)
        self.admin_site: HttpSite | None = None
        self.exchange_site: HttpSite | None = None
        # Queues plugins' worker tasks (ctx.resources.tasks); made at start.
        self.tasks: TaskClient | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        install_twisted_reactor()
        self._admin_token = await loop.run_in_executor(None, ensure_admin_token, self.config)
        await self.action_journal.open()
        # Connects to the broker on first use: a server without workers starts.
        self.tasks = TaskClient(await loop.run_in_executor(None, make_celery, self.config))
        if self.rollout is not None:
            # The history, a crash's leftovers, the active generation on the path.
            await loop.run_in_executor(None, self.rollout.bootstrap)
            # A rollout this server restarted into goes on (it waits for the plugins).
            await self.rollout.resume()
        lifecycle = await self.plugins.load(
            ServiceResources(
                service_name=self.name, storage=self.storage, vortex=self.vortex, tasks=self.tasks
            ),
            prepare=self._migrate,
        )
        # The platform schema is at head now; before any service connects, every one
        # known before is listed (down until it connects), so rollouts wait for it.
        await loop.run_in_executor(None, self.registry.load)
        self.registry.open()

        await loop.run_in_executor(None, ensure_admin_password, self.config)
        await self.admin_app.load()
        await self.ui.set_plugins(self.plugins.ui_specs())

        admin = web.Application(middlewares=[self.admin_auth.middleware])
        admin.add_routes(health_routes("server", self.plugins))
        admin.add_routes([web.get("/api/status", self._api_status)])
        if self.rollout is not None:
            admin.add_routes(self.rollout.admin_routes(self._require_admin))
        mount_plugin_routes(admin, lifecycle, "admin")
        admin.add_routes(self.admin_auth.routes())
        admin.add_routes(self.admin_browsers.routes())
        admin.add_routes(self.ui.routes())
        admin.add_routes(self.admin_app.routes())  # last: its catch-all serves the shell

        exchange = web.Application(middlewares=[self._service_auth])
        exchange.add_routes(health_routes("server", self.plugins))
        exchange.add_routes([web.get(LINK_PATH, self.link.handle)])
        if self.rollout is not None:
            exchange.add_routes(self.rollout.exchange_routes())
        mount_plugin_routes(exchange, lifecycle, "exchange")

        cfg = self.config.server
        self.admin_site = HttpSite("admin", admin, cfg.host, cfg.admin_port)
        self.exchange_site = HttpSite("exchange", exchange, cfg.host, cfg.exchange_port)
        await self.admin_site.start()
        await self.exchange_site.start()
        await self.plugins.start()
        if self.rollout is not None:
            self.rollout.started()

    async def stop(self) -> None:
        # Close peers first so they start reconnecting to whoever serves next,
        # then stop plugins while nothing new arrives, then the sites.
        if self.rollout is not None:
            await self.rollout.close()
        await self.link.close()
        await self.registry.close()  # the disconnects just recorded, before storage closes
        await self.plugins.stop()
        self.ui.close()
        await self.admin_browsers.close()
        for site in (self.exchange_site, self.admin_site):
            if site is not None:
                await site.stop()
        await self.vortex.close()
        await self.action_journal.close()
        await self.storage.close()
        if self.tasks is not None:
            await self.tasks.close()

    async def _migrate(self, lifecycle: PluginLifecycle, specs: Sequence[PluginSpec]) -> None:
        """Bring the platform's and every runnable plugin's schema to head before any
        plugin loads; a plugin whose migration fails (rolled back) fails with its dependents."""
        runnable = [s for s in specs if s.name not in lifecycle.resolution.failed]
        order = {name: i for i, name in enumerate(lifecycle.resolution.order)}
        runnable.sort(key=lambda s: order.get(s.name, len(order)))
        if self.rollout is not None:
            # Restarted into a generation: what its migrations start from is kept first.
            await asyncio.get_running_loop().run_in_executor(
                None, self.rollout.before_migrations, runnable
            )
        failed = await asyncio.get_running_loop().run_in_executor(
            None,
            migrate_installation,
            self.storage,
            runnable,
            self.config.data_dir / "plugins" / "server",
        )
        for name, error in failed.items():
            lifecycle.fail(name, error)

    def status(self) -> dict[str, Any]:
        """The ``peek status --json`` document: this server and every service it knows."""
        own = {
            "kind": "server",
            "name": self.name,
            "state": "running",
            "plugins": self.plugins.plugins_json(),
            "remote": None,
            "generation": self.rollout.hello_generation() if self.rollout else None,
            "version": peek.__version__,
        }
        return {"services": [own] + [r.as_json() for r in self.registry.records()]}

    # -- admin API -------------------------------------------------------

    async def _admin_login(self, username: str, password: str) -> str | None:
        return await self.admin_auth.authenticate(username, password)

    async def _api_status(self, request: web.Request) -> web.Response:
        self._require_admin(request)
        return web.json_response(self.status())

    def _require_admin(self, request: web.Request) -> str:
        """Authenticate an admin API request; who made it (recorded with generations)."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else ""
        # An admin-site login (cookie, or its session sent as a bearer token) is an
        # admin too; the admin site's middleware has already checked its CSRF token.
        session = bearer or request.cookies.get(ADMIN_COOKIE)
        if session and self.admin_auth.sessions.user(session) is not None:
            return "admin (admin site session)"
        if not bearer or not hmac.compare_digest(bearer.encode(), self._admin_token.encode()):
            log.warning("refused admin API request from %s", request.remote)
            raise web.HTTPUnauthorized(
                text="admin credentials required",
                headers={"WWW-Authenticate": 'Bearer realm="peek-admin"'},
            )
        return "admin (local admin token)"

    @web.middleware
    async def _service_auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # Plugins' exchange routes answer only services holding a token; the
        # link checks its own token before the WebSocket upgrade.
        if request.path.startswith(PLUGIN_ROUTE_PREFIX + "/"):
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            info = await self._verify(token) if scheme.lower() == "bearer" and token else None
            if info is None:
                log.warning(
                    "refused %s %s from %s: no valid service token",
                    request.method,
                    request.path,
                    request.remote,
                )
                raise web.HTTPUnauthorized(
                    text="a valid service token is required",
                    headers={"WWW-Authenticate": 'Bearer realm="peek-link"'},
                )
            request[SERVICE_KEY] = info
        response: web.StreamResponse = await handler(request)
        return response

    async def _plugins_applied(self, restarted: frozenset[str]) -> None:
        # A rollout switched the plugin set: open admin pages get the new pages.
        await self.ui.set_plugins(self.plugins.ui_specs())

    # -- link ------------------------------------------------------------

    async def _verify(self, token: str) -> TokenInfo | None:
        return await asyncio.get_running_loop().run_in_executor(None, self.tokens.verify, token)

    def _peer_connected(self, peer: Peer) -> None:
        self.registry.connected(peer.kind, peer.name, peer.remote, peer.hello)
        if self.rollout is not None:
            self.rollout.coordinator.peer_connected(peer)

    def _peer_disconnected(self, peer: Peer) -> None:
        self.registry.disconnected(peer.kind, peer.name)
        self.vortex.peer_gone(peer)
        if self.rollout is not None:
            self.rollout.coordinator.peer_disconnected(peer)

    def _peer_status(self, peer: Peer, message: dict[str, Any]) -> None:
        self.registry.update(peer.kind, peer.name, message)
