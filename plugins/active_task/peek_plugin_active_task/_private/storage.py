"""The plugin's JSON file in its data directory, replaced atomically.

Until the platform's database lands, active_task keeps its state in one JSON
document. A write goes to a temporary file in the same directory (mode 0600),
is flushed to disk, and then renamed over the old file, so a crash leaves
either the old or the new document, never half of one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from peek.errors import PeekError

__all__ = ["JsonFile", "StoreCorrupt"]

FILE_MODE = 0o600


class StoreCorrupt(PeekError):
    """The file exists but is not a document this plugin wrote; it is left untouched."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path}: {reason}")


class JsonFile:
    """One JSON document at ``path``. Must be used from the event loop; I/O runs in an executor."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def read(self) -> Any:
        """The document, or ``None`` if the file does not exist yet."""
        return await asyncio.get_running_loop().run_in_executor(None, self.read_blocking)

    async def write(self, document: Any) -> None:
        """Replace the document atomically."""
        await asyncio.get_running_loop().run_in_executor(None, self.write_blocking, document)

    def read_blocking(self) -> Any:
        """:meth:`read`, blocking."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreCorrupt(self.path, f"not valid JSON: {exc}") from None

    def write_blocking(self, document: Any) -> None:
        """:meth:`write`, blocking."""
        directory = self.path.parent
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), FILE_MODE)
                json.dump(document, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        # Make the rename itself durable.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
