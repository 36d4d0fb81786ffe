"""The public API noop publishes on the server, for plugins that require ``noop``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["NoopApi"]


@dataclass
class NoopApi:
    """What noop publishes on each service: who it is and which phases ran."""

    service: str
    phases: list[str] = field(default_factory=list)

    def ping(self) -> str:
        """Answer ``pong from <service>``: proof that the API lookup reached noop."""
        return f"pong from {self.service}"
