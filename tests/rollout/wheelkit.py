"""Making plugin wheels and archives for the rollout tests.

A wheel is a zip with a RECORD of hashes; :class:`WheelFiles` holds a wheel's
files in memory, edits them (rename the plugin, change its version, replace a
file) and writes a new wheel with a RECORD that matches, unless told not to.
The starting point is a real wheel built from ``peek plugin new``'s scaffold.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

SHORT = "weather"
PACKAGE = f"peek_plugin_{SHORT}"
VERSION = "0.1.0"


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


@dataclass
class WheelFiles:
    """A plugin wheel in memory: ``files`` maps archive paths to bytes."""

    short: str
    version: str
    files: dict[str, bytes] = field(default_factory=dict)
    tag: str = "py3-none-any"

    @classmethod
    def read(cls, path: Path, short: str = SHORT, version: str = VERSION) -> WheelFiles:
        with zipfile.ZipFile(path) as zf:
            files = {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}
        return cls(short, version, files)

    @property
    def package(self) -> str:
        return f"peek_plugin_{self.short}"

    @property
    def dist_info(self) -> str:
        return f"{self.package}-{self.version}.dist-info"

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}-{self.tag}.whl"

    def copy(self) -> WheelFiles:
        return WheelFiles(self.short, self.version, dict(self.files), self.tag)

    def renamed(self, short: str, version: str | None = None) -> WheelFiles:
        """The same plugin under another name (and version): paths and texts rewritten."""
        version = version or self.version
        replacements = [
            (f"{self.package}-{self.version}", f"peek_plugin_{short}-{version}"),
            (f"Version: {self.version}", f"Version: {version}"),
            (self.package, f"peek_plugin_{short}"),
            (f"peek-plugin-{self.short.replace('_', '-')}", f"peek-plugin-{short}"),
            (self.short.capitalize(), short.capitalize()),
        ]

        def rewrite(text: str) -> str:
            for old, new in replacements:
                text = text.replace(old, new)
            return text

        files = {}
        for name, data in self.files.items():
            try:
                files[rewrite(name)] = rewrite(data.decode("utf-8")).encode("utf-8")
            except UnicodeDecodeError:
                files[rewrite(name)] = data
        return WheelFiles(short, version, files, self.tag)

    def with_version(self, version: str) -> WheelFiles:
        return self.renamed(self.short, version)

    def put(self, name: str, data: bytes | str) -> WheelFiles:
        """A copy with ``name`` replaced or added."""
        other = self.copy()
        other.files[name] = data.encode("utf-8") if isinstance(data, str) else data
        return other

    def drop(self, name: str) -> WheelFiles:
        other = self.copy()
        del other.files[name]
        return other

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    def manifest(self) -> str:
        return self.text(f"{self.package}/plugin.toml")

    def with_manifest(self, text: str) -> WheelFiles:
        return self.put(f"{self.package}/plugin.toml", text)

    def with_requires_dist(self, *requirements: str) -> WheelFiles:
        name = f"{self.dist_info}/METADATA"
        head, sep, body = self.text(name).partition("\n\n")
        lines = [line for line in head.splitlines() if not line.startswith("Requires-Dist:")]
        lines += [f"Requires-Dist: {r}" for r in requirements]
        return self.put(name, "\n".join(lines) + "\n" + sep + body)

    def write(self, directory: Path, *, record: bool = True, filename: str | None = None) -> Path:
        """Write the wheel into ``directory``; regenerate RECORD unless ``record`` is False."""
        files = dict(self.files)
        record_name = f"{self.dist_info}/RECORD"
        if record:
            lines = [
                f"{name},{record_hash(data)},{len(data)}"
                for name, data in sorted(files.items())
                if name != record_name
            ]
            files[record_name] = ("\n".join([*lines, f"{record_name},,"]) + "\n").encode()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / (filename or self.filename)
        write_zip(path, files.items())
        return path


def write_zip(path: Path, entries: Iterable[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """A zip of ``entries`` (names or prepared ZipInfo), duplicates allowed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            if isinstance(name, zipfile.ZipInfo):
                zf.writestr(name, data)
            else:
                zf.writestr(name, data)
    return path


def zip_info(name: str, mode: int, compress: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = compress
    return info


def write_tar(path: Path, members: Iterable[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A .tar.gz of ``members``; a member with data gets it as its content."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def tar_info(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


def project_files(root: Path, prefix: str = "") -> dict[str, bytes]:
    """Every file below ``root`` as archive entries, optionally under ``prefix/``."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            name = path.relative_to(root).as_posix()
            files[f"{prefix}/{name}" if prefix else name] = path.read_bytes()
    return files


def write_project_zip(path: Path, files: dict[str, bytes]) -> Path:
    return write_zip(path, files.items())


def write_project_tar(path: Path, files: dict[str, bytes]) -> Path:
    return write_tar(path, ((tar_info(name), data) for name, data in files.items()))
