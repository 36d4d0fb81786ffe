"""user on the server: the directory, published as the ``user`` API and served on the exchange site.

Exchange routes (below ``/plugins/user``; the server demands a service token):

- ``POST /authenticate`` ``{"username", "password"}`` -> ``{"user": {...} | null}``
- ``GET /users`` -> ``{"users": [{...}, ...]}``
- ``GET /users/{username}`` -> ``{"user": {...} | null}``

An unknown user is ``null`` with 200 rather than 404, so that a client can
tell "no such user" from "the user plugin does not run on the server".
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from peek.errors import ConfigError
from peek.plugin import PluginContext, PluginHook, hookimpl
from peek_plugin_user._private.config import UserConfig
from peek_plugin_user._private.directory import UserDirectory
from peek_plugin_user._private.wire import user_to_json


class ServerHook(PluginHook):
    def __init__(self) -> None:
        self.directory: UserDirectory | None = None

    async def load(self, ctx: PluginContext) -> None:
        config = UserConfig.parse(ctx.config)
        # The platform ran the plugin's migrations (tables, and the import of a
        # users.json from before them) before this load.
        directory = UserDirectory(ctx.storage, config.hash_params.hasher(), ctx.logger)
        await directory.open()
        if config.initial_admin and not await directory.list_users():
            await _create_initial_admin(directory, config)
        self.directory = directory
        ctx.publish(directory)

    def unload(self, ctx: PluginContext) -> None:
        self.directory = None

    @hookimpl
    def peek_site_routes(self, site: str) -> Iterable[web.RouteDef] | None:
        if site == "exchange":
            return [
                web.post("/authenticate", self.authenticate),
                web.get("/users", self.list_users),
                web.get("/users/{username}", self.get_user),
            ]
        return None

    async def authenticate(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise web.HTTPBadRequest(text="'username' and 'password' must be strings")
        user = await self._directory().authenticate(username, password)
        return web.json_response({"user": user_to_json(user)})

    async def list_users(self, request: web.Request) -> web.Response:
        users = await self._directory().list_users()
        return web.json_response({"users": [user_to_json(user) for user in users]})

    async def get_user(self, request: web.Request) -> web.Response:
        user = await self._directory().get_user(request.match_info["username"])
        return web.json_response({"user": user_to_json(user)})

    def _directory(self) -> UserDirectory:
        if self.directory is None:
            raise web.HTTPServiceUnavailable(text="the user directory is not loaded")
        return self.directory


async def _create_initial_admin(directory: UserDirectory, config: UserConfig) -> None:
    assert config.initial_admin is not None and config.initial_admin_password_file is not None
    password_file = config.initial_admin_password_file
    try:
        text = await asyncio.get_running_loop().run_in_executor(
            None, lambda: password_file.read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise ConfigError(
            "[plugin.peek_plugin_user]",
            [("initial_admin_password_file", f"cannot read {password_file}: {exc.strerror}")],
        ) from None
    await directory.create_user(config.initial_admin, text.rstrip("\r\n"), is_admin=True)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body
