"""Generations in the platform database: the history, and the pointer the switch protocol moves.

Two tables of the platform's own schema (``peek.storage.models``):

- ``plugin_generation``: every generation ever proposed, with its manifest
  (canonical JSON), its :class:`~peek.rollout.generations.GenerationState`,
  who made it and why, and the reasons it failed. Rows are never deleted.
- ``rollout_state``: one row. ``active`` is the generation every service
  must run; ``target``/``phase`` describe a rollout in flight
  (``preparing``: services are preparing ``target``, nothing switched yet;
  ``committed``: ``active`` was moved to ``target`` and services are
  switching, health not yet confirmed; ``restarting``: committed, and the
  server restarts into ``target`` to finish the rollout; ``reverting``: it
  failed and the server restarts to go back to ``previous``, the reasons
  already on the generation) and ``schema_before`` the plugins' schema
  revisions before the target's migrations ran.

Every change is one transaction, so a server killed at any point finds on
restart either the old or the new pointer, and :meth:`GenerationHistory.interrupted`
says what was in flight. All methods block: call them in an executor.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from peek.rollout.errors import GenerationError
from peek.rollout.generations import Generation, GenerationState
from peek.storage import Storage
from peek.storage.models import plugin_generation, rollout_state

__all__ = ["GenerationHistory", "GenerationRecord", "Phase", "RolloutPointer"]

log = logging.getLogger(__name__)

Phase = Literal["preparing", "committed", "restarting", "reverting"]
_STATE_ROW = 1


@dataclass(frozen=True)
class GenerationRecord:
    """A generation as the history keeps it: the manifest, its state, and why it failed."""

    generation: Generation
    state: GenerationState
    finished_at: datetime | None = None
    problems: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        return self.generation.number

    def as_json(self, *, active: int | None = None) -> dict[str, Any]:
        g = self.generation
        return {
            "number": g.number,
            "parent": g.parent,
            "state": self.state.value,
            "active": g.number == active,
            "created_by": g.created_by,
            "reason": g.reason,
            "created_at": g.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "problems": list(self.problems),
            "digest": g.digest(),
            "plugins": [
                {
                    "name": name,
                    "version": version,
                    "source": "upload" if name in g.plugins else "environment",
                    "sha256": g.plugins[name].sha256 if name in g.plugins else None,
                }
                for name, version in sorted(g.versions().items())
            ],
        }


@dataclass(frozen=True)
class RolloutPointer:
    """The ``rollout_state`` row: what runs, and what is in flight."""

    active: int | None = None
    target: int | None = None
    previous: int | None = None
    phase: Phase | None = None
    schema_before: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class GenerationHistory:
    """The generations of one installation, in its platform database."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    # -- reading ---------------------------------------------------------

    def records(self) -> list[GenerationRecord]:
        """Every generation, newest first."""
        with self.storage.engine().connect() as conn:
            rows = conn.execute(
                select(plugin_generation).order_by(plugin_generation.c.number.desc())
            ).all()
        return [_record(dict(row._mapping)) for row in rows]

    def get(self, number: int) -> GenerationRecord | None:
        with self.storage.engine().connect() as conn:
            row = conn.execute(
                select(plugin_generation).where(plugin_generation.c.number == number)
            ).first()
        return _record(dict(row._mapping)) if row is not None else None

    def pointer(self) -> RolloutPointer:
        with self.storage.engine().connect() as conn:
            return _pointer(conn)

    def active(self) -> GenerationRecord | None:
        """The generation every service must run (None before the first)."""
        number = self.pointer().active
        return self.get(number) if number is not None else None

    def next_number(self) -> int:
        with self.storage.engine().connect() as conn:
            latest = conn.execute(
                select(plugin_generation.c.number).order_by(plugin_generation.c.number.desc())
            ).scalar()
        return (latest or 0) + 1

    # -- writing ---------------------------------------------------------

    def ensure_initial(self, make: Callable[[int], Generation]) -> GenerationRecord:
        """The active generation; on the first start, ``make(1)`` recorded as active."""
        found = self.active()
        if found is not None:
            return found
        generation = make(self.next_number())
        now = datetime.now(UTC)
        with self.storage.engine().begin() as conn:
            conn.execute(
                insert(plugin_generation).values(
                    **_row(generation, GenerationState.ACTIVE), finished_at=now
                )
            )
            _set_pointer(conn, active=generation.number, target=None, previous=None, phase=None)
        log.info("plugin generation %d is the initial plugin set", generation.number)
        return GenerationRecord(generation, GenerationState.ACTIVE, now)

    def propose(self, generation: Generation) -> GenerationRecord:
        """Record ``generation`` as proposed and in flight (phase ``preparing``)."""
        pointer = self.pointer()
        if pointer.target is not None:
            raise GenerationError(f"generation {pointer.target} is being rolled out already")
        with self.storage.engine().begin() as conn:
            conn.execute(
                insert(plugin_generation).values(**_row(generation, GenerationState.PROPOSED))
            )
            _set_pointer(
                conn,
                active=pointer.active,
                target=generation.number,
                previous=pointer.active,
                phase="preparing",
            )
        return GenerationRecord(generation, GenerationState.PROPOSED)

    def commit(self, number: int, *, restart: bool = False) -> None:
        """Every service is ready: ``number`` is prepared and becomes what services must run.

        ``restart``: the server restarts into it to finish the rollout (phase ``restarting``).
        """
        with self.storage.engine().begin() as conn:
            pointer = _pointer(conn)
            self._move(conn, number, GenerationState.PREPARED)
            _set_pointer(
                conn,
                active=number,
                target=number,
                previous=pointer.previous,
                phase="restarting" if restart else "committed",
            )

    def resume(self, before: Mapping[str, Sequence[str]]) -> None:
        """The server restarted into the target: its migrations start from ``before``.

        From here a crash is a crash between commit and health (phase ``committed``).
        """
        with self.storage.engine().begin() as conn:
            pointer = _pointer(conn)
            if pointer.phase != "restarting":
                raise GenerationError(f"no server restart is pending (phase {pointer.phase})")
            _set_pointer(
                conn,
                active=pointer.active,
                target=pointer.target,
                previous=pointer.previous,
                phase="committed",
                schema_before=before,
            )

    def revert_pending(self, number: int, problems: Iterable[str]) -> None:
        """``number`` failed after the switch and the server restarts to go back (phase
        ``reverting``); ``problems`` are kept on it for :meth:`fail` after the restart."""
        with self.storage.engine().begin() as conn:
            pointer = _pointer(conn)
            conn.execute(
                update(plugin_generation)
                .where(plugin_generation.c.number == number)
                .values(problems=json.dumps(list(problems)))
            )
            _set_pointer(
                conn,
                active=pointer.active,
                target=number,
                previous=pointer.previous,
                phase="reverting",
                schema_before=pointer.schema_before,
            )

    def record_schema(self, before: Mapping[str, Sequence[str]]) -> None:
        """Remember the schema revisions the target's migrations start from (before they run)."""
        with self.storage.engine().begin() as conn:
            conn.execute(
                update(rollout_state)
                .where(rollout_state.c.id == _STATE_ROW)
                .values(
                    schema_before=json.dumps({k: list(v) for k, v in before.items()}),
                    updated_at=datetime.now(UTC),
                )
            )

    def succeed(self, number: int, *, leaving: int | None = None) -> None:
        """``number`` runs healthy everywhere; ``leaving`` (a rollback's origin) is rolled back."""
        with self.storage.engine().begin() as conn:
            self._move(conn, number, GenerationState.ACTIVE)
            if leaving is not None and leaving != number:
                current = _state(conn, leaving)
                if current is GenerationState.ACTIVE:
                    self._move(conn, leaving, GenerationState.ROLLED_BACK)
            _set_pointer(conn, active=number, target=None, previous=None, phase=None)

    def fail(self, number: int, problems: Iterable[str], *, active: int | None) -> None:
        """``number`` failed; ``active`` (the generation before it) is what services run."""
        with self.storage.engine().begin() as conn:
            self._move(conn, number, GenerationState.FAILED, problems=list(problems))
            _set_pointer(conn, active=active, target=None, previous=None, phase=None)

    def _move(
        self,
        conn: Connection,
        number: int,
        state: GenerationState,
        problems: list[str] | None = None,
    ) -> None:
        current = _state(conn, number)
        current.transition(state)
        values: dict[str, Any] = {"state": state.value}
        if state in (GenerationState.ACTIVE, GenerationState.FAILED, GenerationState.ROLLED_BACK):
            values["finished_at"] = datetime.now(UTC)
        if problems is not None:
            values["problems"] = json.dumps(problems)
        conn.execute(
            update(plugin_generation).where(plugin_generation.c.number == number).values(**values)
        )


