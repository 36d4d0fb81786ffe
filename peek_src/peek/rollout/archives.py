"""Checking zip and tar.gz archives before anything is extracted from them.

:func:`inspect_zip` and :func:`inspect_tar` read an archive's directory and
refuse it with a typed :class:`~peek.rollout.errors.UploadRejected` when an
entry is unsafe (``../``, an absolute path, a drive letter, a backslash, a
NUL), is not a plain file or directory (symlinks, hard links, devices,
fifos), appears twice, or when the archive would unpack to more than the
limits allow (a total size, a number of entries, a compression ratio).
Nothing is written while inspecting. :func:`extract_zip` and
:func:`extract_tar` then extract only what inspection listed: zip entries one
by one into fresh files, tar members through ``tarfile``'s ``"data"``
extraction filter as a second line of defence.

Sizes are bounded twice: by the sizes the archive declares (checked before
reading) and by what is actually read (zipfile never returns more than an
entry declares; gzip streams are read through :class:`_BoundedReader`, which
refuses to decompress past the limit). All of it is blocking.
"""

from __future__ import annotations

import gzip
import io
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from peek.rollout.errors import (
    ArchiveBomb,
    BadArchive,
    DuplicateEntry,
    UnsafeEntry,
    UploadRejected,
)

__all__ = [
    "ArchiveEntry",
    "ArchiveLimits",
    "check_entry_name",
    "extract_tar",
    "extract_zip",
    "inspect_tar",
    "inspect_zip",
]

# A compression ratio is only judged for entries (or archives) at least this
# big: a tiny file of repeated bytes compresses well and harms nobody.
RATIO_FLOOR = 1 << 20
_COPY_CHUNK = 1 << 16
_DRIVE_RE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an archive may unpack to.

    ``max_unpacked_bytes`` bounds the total size of all entries,
    ``max_entries`` their number, and ``max_ratio`` the uncompressed to
    compressed ratio of any entry (zip) or of the whole stream (tar.gz)
    of at least :data:`RATIO_FLOOR` bytes.
    """

    max_unpacked_bytes: int = 256 << 20
    max_entries: int = 20_000
    max_ratio: float = 200.0


@dataclass(frozen=True)
class ArchiveEntry:
    """One entry that passed inspection: its normalised relative ``path`` and size."""

    path: str
    is_dir: bool
    size: int
    stored_name: str


def check_entry_name(name: str) -> tuple[str, ...]:
    """The parts of a relative archive path, or :class:`UnsafeEntry` saying what is wrong.

    ``./`` parts and repeated slashes are dropped (``"./"`` gives no parts); everything that could
    leave the extraction directory or mean something else on another
    system is refused.
    """
    if not name:
        raise UnsafeEntry(name, "empty path")
    if "\x00" in name:
        raise UnsafeEntry(name, "NUL character in path")
    if "\\" in name:
        # A backslash is a separator on Windows: "a\..\..\x" would escape there.
        raise UnsafeEntry(name, "backslash in path")
    if name.startswith("/"):
        raise UnsafeEntry(name, "absolute path")
    if _DRIVE_RE.match(name):
        raise UnsafeEntry(name, "drive letter in path")
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        raise UnsafeEntry(name, "'..' in path (path traversal)")
    return parts


class _Listing:
    """Collects entries while checking duplicates, count and total size."""

    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.entries: list[ArchiveEntry] = []
        self.files: set[str] = set()
        self.dirs: set[str] = set()
        self.total = 0

    def add(self, stored_name: str, is_dir: bool, size: int) -> None:
        parts = check_entry_name(stored_name)
        if not parts:
            if is_dir:
                # "./", the archive's own root (tar writes it): nothing to extract.
                return
            raise UnsafeEntry(stored_name, "empty path")
        path = "/".join(parts)
        if len(self.entries) >= self.limits.max_entries:
            raise ArchiveBomb(f"the archive has more than {self.limits.max_entries} entries")
        if path in self.files or (not is_dir and path in self.dirs):
            raise DuplicateEntry(stored_name)
        if is_dir:
            # A directory listed twice is harmless (tar writes "./" and its parents freely).
            if path in self.dirs:
                return
            self.dirs.add(path)
        else:
            for i in range(1, len(parts)):
                if "/".join(parts[:i]) in self.files:
                    raise DuplicateEntry(stored_name)
            self.files.add(path)
        self.total += size
        if self.total > self.limits.max_unpacked_bytes:
            raise ArchiveBomb(
                f"the archive unpacks to more than the limit of "
                f"{self.limits.max_unpacked_bytes} bytes"
            )
        self.entries.append(ArchiveEntry(path, is_dir, size, stored_name))


# -- zip -------------------------------------------------------------------


def inspect_zip(path: Path, limits: ArchiveLimits) -> list[ArchiveEntry]:
    """Check every entry of the zip file at ``path`` without extracting; return them. Blocking."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError) as exc:
        raise BadArchive(f"not a readable zip archive: {exc}") from None
    listing = _Listing(limits)
    for info in infos:
        name = info.filename
        if info.flag_bits & 0x1:
            raise BadArchive(f"archive entry {name!r} is encrypted")
        _check_zip_file_type(info)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BadArchive(
                f"archive entry {name!r} uses an unsupported compression method "
                f"({info.compress_type}); use deflate"
            )
        is_dir = info.is_dir()
        listing.add(name, is_dir, info.file_size)
        if info.file_size >= RATIO_FLOOR and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ArchiveBomb(
                f"archive entry {name!r} expands {ratio:.0f} times "
                f"(more than the limit of {limits.max_ratio:g})"
            )
    return listing.entries


