"""How users travel between the server's exchange routes and the client, as JSON."""

from __future__ import annotations

from typing import Any

from peek_plugin_user.server import User, UserError

__all__ = ["user_from_json", "user_to_json", "users_from_json"]


def user_to_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"username": user.username, "display_name": user.display_name, "is_admin": user.is_admin}


def user_from_json(data: Any) -> User | None:
    """The user in a reply from the server; raises :class:`UserError` on a malformed one."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UserError(f"unexpected user in the server's reply: {data!r}")
    username, display_name, is_admin = (
        data.get("username"),
        data.get("display_name"),
        data.get("is_admin"),
    )
    if not (
        isinstance(username, str) and isinstance(display_name, str) and isinstance(is_admin, bool)
    ):
        raise UserError(f"unexpected user in the server's reply: {data!r}")
    return User(username=username, display_name=display_name, is_admin=is_admin)


def users_from_json(data: Any) -> list[User]:
    """The users in a reply from the server; raises :class:`UserError` on a malformed one."""
    if not isinstance(data, list):
        raise UserError(f"unexpected user list in the server's reply: {data!r}")
    users = []
    for item in data:
        user = user_from_json(item)
        if user is None:
            raise UserError("unexpected null in the server's user list")
        users.append(user)
    return users
