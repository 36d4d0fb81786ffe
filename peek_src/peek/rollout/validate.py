"""Validating a plugin upload before anything changes.

:func:`validate_upload` takes the uploaded file (a wheel, or a ``.zip`` /
``.tar.gz`` of a pure-Python plugin project) and either returns a
:class:`ValidatedUpload` ready for the artifact store and a new generation,
or raises one typed :class:`~peek.rollout.errors.UploadRejected` whose
message is meant for the admin page, the API answer (``code``,
``http_status``) and the CLI alike. The checks, in order:

1. size (``max_upload_bytes``; :class:`UploadTooLarge`, a 413 on the site);
2. the type, by name and by magic bytes;
3. the signature policy (:mod:`peek.rollout.signing`), before any parsing;
4. the archive's entries: traversal, absolute paths, drive letters,
   backslashes, symlinks, hard links, devices and fifos, duplicates, total
   size, entry count, compression ratio (:mod:`peek.rollout.archives`);
5. for a project: extraction into the staging directory and an offline
   wheel build (:mod:`peek.rollout.build`), whose wheel must be pure Python;
6. the wheel: name ``peek-plugin-*``, tags this platform runs, one
   ``.dist-info``, RECORD hashes, METADATA, the ``peek.plugins`` entry point
   equal to the package, nothing outside the package, ``plugin.toml``, the
   Peek version range (:mod:`peek.rollout.wheels`);
7. the plugin set: the current plugins with this one added or replaced must
   resolve (:func:`peek.plugin.resolve.resolve`) without failing this plugin
   or any plugin that resolved before, and every ``Requires-Dist`` must be
   met by that plugin set or by what is installed here (uploads never
   download dependencies);
8. an import check: the wheel installed into a staging directory with PyPA
   ``installer``, its package and hook modules imported by ``python -I``
   with a deadline.

Everything is written below one fresh directory of the
:class:`StagingArea` (``<data_dir>/uploads/<random>``), which is removed when
validation fails and by :meth:`ValidatedUpload.discard` (or leaving its
``with`` block) after success. Nothing else on disk changes; the uploaded
file itself is only read. Blocking: the server runs it in an executor.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import peek
from peek.config import RolloutConfig
from peek.plugin.discovery import PluginSpec
from peek.plugin.resolve import resolve
from peek.rollout.archives import (
    ArchiveLimits,
    extract_tar,
    extract_zip,
    inspect_tar,
    inspect_zip,
)
from peek.rollout.artifacts import ArtifactStore
from peek.rollout.build import DEFAULT_BUILD_TIMEOUT, build_wheel, find_project
from peek.rollout.errors import (
    BadPluginMetadata,
    BadWheel,
    GenerationError,
    UnsatisfiedRequirements,
    UnsupportedUpload,
    UploadTooLarge,
)
from peek.rollout.generations import GenerationPlugin
from peek.rollout.hashing import copy_hashing, sha256_file
from peek.rollout.signing import SignaturePolicy
from peek.rollout.wheels import (
    DEFAULT_IMPORT_TIMEOUT,
    ImportTarget,
    PluginWheel,
    import_check,
    install_wheel,
    read_plugin_wheel,
)

__all__ = [
    "StagingArea",
    "UploadKind",
    "UploadLimits",
    "ValidatedUpload",
    "upload_kind",
    "validate_upload",
]

log = logging.getLogger(__name__)

UploadKind = Literal["wheel", "zip", "tar.gz"]
DEFAULT_MAX_UPLOAD = 64 << 20
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class UploadLimits:
    """Every bound validation applies (``[rollout]`` in the configuration)."""

    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    build_timeout: float = DEFAULT_BUILD_TIMEOUT
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT

    @classmethod
    def from_config(cls, config: RolloutConfig) -> UploadLimits:
        return cls(
            max_upload_bytes=config.max_upload_bytes,
            archive=ArchiveLimits(
                max_unpacked_bytes=config.max_unpacked_bytes,
                max_entries=config.max_entries,
                max_ratio=config.max_ratio,
            ),
            build_timeout=config.build_timeout,
            import_timeout=config.import_timeout,
        )


class StagingArea:
    """``<data_dir>/uploads``: one private directory per upload being validated."""

    def __init__(self, root: Path) -> None:
        # Absolute: builds and import checks run in children with another cwd.
        self.root = root.absolute()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> StagingArea:
        return cls(data_dir / "uploads")

    def new(self) -> Path:
        """A fresh directory (mode 0700) for one upload."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.root, prefix="upload-"))

    @contextmanager
    def directory(self) -> Iterator[Path]:
        """A fresh directory, removed when the block leaves."""
        path = self.new()
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> list[Path]:
        """Remove what validations interrupted by a crash left; call once at server start."""
        if not self.root.is_dir():
            return []
        removed = sorted(self.root.iterdir())
        for path in removed:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return removed