def _state(conn: Connection, number: int) -> GenerationState:
    value = conn.execute(
        select(plugin_generation.c.state).where(plugin_generation.c.number == number)
    ).scalar()
    if value is None:
        raise GenerationError(f"there is no generation {number}")
    return GenerationState(value)


def _row(generation: Generation, state: GenerationState) -> dict[str, Any]:
    return {
        "number": generation.number,
        "parent": generation.parent,
        "state": state.value,
        "manifest": generation.canonical_json().decode("utf-8"),
        "digest": generation.digest(),
        "created_by": generation.created_by,
        "reason": generation.reason,
        "created_at": generation.created_at,
    }


def _record(row: Mapping[str, Any]) -> GenerationRecord:
    problems = json.loads(row["problems"]) if row["problems"] else []
    finished = row["finished_at"]
    if finished is not None and finished.tzinfo is None:
        # SQLite hands back naive datetimes; they were written in UTC.
        finished = finished.replace(tzinfo=UTC)
    return GenerationRecord(
        generation=Generation.from_json(row["manifest"]),
        state=GenerationState(row["state"]),
        finished_at=finished,
        problems=tuple(str(p) for p in problems),
    )


def _pointer(conn: Connection) -> RolloutPointer:
    row = conn.execute(select(rollout_state).where(rollout_state.c.id == _STATE_ROW)).first()
    if row is None:
        return RolloutPointer()
    before = json.loads(row.schema_before) if row.schema_before else {}
    return RolloutPointer(
        active=row.active,
        target=row.target,
        previous=row.previous,
        phase=row.phase,
        schema_before={str(k): tuple(v) for k, v in before.items()},
    )


def _set_pointer(
    conn: Connection,
    *,
    active: int | None,
    target: int | None,
    previous: int | None,
    phase: Phase | None,
    schema_before: Mapping[str, Sequence[str]] | None = None,
) -> None:
    values: dict[str, Any] = {
        "active": active,
        "target": target,
        "previous": previous,
        "phase": phase,
        "updated_at": datetime.now(UTC),
    }
    if schema_before is not None:
        values["schema_before"] = json.dumps({k: list(v) for k, v in schema_before.items()})
    elif phase != "committed":
        values["schema_before"] = None
    done = conn.execute(
        update(rollout_state).where(rollout_state.c.id == _STATE_ROW).values(**values)
    )
    if done.rowcount == 0:
        conn.execute(insert(rollout_state).values(id=_STATE_ROW, **values))
