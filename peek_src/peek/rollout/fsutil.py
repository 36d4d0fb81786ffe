"""File-system steps the rollout's crash safety rests on: flushing and removing trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["fsync_dir", "fsync_tree", "remove_path"]


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename in it survives a power cut)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory below ``root``.

    Called before the rename that makes a tree visible: after a power cut the
    name never points at files whose data was not yet written.
    """
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def remove_path(path: Path) -> None:
    """Remove a file, a symlink or a whole tree; absent is fine."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
