"""Checks on usernames and passwords, shared by the server and the client."""

from __future__ import annotations

import re

from peek_plugin_user.server import MAX_PASSWORD_LENGTH, InvalidPassword, InvalidUsername

__all__ = ["MAX_USERNAME_LENGTH", "check_password", "fold_username"]

MAX_USERNAME_LENGTH = 64
_USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")


def fold_username(username: object) -> str:
    """``username`` in lower case, the form it is stored in; raises :class:`InvalidUsername`."""
    if not isinstance(username, str):
        raise InvalidUsername(repr(username), "must be a string")
    if not username:
        raise InvalidUsername(username, "must not be empty")
    # ASCII first: str.lower() maps some non-ASCII letters (the Kelvin sign) to ASCII ones.
    if not username.isascii():
        raise InvalidUsername(username, "only ASCII letters, digits, '.', '_' and '-' are allowed")
    folded = username.lower()
    if len(folded) > MAX_USERNAME_LENGTH:
        raise InvalidUsername(username, f"longer than {MAX_USERNAME_LENGTH} characters")
    if not _USERNAME_RE.fullmatch(folded):
        raise InvalidUsername(
            username,
            "only letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit",
        )
    return folded


def check_password(password: object) -> str:
    """``password`` if it may be set; raises :class:`InvalidPassword`."""
    if not isinstance(password, str):
        raise InvalidPassword("must be a string")
    if not password:
        raise InvalidPassword("must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidPassword(f"longer than {MAX_PASSWORD_LENGTH} characters")
    return password
