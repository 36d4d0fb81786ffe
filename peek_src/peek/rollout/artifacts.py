"""The content-addressed store of plugin wheels: ``<data_dir>/artifacts/sha256/<aa>/<hash>.whl``.

An artifact is named by the SHA-256 of its bytes, so adding the same wheel
twice is a no-op and two hosts agree on what a name means. Writes go to a
temporary file in the store, are flushed to disk and then renamed into
place, so a crash never leaves a partial artifact under a real name. Reads
verify the hash (:meth:`ArtifactStore.get`); a corrupt file is moved aside
to ``corrupt/`` and reported, never served. Garbage collection removes what
no kept generation references.

On the server the store holds every accepted upload; on other hosts it is
the download cache the artifact fetcher fills before a backend prepares a
generation. All methods are blocking.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from peek.rollout.errors import ArtifactCorrupt, ArtifactError, ArtifactMissing
from peek.rollout.fsutil import fsync_dir
from peek.rollout.hashing import SHA256_RE, copy_hashing, sha256_file

__all__ = ["ArtifactInfo", "ArtifactStore"]

log = logging.getLogger(__name__)

SUFFIX = ".whl"
# Temporary files younger than this may belong to an add in progress.
STALE_TMP_AGE = 3600.0


@dataclass(frozen=True)
class ArtifactInfo:
    sha256: str
    size: int
    path: Path


class ArtifactStore:
    """Wheels by SHA-256 below ``root`` (``<data_dir>/artifacts``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self._objects = root / "sha256"
        self._tmp = root / "tmp"
        self._corrupt = root / "corrupt"

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ArtifactStore:
        return cls(data_dir / "artifacts")

    def path_for(self, sha256: str) -> Path:
        """Where the artifact ``sha256`` lives (whether or not it is there)."""
        _check_name(sha256)
        return self._objects / sha256[:2] / f"{sha256}{SUFFIX}"

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def add(self, source: Path, expected_sha256: str | None = None) -> str:
        """Copy the file ``source`` into the store; return its SHA-256.

        Idempotent: an artifact already stored (and intact) is kept. With
        ``expected_sha256``, a file with other contents raises
        :class:`ArtifactCorrupt` and nothing is stored.
        """
        with source.open("rb") as fh:
            return self.add_stream(fh, expected_sha256, where=str(source))

    def add_stream(
        self, stream: IO[bytes], expected_sha256: str | None = None, *, where: str = "stream"
    ) -> str:
        """Like :meth:`add`, reading the artifact from ``stream`` (e.g. a download)."""
        if expected_sha256 is not None:
            _check_name(expected_sha256)
            if self._intact(expected_sha256):
                return expected_sha256
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="add-", suffix=SUFFIX)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, _size = copy_hashing(stream, out)
                out.flush()
                os.fsync(out.fileno())
            if expected_sha256 is not None and digest != expected_sha256:
                raise ArtifactCorrupt(expected_sha256, digest, where)
            if self._intact(digest):
                return digest
            final = self.path_for(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            fsync_dir(final.parent)
            return digest
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, sha256: str) -> Path:
        """The path of artifact ``sha256`` after checking its bytes.

        Raises :class:`ArtifactMissing`, or :class:`ArtifactCorrupt` after
        moving the bad file to ``corrupt/`` (so that the next fetch can
        replace it).
        """
        path = self.path_for(sha256)
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise ArtifactMissing(sha256) from None
        if actual != sha256:
            self._quarantine(path)
            raise ArtifactCorrupt(sha256, actual, str(path))
        return path

    def open(self, sha256: str) -> IO[bytes]:
        """Artifact ``sha256`` opened for reading after :meth:`get` verified it."""
        return self.get(sha256).open("rb")

    def entries(self) -> list[ArtifactInfo]:
        """Every stored artifact (not verified), sorted by hash."""
        found = []
        if not self._objects.is_dir():
            return []
        for path in self._objects.glob(f"*/*{SUFFIX}"):
            sha256 = path.name.removesuffix(SUFFIX)
            if SHA256_RE.match(sha256) and path.parent.name == sha256[:2]:
                found.append(ArtifactInfo(sha256, path.stat().st_size, path))
        return sorted(found, key=lambda a: a.sha256)

    def remove(self, sha256: str) -> bool:
        """Delete artifact ``sha256``; False if it was not there."""
        path = self.path_for(sha256)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _rmdir_if_empty(path.parent)
        return True

    def collect_garbage(self, referenced: Iterable[str]) -> list[str]:
        """Delete every artifact whose hash is not in ``referenced``; return what went.

        ``referenced`` is the union of the ``sha256`` of every plugin in the
        generations to keep (see
        :meth:`peek.rollout.generations.Generation.artifacts`). Temporary files
        older than an hour (left by a crash) go too.
        """
        keep = set(referenced)
        removed = [a.sha256 for a in self.entries() if a.sha256 not in keep]
        for sha256 in removed:
            self.remove(sha256)
            log.info("removed unreferenced artifact sha256:%s", sha256)
        self._remove_stale_tmp()
        return removed

    def _intact(self, sha256: str) -> bool:
        try:
            self.get(sha256)
        except ArtifactError:
            return False
        return True

    def _quarantine(self, path: Path) -> None:
        self._corrupt.mkdir(parents=True, exist_ok=True)
        target = self._corrupt / f"{path.name}.{time.time_ns()}"
        try:
            os.replace(path, target)
        except OSError as exc:
            log.warning("cannot move corrupt artifact %s aside: %s", path, exc)
        else:
            log.error("corrupt artifact %s moved to %s", path, target)

    def _remove_stale_tmp(self) -> None:
        if not self._tmp.is_dir():
            return
        cutoff = time.time() - STALE_TMP_AGE
        for entry in self._tmp.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    if entry.is_dir():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink()
            except FileNotFoundError:
                continue


def _check_name(sha256: str) -> None:
    if not SHA256_RE.match(sha256):
        raise ArtifactError(sha256, f"not an artifact name (lowercase hex sha256): {sha256!r}")


def _rmdir_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
