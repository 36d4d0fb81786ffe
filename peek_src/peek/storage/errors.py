"""Errors of the storage area: one base, data kept on the error."""

from __future__ import annotations

from peek.errors import PeekError
from peek.plugin.errors import PluginError

__all__ = [
    "InvalidNamespace",
    "MigrationFailed",
    "NoSuchHistory",
    "RevisionFailed",
    "StorageError",
    "UnsupportedDatabase",
]


class StorageError(PeekError):
    """Base of every error the storage area raises on purpose."""


class UnsupportedDatabase(StorageError):
    """``server.database_url`` names a database Peek does not run on."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"server.database_url {url!r}: {reason}")


class InvalidNamespace(StorageError):
    """A namespace (plugin) name cannot be used as a schema, role or file name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"{name!r} cannot name a database namespace: use 1 to 63 characters of a-z, 0-9 "
            "and '_', starting with a letter or '_'"
        )


class NoSuchHistory(StorageError):
    """``peek db ... --plugin NAME`` names a plugin that is not installed or has no migrations."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"no migration history for {name}: {reason}")


class MigrationFailed(StorageError, PluginError):
    """Migrating ``history`` (a plugin, or ``peek`` for the platform) to ``target`` failed.

    The transaction was rolled back: the namespace is as it was before.
    ``cause`` is the original exception.
    """

    def __init__(self, history: str, target: str, cause: BaseException) -> None:
        self.history = history
        self.target = target
        self.cause = cause
        PluginError.__init__(
            self,
            history,
            f"migrating {history} to {target} failed and was rolled back: "
            f"{type(cause).__name__}: {cause}",
        )


class RevisionFailed(StorageError):
    """A revision script for ``history`` could not be written; ``reason`` says why."""

    def __init__(self, history: str, reason: str) -> None:
        self.history = history
        self.reason = reason
        super().__init__(f"cannot write a revision for {history}: {reason}")
