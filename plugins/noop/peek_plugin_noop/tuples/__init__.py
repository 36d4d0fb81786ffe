"""The tuples noop moves through the vortex; other plugins may use them too.

- ``noop.Counter`` is an observable on the server, one counter per selector
  ``{"name": ...}``; browsers may watch it without a login.
- ``noop.Bump`` is an action: add ``by`` to a counter; the reply is the new
  ``noop.Counter``. It needs a login from browsers.
- ``noop.Echo`` is an action that answers with itself, carrying one field of
  every type a tuple may have; anyone may send it.
"""

from __future__ import annotations

import datetime
import decimal

from peek.plugin import AwareDatetime, Tuple

__all__ = ["ALL_TUPLES", "Bump", "Counter", "Echo", "Note"]


class Counter(Tuple, tag="noop.Counter"):
    name: str
    value: int
    updated: AwareDatetime


class Bump(Tuple, tag="noop.Bump"):
    name: str
    by: int = 1


class Note(Tuple, tag="noop.Note"):
    text: str


class Echo(Tuple, tag="noop.Echo"):
    text: str = ""
    number: int = 0
    ratio: float = 0.0
    flag: bool = False
    when: AwareDatetime | None = None
    day: datetime.date | None = None
    amount: decimal.Decimal | None = None
    raw: bytes = b""
    items: list[int] = []
    table: dict[str, str] = {}
    note: Note | None = None
    notes: list[Note] = []
    nothing: None = None


ALL_TUPLES = (Counter, Bump, Note, Echo)
