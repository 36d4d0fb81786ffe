"""The services the server has known, kept in the platform database across server restarts.

One row per service (kind, name) in ``known_service`` (``peek.storage.models``):
when it was last seen (connected or disconnected), the plugin generation and
Peek version it last reported, and where it connected from. The server loads
them at start as ``down`` (:meth:`ServiceRegistry.load
<peek.services.registry.ServiceRegistry.load>`), so a service that is down
while the server restarts is still listed and still blocks rollouts until it
reconnects or an administrator forgets it (which deletes its row).

A server killed without stopping leaves ``last_seen`` at the service's last
connect. All methods block: call them in an executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update

from peek.storage import Storage
from peek.storage.models import known_service

__all__ = ["KnownService", "KnownServiceStore"]


@dataclass(frozen=True)
class KnownService:
    """A service as the database keeps it (what the server knew when it last changed)."""

    kind: str
    name: str
    last_seen: datetime
    generation: int | None = None
    version: str | None = None
    remote: str | None = None


class KnownServiceStore:
    """The ``known_service`` rows of one installation's platform database."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def all(self) -> list[KnownService]:
        """Every known service, by kind then name."""
        table = known_service
        with self.storage.engine().connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.kind, table.c.name)).all()
        return [
            KnownService(
                kind=row.kind,
                name=row.name,
                last_seen=_aware(row.last_seen),
                generation=row.generation,
                version=row.version,
                remote=row.remote,
            )
            for row in rows
        ]

    def save(self, service: KnownService) -> None:
        """Record ``service`` (a new row, or the one of the same kind and name replaced)."""
        table = known_service
        values = {
            "last_seen": service.last_seen,
            "generation": service.generation,
            "version": service.version,
            "remote": service.remote,
        }
        key = (table.c.kind == service.kind) & (table.c.name == service.name)
        # One writer (the server's registry) at a time, so update-then-insert cannot race.
        with self.storage.engine().begin() as conn:
            if conn.execute(update(table).where(key).values(**values)).rowcount == 0:
                conn.execute(insert(table).values(kind=service.kind, name=service.name, **values))

    def delete(self, kind: str, name: str) -> None:
        """Forget a service (absent is fine)."""
        table = known_service
        with self.storage.engine().begin() as conn:
            conn.execute(delete(table).where((table.c.kind == kind) & (table.c.name == name)))


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