@dataclass
class ValidatedUpload:
    """An upload that passed every check; its wheel waits in the staging directory.

    ``sha256`` is the wheel's (the artifact's name), ``upload_sha256`` what
    was uploaded (the same for a wheel; the project archive otherwise) and
    ``signed_by`` the fingerprint of the key that signed the upload, if any.
    Use as a context manager, or call :meth:`discard`, to remove the staging
    directory.
    """

    wheel: PluginWheel
    sha256: str
    upload_sha256: str
    kind: UploadKind
    plugin: GenerationPlugin
    signed_by: str | None
    workdir: Path

    @property
    def name(self) -> str:
        return self.wheel.package

    @property
    def version(self) -> Version:
        return self.wheel.version

    def spec(self) -> PluginSpec:
        return PluginSpec(manifest=self.wheel.manifest)

    def store_in(self, store: ArtifactStore) -> GenerationPlugin:
        """Add the wheel to ``store`` (verifying its hash) and return the generation entry."""
        store.add(self.wheel.path, self.sha256)
        return self.plugin

    def discard(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> ValidatedUpload:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def upload_kind(filename: str) -> UploadKind:
    """What an upload is by its name, or :class:`UnsupportedUpload`."""
    lowered = filename.lower()
    if lowered.endswith(".whl"):
        return "wheel"
    if lowered.endswith(".zip"):
        return "zip"
    if lowered.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise UnsupportedUpload(
        f"{filename!r} is neither a wheel (.whl) nor a .zip or .tar.gz of a plugin project"
    )


def validate_upload(
    upload: Path,
    *,
    staging: StagingArea,
    filename: str | None = None,
    current: Sequence[PluginSpec] = (),
    peek_version: str | None = None,
    limits: UploadLimits | None = None,
    signature: bytes | None = None,
    policy: SignaturePolicy | None = None,
    import_path: Sequence[Path] = (),
) -> ValidatedUpload:
    """Check the uploaded file ``upload`` (named ``filename`` by the uploader).

    ``current`` is the plugin set the upload joins (the active generation's
    :meth:`~peek.rollout.generations.Generation.specs`); a plugin of the same
    name is replaced. ``import_path`` lists directories the import check
    puts on the path after the new wheel (the active generation's plugin
    directories, so that plugins it requires import). ``signature`` is the
    content of the ``.sig`` file uploaded with it, if any.

    Returns a :class:`ValidatedUpload` or raises
    :class:`~peek.rollout.errors.UploadRejected`. Blocking.
    """
    limits = limits or UploadLimits()
    policy = policy or SignaturePolicy()
    running = peek_version or peek.__version__
    name = _safe_filename(filename if filename is not None else upload.name)
    work = staging.new()
    try:
        kind = upload_kind(name)
        received = work / "upload"
        received.mkdir()
        copy, upload_sha256 = _receive(upload, received / name, limits.max_upload_bytes)
        _check_magic(copy, kind, name)
        signed_by = policy.check(upload_sha256, signature)
        signer = signed_by.fingerprint if signed_by else None

        if kind == "wheel":
            inspect_zip(copy, limits.archive)
            wheel = read_plugin_wheel(copy, running)
        else:
            wheel = _build_project(copy, kind, work, limits, running)
        sha256 = upload_sha256 if kind == "wheel" else sha256_file(wheel.path)

        spec = PluginSpec(manifest=wheel.manifest)
        _check_plugin_set(spec, current, running)
        _check_requires_dist(wheel, [spec, *(s for s in current if s.name != spec.name)])
        try:
            plugin = GenerationPlugin(
                name=wheel.package,
                version=str(wheel.version),
                sha256=sha256,
                wheel=wheel.filename,
                manifest=dict(wheel.manifest.raw),
                requires_dist=wheel.requires_dist,
            )
        except GenerationError as exc:
            raise BadPluginMetadata(str(exc)) from None

        target = work / "import-check"
        install_wheel(wheel.path, target)
        import_check(
            [ImportTarget(wheel.package, list(wheel.manifest.hooks.values()), target)],
            [target, *import_path],
            workdir=work,
            timeout=limits.import_timeout,
        )
        shutil.rmtree(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    log.info("upload %s accepted: %s %s (sha256:%s)", name, wheel.package, wheel.version, sha256)
    return ValidatedUpload(wheel, sha256, upload_sha256, kind, plugin, signer, work)


def _safe_filename(filename: str) -> str:
    # Browsers send a bare name; other clients may send a path. Only the last part counts.
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base or base.startswith(".") or "\x00" in base:
        raise UnsupportedUpload(f"{filename!r} is not a usable file name")
    return base


def _receive(upload: Path, dest: Path, limit: int) -> tuple[Path, str]:
    try:
        size = upload.stat().st_size
    except OSError as exc:
        raise UnsupportedUpload(f"cannot read the upload: {exc.strerror}") from None
    if size > limit:
        raise UploadTooLarge(limit, size)
    try:
        with upload.open("rb") as src, dest.open("xb") as out:
            digest, copied = copy_hashing(src, out, limit)
    except IsADirectoryError:
        raise UnsupportedUpload("the upload is a directory, not a file") from None
    if copied > limit:
        # The file grew while it was read: the stat above was not the whole story.
        raise UploadTooLarge(limit)
    os.chmod(dest, 0o600)
    return dest, digest


def _check_magic(path: Path, kind: UploadKind, name: str) -> None:
    with path.open("rb") as fh:
        head = fh.read(4)
    if kind == "tar.gz":
        if not head.startswith(_GZIP_MAGIC):
            raise UnsupportedUpload(f"{name!r} is not a gzip-compressed tar archive")
    elif not head.startswith(_ZIP_MAGIC):
        what = "wheel (a zip archive)" if kind == "wheel" else "zip archive"
        raise UnsupportedUpload(f"{name!r} is not a {what}")


def _build_project(
    archive: Path, kind: UploadKind, work: Path, limits: UploadLimits, running: str
) -> PluginWheel:
    source = work / "src"
    source.mkdir()
    if kind == "zip":
        entries = inspect_zip(archive, limits.archive)
        extract_zip(archive, entries, source)
    else:
        entries = inspect_tar(archive, limits.archive)
        extract_tar(archive, entries, source, limits.archive.max_unpacked_bytes)
    project = find_project(source)
    built = build_wheel(project, work / "dist", work / "build-home", limits.build_timeout)
    # The build ran project code: its wheel gets the same scrutiny as an uploaded one.
    inspect_zip(built, limits.archive)
    wheel = read_plugin_wheel(built, running)
    if not wheel.is_pure:
        raise BadWheel(
            f"the project built a platform-specific wheel ({built.name}); only pure-Python "
            "projects are built on upload: upload the wheel for this platform instead"
        )
    return wheel


def _check_plugin_set(spec: PluginSpec, current: Sequence[PluginSpec], running: str) -> None:
    others = [s for s in current if s.name != spec.name]
    before = resolve(list(current), running)
    after = resolve([*others, spec], running)
    problems = []
    if spec.name in after.failed:
        problems.append(str(after.failed[spec.name]))
    for name, error in sorted(after.failed.items()):
        if name != spec.name and name not in before.failed:
            problems.append(f"{name} would stop working: {error}")
    if problems:
        raise UnsatisfiedRequirements(spec.name, problems)


def _check_requires_dist(wheel: PluginWheel, plugin_set: Sequence[PluginSpec]) -> None:
    plugins = {canonicalize_name(s.name): s.manifest.version for s in plugin_set}
    problems = []
    for text in wheel.requires_dist:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            problems.append(f"Requires-Dist {text!r} is not a valid requirement")
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        found: str
        if name in plugins:
            found = str(plugins[name])
        else:
            try:
                found = version(req.name)
            except PackageNotFoundError:
                problems.append(
                    f"it needs {text}, which is not installed on this platform "
                    "(uploads do not download dependencies)"
                )
                continue
        if not req.specifier.contains(found, prereleases=True):
            problems.append(f"it needs {text}, but {req.name} {found} is what this platform has")
    if problems:
        raise UnsatisfiedRequirements(wheel.package, problems)
