"""user on the client: the ``user`` API, answered by the server over the exchange site."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from peek.plugin import PluginContext, PluginHook, ServerCalls
from peek_plugin_user._private.validate import fold_username
from peek_plugin_user._private.wire import user_from_json, users_from_json
from peek_plugin_user.server import (
    MAX_PASSWORD_LENGTH,
    InvalidUsername,
    User,
    UserApiReadOnly,
    UserError,
)

ROUTES = "/plugins/user"


class ClientHook(PluginHook):
    def load(self, ctx: PluginContext) -> None:
        server = ctx.resources.server if ctx.resources is not None else None
        ctx.publish(ClientUserApi(server, ctx.service))


class ClientUserApi:
    """The ``user`` API on the client (implements :class:`peek_plugin_user.server.UserApi`).

    Nothing is kept here: every read and login asks the server, so a user
    created or removed there counts at once. Errors of the call itself (the
    server unreachable, a refused token) propagate as the service's
    ``ExchangeError``. Writes raise :class:`UserApiReadOnly`.
    """

    def __init__(self, server: ServerCalls | None, service: str) -> None:
        self._server = server
        self._service = service

    async def authenticate(self, username: str, password: str) -> User | None:
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return None
        try:
            name = fold_username(username)
        except InvalidUsername:
            return None
        reply = await self._call("POST", "/authenticate", {"username": name, "password": password})
        return user_from_json(reply.get("user"))

    async def get_user(self, username: str) -> User | None:
        try:
            name = fold_username(username)
        except InvalidUsername:
            return None
        reply = await self._call("GET", f"/users/{quote(name, safe='')}")
        return user_from_json(reply.get("user"))

    async def list_users(self) -> list[User]:
        reply = await self._call("GET", "/users")
        return users_from_json(reply.get("users"))

    async def create_user(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        *,
        is_admin: bool = False,
    ) -> User:
        raise UserApiReadOnly("create_user", self._service)

    async def set_password(self, username: str, password: str) -> None:
        raise UserApiReadOnly("set_password", self._service)

    async def delete_user(self, username: str) -> None:
        raise UserApiReadOnly("delete_user", self._service)

    async def _call(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        if self._server is None:
            raise UserError(f"the {self._service} has no link to the server to ask about users")
        reply = await self._server.call(method, ROUTES + path, json=json)
        if not isinstance(reply, dict):
            raise UserError(f"unexpected reply from the server to {method} {path}: {reply!r}")
        return reply
