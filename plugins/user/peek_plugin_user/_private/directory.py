"""The user directory on the server: accounts in a JSON file, passwords hashed with argon2id."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from peek_plugin_user._private.storage import JsonFile, StoreCorrupt
from peek_plugin_user._private.validate import check_password, fold_username
from peek_plugin_user.server import (
    MAX_PASSWORD_LENGTH,
    InvalidDisplayName,
    InvalidUsername,
    UnknownUser,
    User,
    UserExists,
)

__all__ = ["USERS_FILE", "UserDirectory"]

USERS_FILE = "users.json"
FORMAT = 1
MAX_DISPLAY_NAME_LENGTH = 200

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class _Account:
    user: User
    password_hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "username": self.user.username,
            "display_name": self.user.display_name,
            "is_admin": self.user.is_admin,
            "password_hash": self.password_hash,
        }


class UserDirectory:
    """The ``user`` API on the server (implements :class:`peek_plugin_user.server.UserApi`).

    Reads are answered from memory. Writes are serialised, written to the
    file, and only then made visible, so memory never holds what the file
    does not. Hashing and file I/O run in the default executor. Must be used
    from the event loop; call :meth:`open` before anything else.
    """

    def __init__(
        self, file: JsonFile, hasher: argon2.PasswordHasher, logger: logging.Logger
    ) -> None:
        self._file = file
        self._hasher = hasher
        self._log = logger
        self._accounts: dict[str, _Account] = {}
        self._write_lock = asyncio.Lock()
        self._dummy_hash = ""

    async def open(self) -> None:
        """Read the users file (if any)."""
        self._accounts = _parse(self._file, await self._file.read())
        # Verified against when the username is unknown, so that a refusal
        # takes as long for a missing user as for a wrong password.
        self._dummy_hash = await _off_loop(self._hasher.hash, secrets.token_urlsafe(16))

    # -- reads -----------------------------------------------------------

    async def authenticate(self, username: str, password: str) -> User | None:
        try:
            name = fold_username(username)
        except InvalidUsername:
            name = ""
        account = self._accounts.get(name)
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            return None
        if account is None:
            await _off_loop(self._verify, self._dummy_hash, password)
            return None
        if not await _off_loop(self._verify, account.password_hash, password):
            return None
        if self._hasher.check_needs_rehash(account.password_hash):
            await self._rehash(account, password)
        return account.user

    async def get_user(self, username: str) -> User | None:
        try:
            account = self._accounts.get(fold_username(username))
        except InvalidUsername:
            return None
        return account.user if account else None

    async def list_users(self) -> list[User]:
        return [self._accounts[name].user for name in sorted(self._accounts)]

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
        if name in self._accounts:
            raise UserExists(name)
        password_hash = await _off_loop(self._hasher.hash, password)
        async with self._write_lock:
            if name in self._accounts:
                raise UserExists(name)
            account = _Account(User(name, display, bool(is_admin)), password_hash)
            await self._commit({**self._accounts, name: account})
        self._log.info("created user %s%s", name, " (admin)" if is_admin else "")
        return account.user

    async def set_password(self, username: str, password: str) -> None:
        name = fold_username(username)
        check_password(password)
        if name not in self._accounts:
            raise UnknownUser(name)
        password_hash = await _off_loop(self._hasher.hash, password)
        async with self._write_lock:
            account = self._accounts.get(name)
            if account is None:
                raise UnknownUser(name)
            await self._commit(
                {**self._accounts, name: replace(account, password_hash=password_hash)}
            )
        self._log.info("changed the password of user %s", name)

    async def delete_user(self, username: str) -> None:
        name = fold_username(username)
        async with self._write_lock:
            if name not in self._accounts:
                raise UnknownUser(name)
            await self._commit({n: a for n, a in self._accounts.items() if n != name})
        self._log.info("deleted user %s", name)

    # -- internals -------------------------------------------------------

    def _verify(self, password_hash: str, password: str) -> bool:
        """Blocking (argon2 is slow on purpose)."""
        try:
            return self._hasher.verify(password_hash, password)
        except VerifyMismatchError:
            return False
        except (VerificationError, InvalidHashError):
            self._log.error("a stored password hash cannot be checked; refusing the login")
            return False

    async def _rehash(self, account: _Account, password: str) -> None:
        """Store a hash with the current parameters, now that we know the password."""
        name = account.user.username
        new_hash = await _off_loop(self._hasher.hash, password)
        async with self._write_lock:
            current = self._accounts.get(name)
            if current is None or current.password_hash != account.password_hash:
                return  # changed meanwhile; that change wins
            try:
                await self._commit(
                    {**self._accounts, name: replace(current, password_hash=new_hash)}
                )
            except OSError:
                # The login itself succeeded; the upgrade is retried next time.
                self._log.warning("could not store the upgraded hash of %s", name, exc_info=True)
                return
        self._log.info("upgraded the password hash of user %s to the current parameters", name)

    async def _commit(self, accounts: dict[str, _Account]) -> None:
        document = {
            "format": FORMAT,
            "users": [accounts[name].as_json() for name in sorted(accounts)],
        }
        await self._file.write(document)
        self._accounts = accounts


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


def _parse(file: JsonFile, document: Any) -> dict[str, _Account]:
    if document is None:
        return {}
    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise StoreCorrupt(file.path, f"not a format {FORMAT} users file")
    accounts: dict[str, _Account] = {}
    for entry in document.get("users", []):
        try:
            user = User(
                username=fold_username(entry["username"]),
                display_name=str(entry["display_name"]),
                is_admin=bool(entry["is_admin"]),
            )
            password_hash = entry["password_hash"]
            if not isinstance(password_hash, str):
                raise TypeError("password_hash must be a string")
        except (KeyError, TypeError, InvalidUsername) as exc:
            raise StoreCorrupt(file.path, f"bad user entry: {exc!r}") from None
        accounts[user.username] = _Account(user, password_hash)
    return accounts