def _check_zip_file_type(info: zipfile.ZipInfo) -> None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind in (0, stat.S_IFREG, stat.S_IFDIR):
        # 0: the creator recorded no Unix mode (e.g. MS-DOS); the entry is a plain file.
        return
    if kind == stat.S_IFLNK:
        raise UnsafeEntry(info.filename, "symbolic link (links are not accepted)")
    raise UnsafeEntry(info.filename, f"special file ({_kind_name(kind)}), not a regular file")


def _kind_name(kind: int) -> str:
    names = {
        stat.S_IFCHR: "character device",
        stat.S_IFBLK: "block device",
        stat.S_IFIFO: "fifo",
        stat.S_IFSOCK: "socket",
    }
    return names.get(kind, f"file type {kind:o}")


def extract_zip(path: Path, entries: Iterable[ArchiveEntry], dest: Path) -> None:
    """Extract the inspected ``entries`` of ``path`` into the empty directory ``dest``. Blocking.

    Entries become regular files with mode 0644 and directories 0755,
    whatever the archive says.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            for entry in entries:
                target = dest.joinpath(*PurePosixPath(entry.path).parts)
                if entry.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                # "xb": inspection ruled out duplicates; never write through an existing path.
                with zf.open(entry.stored_name) as src, target.open("xb") as out:
                    _copy(src, out)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise BadArchive(f"cannot extract the zip archive: {exc}") from None


def _copy(src: IO[bytes], dest: IO[bytes]) -> None:
    while chunk := src.read(_COPY_CHUNK):
        dest.write(chunk)


# -- tar.gz -----------------------------------------------------------------


class _BoundedReader(io.RawIOBase):
    """A seekable view of a gzip stream that refuses to decompress past ``limit`` bytes.

    ``tarfile`` seeks over member data and reads long names into memory; a
    crafted stream could make it decompress gigabytes. This stops it at the
    limit, whatever the headers claim.
    """

    def __init__(self, inner: gzip.GzipFile, limit: int) -> None:
        super().__init__()
        self._inner = inner
        self._limit = limit

    def _refuse(self) -> UploadRejected:
        return ArchiveBomb(f"the archive unpacks to more than the limit of {self._limit} bytes")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._inner.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = {io.SEEK_SET: 0, io.SEEK_CUR: self._inner.tell()}.get(whence)
        if target is None:
            raise io.UnsupportedOperation("seek from the end of a gzip stream")
        if target + offset > self._limit:
            raise self._refuse()
        return self._inner.seek(target + offset)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        room = self._limit - self._inner.tell()
        if room <= 0 and view:
            # Past the limit: one more byte means the stream is bigger than allowed.
            if self._inner.read(1):
                raise self._refuse()
            return 0
        data = self._inner.read(min(len(view), room))
        view[: len(data)] = data
        return len(data)


def _open_tar(path: Path, limit: int) -> tuple[tarfile.TarFile, gzip.GzipFile]:
    raw = gzip.GzipFile(path, "rb")
    # Header and padding blocks come on top of member sizes.
    bounded = io.BufferedReader(_BoundedReader(raw, limit + (1 << 20)))
    try:
        return tarfile.open(fileobj=bounded, mode="r:"), raw
    except BaseException:
        raw.close()
        raise


def inspect_tar(path: Path, limits: ArchiveLimits) -> list[ArchiveEntry]:
    """Check every member of the ``.tar.gz`` at ``path`` without extracting; return them.

    Blocking.
    """
    listing = _Listing(limits)
    try:
        tar, raw = _open_tar(path, limits.max_unpacked_bytes)
        with raw, tar:
            while (member := tar.next()) is not None:
                _check_tar_member_type(member)
                listing.add(member.name, member.isdir(), member.size if member.isreg() else 0)
    except UploadRejected:
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BadArchive(f"not a readable .tar.gz archive: {exc}") from None
    compressed = max(path.stat().st_size, 1)
    if listing.total >= RATIO_FLOOR and listing.total > limits.max_ratio * compressed:
        raise ArchiveBomb(
            f"the archive expands {listing.total / compressed:.0f} times "
            f"(more than the limit of {limits.max_ratio:g})"
        )
    return listing.entries


def _check_tar_member_type(member: tarfile.TarInfo) -> None:
    if member.isreg() or member.isdir():
        return
    if member.issym():
        raise UnsafeEntry(member.name, f"symbolic link to {member.linkname!r}")
    if member.islnk():
        raise UnsafeEntry(member.name, f"hard link to {member.linkname!r}")
    if member.ischr():
        raise UnsafeEntry(member.name, "special file (character device)")
    if member.isblk():
        raise UnsafeEntry(member.name, "special file (block device)")
    if member.isfifo():
        raise UnsafeEntry(member.name, "special file (fifo)")
    raise UnsafeEntry(member.name, f"special file (tar type {member.type!r})")


def extract_tar(path: Path, entries: Iterable[ArchiveEntry], dest: Path, limit: int) -> None:
    """Extract the inspected ``entries`` of the ``.tar.gz`` at ``path`` into ``dest``. Blocking.

    Uses the ``"data"`` extraction filter, which also refuses links, device
    files and paths outside ``dest`` and clears special permission bits.
    """
    wanted = {entry.stored_name for entry in entries}
    try:
        tar, raw = _open_tar(path, limit)
        with raw, tar:
            members = [m for m in tar.getmembers() if m.name in wanted]
            tar.extractall(dest, members=members, filter="data")
    except UploadRejected:
        raise
    except tarfile.FilterError as exc:
        raise UnsafeEntry(exc.tarinfo.name, str(exc)) from None
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise BadArchive(f"cannot extract the .tar.gz archive: {exc}") from None
