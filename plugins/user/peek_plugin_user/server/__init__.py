"""The public API of ``user``: what ``ctx.api("user")`` returns, for plugins that require it.

On the server the API keeps the users; on the client the same interface is
answered by the server and refuses writes (:class:`UserApiReadOnly`)::

    # plugin.toml:  [requires] user = ">=0.1"
    from peek_plugin_user.server import UserApi

    users: UserApi = ctx.api("user")
    user = await users.authenticate("alice", password)
    if user is None:
        ...  # unknown user or wrong password: the caller cannot tell which

Usernames are case-insensitive: every method folds them to lower case, and
:attr:`User.username` is always the folded form. A valid username is 1 to 64
characters of ``a-z``, ``0-9``, ``.``, ``_`` and ``-``, starting with a letter
or digit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from peek.errors import PeekError

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "InvalidDisplayName",
    "InvalidPassword",
    "InvalidUsername",
    "UnknownUser",
    "User",
    "UserApi",
    "UserApiReadOnly",
    "UserError",
    "UserExists",
]

# Hashing is deliberately expensive; refuse inputs that would make it more so.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class User:
    """One user as other plugins see it. Never carries the password or its hash."""

    username: str
    display_name: str
    is_admin: bool = False


@runtime_checkable
class UserApi(Protocol):
    """The ``user`` API. Every method must run in the event loop; none blocks it."""

    async def create_user(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        *,
        is_admin: bool = False,
    ) -> User:
        """Add a user; ``display_name`` defaults to the username.

        Raises :class:`InvalidUsername`, :class:`InvalidPassword`,
        :class:`InvalidDisplayName`, :class:`UserExists`, or :class:`UserApiReadOnly` on the client.
        """
        ...

    async def authenticate(self, username: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else ``None`` (unknown user, wrong
        password and malformed username all look the same)."""
        ...

    async def get_user(self, username: str) -> User | None:
        """The user named ``username``, or ``None``."""
        ...

    async def list_users(self) -> list[User]:
        """Every user, sorted by username."""
        ...

    async def set_password(self, username: str, password: str) -> None:
        """Replace a user's password.

        Raises :class:`UnknownUser`, :class:`InvalidPassword`, or
        :class:`UserApiReadOnly` on the client.
        """
        ...

    async def delete_user(self, username: str) -> None:
        """Remove a user. Raises :class:`UnknownUser`, or :class:`UserApiReadOnly` on the client."""
        ...


class UserError(PeekError):
    """Base of the errors the ``user`` API raises on purpose."""


class InvalidUsername(UserError, ValueError):
    """``username`` cannot name a user; ``reason`` says why."""

    def __init__(self, username: str, reason: str) -> None:
        self.username = username
        self.reason = reason
        super().__init__(f"invalid username {username!r}: {reason}")


class InvalidPassword(UserError, ValueError):
    """The password is unacceptable (empty or too long); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid password: {reason}")


class InvalidDisplayName(UserError, ValueError):
    """The display name is unacceptable (not a string, or too long); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid display name: {reason}")


class UserExists(UserError):
    """A user with this name exists already."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"user {username!r} exists already")


class UnknownUser(UserError, LookupError):
    """No user has this name."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"no user named {username!r}")


class UserApiReadOnly(UserError):
    """A write (``operation``) was asked of the ``user`` API on a service that only reads.

    Users are administered on the server; the client's API answers reads and
    logins through the server and refuses writes rather than forward them,
    so that nothing facing browsers can change the directory by accident.
    """

    def __init__(self, operation: str, service: str) -> None:
        self.operation = operation
        self.service = service
        super().__init__(
            f"the user API is read-only on the {service}: {operation} must run on the server"
        )
