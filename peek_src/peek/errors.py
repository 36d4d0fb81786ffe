"""The ground floor of Peek's errors: one base class per area, data kept on the error."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "PeekError",
]


class PeekError(Exception):
    """Base of every error Peek raises on purpose."""


class ConfigError(PeekError):
    """The configuration could not be read or is invalid.

    ``problems`` holds one ``(key, message)`` pair per invalid key, with keys
    spelled as in the TOML file (``server.admin_port``).
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {key}: {message}" for key, message in problems)
        super().__init__(f"invalid configuration ({source}):\n{lines}")
