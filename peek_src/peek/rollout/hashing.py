"""SHA-256 of files and streams, the one content address of rollout artifacts. Blocking."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import IO

__all__ = ["CHUNK", "SHA256_RE", "copy_hashing", "sha256_file"]

CHUNK = 1 << 20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path: Path) -> str:
    """The lowercase hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_hashing(src: IO[bytes], dest: IO[bytes], limit: int | None = None) -> tuple[str, int]:
    """Copy ``src`` to ``dest``; return (sha256, size).

    With ``limit``, stops and returns once more than ``limit`` bytes were
    seen (size then exceeds ``limit``; the caller refuses it).
    """
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            return digest.hexdigest(), size
        digest.update(chunk)
        dest.write(chunk)
    return digest.hexdigest(), size
