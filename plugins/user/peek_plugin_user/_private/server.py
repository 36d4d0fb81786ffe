"""user on the server: the directory, published as the ``user`` API and served on the exchange site.

Exchange routes (below ``/plugins/user``; the server demands a service token):

- ``POST /authenticate`` ``{"username", "password"}`` -> ``{"user": {...} | null}``
- ``GET /users`` -> ``{"users": [{...}, ...]}``
- ``GET /users/{username}`` -> ``{"user": {...} | null}``

An unknown user is ``null`` with 200 rather than 404, so that a client can
tell "no such user" from "the user plugin does not run on the server".

Admin routes (below ``/plugins/user`` on the admin site, which lets only the
logged-in admin through and checks CSRF tokens), used by the admin app's Users page:

- ``GET /users`` -> ``{"users": [...]}``
- ``POST /users`` ``{"username", "password", "display_name"?, "is_admin"?}`` -> 201 ``{"user"}``
- ``PUT /users/{username}/password`` ``{"password"}`` -> 204
- ``DELETE /users/{username}`` -> 204

Refusals are ``{"error": <message>}`` with 400 (invalid input), 404 (no such
user) or 409 (the user exists already).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from aiohttp import web

from peek.errors import ConfigError
from peek.plugin import PluginContext, PluginHook, hookimpl
from peek_plugin_user._private.config import UserConfig
from peek_plugin_user._private.directory import UserDirectory
from peek_plugin_user._private.wire import user_to_json
from peek_plugin_user.server import UnknownUser, UserError, UserExists


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
        if site == "admin":
            return [
                web.get("/users", self.list_users),
                web.post("/users", self.create_user),
                web.put("/users/{username}/password", self.set_password),
                web.delete("/users/{username}", self.delete_user),
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

    async def create_user(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        username, password = body.get("username"), body.get("password")
        display_name, is_admin = body.get("display_name"), body.get("is_admin", False)
        if not isinstance(username, str) or not isinstance(password, str):
            return _refused(400, "'username' and 'password' must be strings")
        if display_name is not None and not isinstance(display_name, str):
            return _refused(400, "'display_name' must be a string")
        if not isinstance(is_admin, bool):
            return _refused(400, "'is_admin' must be true or false")
        with _refusals():
            user = await self._directory().create_user(
                username, password, display_name or None, is_admin=is_admin
            )
        return web.json_response({"user": user_to_json(user)}, status=201)

    async def set_password(self, request: web.Request) -> web.Response:
        password = (await _json_body(request)).get("password")
        if not isinstance(password, str):
            return _refused(400, "'password' must be a string")
        with _refusals():
            await self._directory().set_password(request.match_info["username"], password)
        return web.Response(status=204)

    async def delete_user(self, request: web.Request) -> web.Response:
        with _refusals():
            await self._directory().delete_user(request.match_info["username"])
        return web.Response(status=204)

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


def _refused(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """The user API's own errors as HTTP answers that say what was wrong."""
    try:
        yield
    except UnknownUser as exc:
        raise web.HTTPNotFound(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from None
    except UserExists as exc:
        raise web.HTTPConflict(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from None
    except UserError as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": str(exc)}), content_type="application/json"
        ) from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body
