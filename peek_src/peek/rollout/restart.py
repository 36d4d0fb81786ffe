"""A rollout the server finishes after restarting into its generation.

When a changed plugin cannot be swapped inside the running server (native
code, ``restart = true``), the coordinator records the rollout as
``restarting`` in the database and, beside it, who takes part
(:class:`PendingRestart`, a small JSON file in the server's directory), then
the server exits with the restart code. The restarted server reads both,
runs the new generation (migrations first), waits for every member's health
and commits or reverts every service as usual.

The file is written (and flushed) before the database says ``restarting``,
so a server that finds that phase also finds who it waits for; a file
without that phase is a leftover and is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peek.rollout.fsutil import fsync_dir

__all__ = ["RESTART_FILE", "PendingRestart"]

RESTART_FILE = "rollout-restart.json"


@dataclass(frozen=True)
class PendingRestart:
    """What the restarted server needs to finish generation ``generation``'s rollout.

    ``members`` are the services (kind, name) that took part when the server
    stopped; ``leaving`` is a rollback's origin (see the coordinator).
    """

    generation: int
    previous: int | None
    leaving: int | None
    members: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "previous": self.previous,
            "leaving": self.leaving,
            "members": [list(key) for key in self.members],
        }

    def write(self, path: Path) -> None:
        """Blocking: write atomically and durably."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(self.as_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)

    @classmethod
    def read(cls, path: Path) -> PendingRestart | None:
        """Blocking: the record in ``path``; None when absent or unreadable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            members = tuple((str(kind), str(name)) for kind, name in data.get("members", ()))
            return cls(
                generation=int(data["generation"]),
                previous=_optional_int(data.get("previous")),
                leaving=_optional_int(data.get("leaving")),
                members=members,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def clear(path: Path) -> None:
        """Blocking: remove the record (absent is fine)."""
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None
