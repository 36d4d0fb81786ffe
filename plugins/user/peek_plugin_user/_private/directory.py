"""The user directory on the server: accounts in the plugin's tables, passwords hashed
with argon2id."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from peek.plugin.storage import PluginStorage
from peek_plugin_user._private.storage import UserAccount
from peek_plugin_user._private.validate import check_password, fold_username
from peek_plugin_user.server import (
    MAX_PASSWORD_LENGTH,
    InvalidDisplayName,
    InvalidUsername,
    UnknownUser,
    User,
    UserExists,
)

__all__ = ["UserDirectory"]

MAX_DISPLAY_NAME_LENGTH = 200

R = TypeVar("R")


def _user(account: UserAccount) -> User:
    return User(account.username, account.display_name, account.is_admin)


class UserDirectory:
    """The ``user`` API on the server (implements :class:`peek_plugin_user.server.UserApi`).

    Every call reads or writes the plugin's ``user_account`` table through an
    async session; hashing runs in the default executor. Must be used from the
    event loop; call :meth:`open` before anything else.
    """

    def __init__(
        self, storage: PluginStorage, hasher: argon2.PasswordHasher, logger: logging.Logger
    ) -> None:
        self._storage = storage
        self._hasher = hasher
        self._log = logger
        self._dummy_hash = ""

    async def open(self) -> None:
        """Prepare the directory (its tables were made by its migrations)."""
        # Verified against when the username is unknown, so that a refusal
        # takes as long for a missing user as for a wrong password.
        self._dummy_hash = await _off_loop(self._hasher.hash, secrets.token_urlsafe(16))

    # -- reads -----------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> User | None:
        try:
            name = fold_username(username)
        except InvalidUsername:
            name = ""
        account = await self._account(name) if name else None
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return None
        if account is None:
            await _off_loop(self._verify, self._dummy_hash, password)
            return None
        if not await _off_loop(self._verify, account.password_hash, password):
            return None
        if self._hasher.check_needs_rehash(account.password_hash):
            await self._rehash(account, password)
        return _user(account)

    async def get_user(self, username: str) -> User | None:
        try:
            account = await self._account(fold_username(username))
        except InvalidUsername:
            return None
        return _user(account) if account else None

    async def list_users(self) -> list[User]:
        async with self._storage.session() as session:
            accounts = await session.scalars(select(UserAccount).order_by(UserAccount.username))
            return [_user(account) for account in accounts]

    # -- writes ----------------------------------------------------------

    async def create_user(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        *,
        is_admin: bool = False,
    ) -> User:
        name = fold_username(username)
        check_password(password)
        display = _display_name(name, display_name)
        if await self._account(name) is not None:
            raise UserExists(name)
        password_hash = await _off_loop(self._hasher.hash, password)
        account = UserAccount(
            username=name,
            display_name=display,
            is_admin=bool(is_admin),
            password_hash=password_hash,
        )
        try:
            async with self._storage.session() as session, session.begin():
                session.add(account)
        except IntegrityError:
            # Created by a concurrent call between the check and the insert.
            raise UserExists(name) from None
        self._log.info("created user %s%s", name, " (admin)" if is_admin else "")
        return _user(account)

    async def set_password(self, username: str, password: str) -> None:
        name = fold_username(username)
        check_password(password)
        if await self._account(name) is None:
            raise UnknownUser(name)
        password_hash = await _off_loop(self._hasher.hash, password)
        async with self._storage.session() as session, session.begin():
            result = await session.execute(
                update(UserAccount)
                .where(UserAccount.username == name)
                .values(password_hash=password_hash)
            )
        if _rowcount(result) == 0:
            raise UnknownUser(name)
        self._log.info("changed the password of user %s", name)

    async def delete_user(self, username: str) -> None:
        name = fold_username(username)
        async with self._storage.session() as session, session.begin():
            result = await session.execute(delete(UserAccount).where(UserAccount.username == name))
        if _rowcount(result) == 0:
            raise UnknownUser(name)
        self._log.info("deleted user %s", name)

    # -- internals -------------------------------------------------------

    async def _account(self, name: str) -> UserAccount | None:
        async with self._storage.session() as session:
            return await session.get(UserAccount, name)

    def _verify(self, password_hash: str, password: str) -> bool:
        """Blocking (argon2 is slow on purpose)."""
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            self._log.error("a stored password hash cannot be checked; refusing the login")
            return False

    async def _rehash(self, account: UserAccount, password: str) -> None:
        """Store a hash with the current parameters, now that we know the password."""
        name = account.username
        new_hash = await _off_loop(self._hasher.hash, password)
        async with self._storage.session() as session, session.begin():
            # Only if unchanged meanwhile: a concurrent change wins.
            result = await session.execute(
                update(UserAccount)
                .where(
                    UserAccount.username == name,
                    UserAccount.password_hash == account.password_hash,
                )
                .values(password_hash=new_hash)
            )
        if _rowcount(result):
            self._log.info("upgraded the password hash of user %s to the current parameters", name)


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count


async def _off_loop(fn: Callable[..., R], *args: Any) -> R:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))


def _display_name(username: str, display_name: object) -> str:
    if display_name is None:
        return username
    if not isinstance(display_name, str):
        raise InvalidDisplayName(f"must be a string, not {type(display_name).__name__}")
    display = display_name.strip()
    if len(display) > MAX_DISPLAY_NAME_LENGTH:
        raise InvalidDisplayName(f"longer than {MAX_DISPLAY_NAME_LENGTH} characters")
    return display or username
