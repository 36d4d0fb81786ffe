"""The server's knowledge of every service: which are connected and what each runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServiceRecord", "ServiceRegistry"]


@dataclass
class ServiceRecord:
    kind: str
    name: str
    state: str  # "running" or "down"
    plugins: list[dict[str, Any]] = field(default_factory=list)
    remote: str | None = None
    version: str | None = None
    since: float = field(default_factory=time.time)
    # The plugin generation it runs (None: not managed by a rollout yet).
    generation: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "plugins": self.plugins,
            "remote": self.remote,
            "version": self.version,
            "since": self.since,
            "generation": self.generation,
        }


class ServiceRegistry:
    """Connected services by (kind, name); a service that drops stays listed as down."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str], ServiceRecord] = {}

    def connected(self, kind: str, name: str, remote: str, hello: dict[str, Any]) -> None:
        self._records[(kind, name)] = ServiceRecord(
            kind=kind,
            name=name,
            state="running",
            plugins=_plugins(hello),
            remote=remote,
            version=str(hello.get("version") or "") or None,
            generation=_generation(hello),
        )

    def update(self, kind: str, name: str, message: dict[str, Any]) -> None:
        record = self._records.get((kind, name))
        if record is not None:
            record.plugins = _plugins(message)
            if "generation" in message:
                record.generation = _generation(message)

    def disconnected(self, kind: str, name: str) -> None:
        record = self._records.get((kind, name))
        if record is not None:
            record.state = "down"
            record.since = time.time()

    def forget(self, kind: str, name: str) -> None:
        self._records.pop((kind, name), None)

    def down(self) -> list[tuple[str, str]]:
        """(kind, name) of every service that was connected and is not now."""
        return [key for key, record in self._records.items() if record.state == "down"]

    def records(self) -> list[ServiceRecord]:
        order = {"server": 0, "client": 1, "agent": 2, "worker": 3}
        return sorted(self._records.values(), key=lambda r: (order.get(r.kind, 9), r.name))


def _plugins(message: dict[str, Any]) -> list[dict[str, Any]]:
    plugins = message.get("plugins")
    if not isinstance(plugins, list):
        return []
    return [
        {
            "name": str(p.get("name", "")),
            "version": str(p.get("version", "")),
            "state": p.get("state")
            if p.get("state") in ("started", "failed", "stopped")
            else "stopped",
            "error": p.get("error") if isinstance(p.get("error"), str) else None,
        }
        for p in plugins
        if isinstance(p, dict)
    ]


def _generation(message: dict[str, Any]) -> int | None:
    value = message.get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
