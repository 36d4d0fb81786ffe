"""The ``[plugin.peek_plugin_user]`` configuration table, parsed once at load.

::

    [plugin.peek_plugin_user]
    # Created at load when the directory has no users yet. The password comes
    # from a file (a systemd credential, say), never from the config itself.
    initial_admin = "admin"
    initial_admin_password_file = "/run/credentials/peek-server.service/admin-password"

    [plugin.peek_plugin_user.argon2]   # optional; argon2-cffi's defaults otherwise
    time_cost = 3
    memory_cost = 65536                # KiB
    parallelism = 4

Changing the argon2 parameters is safe: each user's hash is upgraded the
next time they log in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import argon2
from argon2.profiles import RFC_9106_LOW_MEMORY

from peek.errors import ConfigError

__all__ = ["HashParams", "UserConfig"]

SECTION = "plugin.peek_plugin_user"


@dataclass(frozen=True, slots=True)
class HashParams:
    """argon2id cost parameters (memory in KiB)."""

    # argon2-cffi's own defaults (RFC 9106, low-memory profile).
    time_cost: int = RFC_9106_LOW_MEMORY.time_cost
    memory_cost: int = RFC_9106_LOW_MEMORY.memory_cost
    parallelism: int = RFC_9106_LOW_MEMORY.parallelism

    def hasher(self) -> argon2.PasswordHasher:
        return argon2.PasswordHasher(
            time_cost=self.time_cost, memory_cost=self.memory_cost, parallelism=self.parallelism
        )


@dataclass(frozen=True, slots=True)
class UserConfig:
    initial_admin: str | None = None
    initial_admin_password_file: Path | None = None
    hash_params: HashParams = HashParams()

    @classmethod
    def parse(cls, table: Mapping[str, Any]) -> UserConfig:
        """Validate the table; raises :class:`ConfigError` naming every bad key."""
        problems: list[tuple[str, str]] = []
        known = {"initial_admin", "initial_admin_password_file", "argon2"}
        problems += [(f"{SECTION}.{key}", "unknown key") for key in sorted(set(table) - known)]

        admin = table.get("initial_admin")
        if admin is not None and not isinstance(admin, str):
            problems.append((f"{SECTION}.initial_admin", "must be a username"))
            admin = None
        password_file = table.get("initial_admin_password_file")
        if password_file is not None and not isinstance(password_file, str):
            problems.append((f"{SECTION}.initial_admin_password_file", "must be a path"))
            password_file = None
        if admin and not password_file:
            problems.append(
                (f"{SECTION}.initial_admin_password_file", "is required with initial_admin")
            )

        params = HashParams()
        hashing = table.get("argon2", {})
        if not isinstance(hashing, Mapping):
            problems.append((f"{SECTION}.argon2", "must be a table"))
            hashing = {}
        values: dict[str, int] = {}
        for key in sorted(hashing):
            value = hashing[key]
            if key not in ("time_cost", "memory_cost", "parallelism"):
                problems.append((f"{SECTION}.argon2.{key}", "unknown key"))
            elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                problems.append((f"{SECTION}.argon2.{key}", "must be a positive integer"))
            else:
                values[key] = value
        if values:
            params = HashParams(**values)
        if params.memory_cost < 8 * params.parallelism:
            problems.append(
                (
                    f"{SECTION}.argon2.memory_cost",
                    "must be at least 8 KiB per lane (8 * parallelism)",
                )
            )

        if problems:
            raise ConfigError(f"[{SECTION}]", problems)
        return cls(
            initial_admin=admin or None,
            initial_admin_password_file=Path(password_file) if password_file else None,
            hash_params=params,
        )
