"""``peek.rollout.validate``: good uploads are accepted; each bad one is refused with its reason
and leaves the data directory exactly as it was (staging cleaned, store untouched)."""

from __future__ import annotations

import re
import stat
import tarfile
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import peek
from peek.plugin.discovery import PluginSpec
from peek.rollout.archives import ArchiveLimits
from peek.rollout.errors import (
    ArchiveBomb,
    BadArchive,
    BadPluginMetadata,
    BadPluginName,
    BadProject,
    BadWheel,
    BuildBackendUnavailable,
    BuildFailed,
    DuplicateEntry,
    ImportCheckFailed,
    PeekVersionExcluded,
    UnsafeEntry,
    UnsatisfiedRequirements,
    UnsupportedUpload,
    UploadRejected,
    UploadTooLarge,
)
from peek.rollout.validate import StagingArea, UploadLimits, validate_upload

from .conftest import Built
from .sites import Site, file_digest, make_site, plugin_spec
from .wheelkit import (
    PACKAGE,
    WheelFiles,
    tar_info,
    write_project_tar,
    write_tar,
    write_zip,
    zip_info,
)

WHEEL_NAME = f"{PACKAGE}-0.1.0-py3-none-any.whl"
PROJECT = "peek-plugin-weather"
MIB = 1 << 20


@pytest.fixture
def site(tmp_path: Path, built: Built) -> Site:
    return make_site(tmp_path, built.wheel)


# -- good uploads ---------------------------------------------------------------------


def test_a_scaffolded_wheel_is_accepted_with_its_metadata(site: Site, built: Built) -> None:
    with validate_upload(built.wheel, staging=site.staging) as upload:
        assert (upload.name, str(upload.version), upload.kind) == (PACKAGE, "0.1.0", "wheel")
        assert upload.sha256 == upload.upload_sha256 == file_digest(built.wheel)
        assert upload.plugin.wheel == WHEEL_NAME
        assert upload.plugin.hooks == {
            "server": f"{PACKAGE}._private.server:ServerHook",
            "client": f"{PACKAGE}._private.client:ClientHook",
        }
        assert upload.plugin.requires == {}
        assert any(r.startswith("peek-platform") for r in upload.plugin.requires_dist)
        assert upload.signed_by is None
        # The wheel waits in the staging area, nowhere else.
        assert upload.wheel.path.is_relative_to(site.staging.root)
    assert site.staged() == []


@pytest.mark.parametrize("archive", ["project_zip", "project_tar"])
def test_a_project_archive_is_built_offline_into_a_pure_wheel_and_accepted(
    site: Site, built: Built, archive: str
) -> None:
    source: Path = getattr(built, archive)
    before = site.snapshot()

    with validate_upload(source, staging=site.staging) as upload:
        assert upload.kind == ("zip" if archive == "project_zip" else "tar.gz")
        assert upload.wheel.filename == WHEEL_NAME
        assert upload.wheel.is_pure
        assert upload.upload_sha256 == file_digest(source)
        assert upload.sha256 == file_digest(upload.wheel.path)

    assert site.staged() == []
    assert site.snapshot() == before


def test_storing_an_accepted_upload_puts_the_wheel_in_the_store_under_its_hash(
    site: Site, built: Built
) -> None:
    other = built.files().with_version("0.2.0").write(site.inputs)
    with validate_upload(other, staging=site.staging) as upload:
        plugin = upload.store_in(site.store)

    assert plugin.version == "0.2.0"
    assert file_digest(site.store.get(plugin.sha256)) == file_digest(other)


def test_a_new_version_replaces_the_same_plugin_in_the_current_set(
    site: Site, built: Built
) -> None:
    newer = built.files().with_version("0.2.0").write(site.inputs)
    current = [
        plugin_spec("weather", "0.1.0"),
        plugin_spec("station", requires={"weather": ">=0.2"}),
    ]

    with validate_upload(newer, staging=site.staging, current=current) as upload:
        assert str(upload.version) == "0.2.0"


def test_a_requirement_met_by_the_current_set_is_accepted(site: Site, built: Built) -> None:
    kit = built.files()
    needs_user = kit.with_manifest(kit.manifest() + 'user = ">=0.1"\n').write(site.inputs)

    with validate_upload(
        needs_user, staging=site.staging, current=[plugin_spec("user", "0.1.0")]
    ) as upload:
        assert upload.plugin.requires == {"user": ">=0.1"}


def test_a_requires_dist_on_a_plugin_of_the_set_is_met_by_that_plugin(
    site: Site, built: Built
) -> None:
    wheel = built.files().with_requires_dist("peek-plugin-station>=0.3").write(site.inputs)

    with validate_upload(
        wheel, staging=site.staging, current=[plugin_spec("station", "0.3.1")]
    ) as upload:
        assert "peek-plugin-station>=0.3" in upload.plugin.requires_dist


def test_only_the_last_part_of_the_uploaders_file_name_counts(site: Site, built: Built) -> None:
    with validate_upload(
        built.wheel, staging=site.staging, filename=f"C:\\Users\\me\\Downloads\\{WHEEL_NAME}"
    ) as upload:
        assert upload.wheel.filename == WHEEL_NAME


def test_a_relative_data_dir_works_for_builds_and_import_checks(
    tmp_path: Path, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    staging = StagingArea(Path("data") / "uploads")

    with validate_upload(built.project_zip, staging=staging) as upload:
        assert upload.wheel.path.is_absolute()

    assert list(staging.root.iterdir()) == []


def test_a_directory_is_not_an_upload(site: Site) -> None:
    folder = site.inputs / "peek_plugin_weather-0.1.0-py3-none-any.whl"
    folder.mkdir()

    with pytest.raises(UnsupportedUpload, match="is a directory"):
        validate_upload(folder, staging=site.staging)

    assert site.staged() == []


def test_clearing_the_staging_area_removes_what_a_crash_left(site: Site) -> None:
    leftover = site.staging.new()
    (leftover / "half.whl").write_bytes(b"PK")

    assert site.staging.clear() == [leftover]
    assert site.staged() == []


# -- the table of bad uploads -----------------------------------------------------------

Maker = Callable[[Path, Built], Path]


@dataclass(frozen=True)
class Bad:
    make: Maker
    error: type[UploadRejected]
    message: str
    limits: UploadLimits = field(default_factory=UploadLimits)
    current: Sequence[PluginSpec] = ()
    filename: str | None = None


def wheel(edit: Callable[[WheelFiles], WheelFiles], **write: object) -> Maker:
    """A wheel made from the scaffold's by ``edit``."""
    return lambda d, b: edit(b.files()).write(d, **write)  # type: ignore[arg-type]


def manifest(old: str, new: str) -> Maker:
    def edit(kit: WheelFiles) -> WheelFiles:
        text = kit.manifest()
        assert old in text
        return kit.with_manifest(text.replace(old, new))

    return wheel(edit)


def hook_module(code: str) -> Maker:
    return wheel(lambda k: k.put(f"{PACKAGE}/_private/server.py", code))


def raw(name: str, data: bytes | Callable[[Built], bytes]) -> Maker:
    def make(d: Path, b: Built) -> Path:
        path = d / name
        path.write_bytes(data(b) if callable(data) else data)
        return path

    return make


def zipped(name: str, *entries: tuple[str | zipfile.ZipInfo, bytes]) -> Maker:
    def make(d: Path, b: Built) -> Path:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about duplicate names
            return write_zip(d / name, entries)

    return make


def tarred(*members: tuple[tarfile.TarInfo, bytes | None]) -> Maker:
    return lambda d, b: write_tar(d / "project.tar.gz", members)


def project(edit: Callable[[dict[str, bytes]], dict[str, bytes]], kind: str = "zip") -> Maker:
    """The scaffolded project, edited, as a .zip (or .tar.gz)."""

    def make(d: Path, b: Built) -> Path:
        files = edit(b.project_tree())
        if kind == "zip":
            return write_zip(d / "project.zip", files.items())
        return write_project_tar(d / "project.tar.gz", files)

    return make


def put(files: dict[str, bytes], name: str, text: str) -> dict[str, bytes]:
    return {**files, f"{PROJECT}/{name}": text.encode()}


def pyproject(old: str, new: str) -> Callable[[dict[str, bytes]], dict[str, bytes]]:
    def edit(files: dict[str, bytes]) -> dict[str, bytes]:
        text = files[f"{PROJECT}/pyproject.toml"].decode()
        assert old in text
        return put(files, "pyproject.toml", text.replace(old, new))

    return edit


def record_without(name: str) -> Callable[[WheelFiles], WheelFiles]:
    """A wheel whose RECORD does not list ``name`` (but the archive has it)."""

    def edit(kit: WheelFiles) -> WheelFiles:
        record = f"{kit.dist_info}/RECORD"
        lines = [ln for ln in kit.text(record).splitlines() if not ln.startswith(name + ",")]
        return kit.put(record, "\n".join(lines) + "\n")

    return edit


def _encrypted(d: Path) -> Path:
    # zipfile cannot write encrypted entries: set the "encrypted" flag bit in both headers.
    path = write_zip(d / "p.zip", [("secret.py", b"x")])
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1
    path.write_bytes(bytes(data))
    return path


def _wheel_with_symlink(d: Path, b: Built) -> Path:
    kit = b.files()
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = list(kit.files.items())
    entries.append((zip_info(f"{PACKAGE}/link", stat.S_IFLNK | 0o777), b"/etc/shadow"))
    return write_zip(d / WHEEL_NAME, entries)


def _wheel_with_duplicate(d: Path, b: Built) -> Path:
    kit = b.files()
    entries: list[tuple[str | zipfile.ZipInfo, bytes]] = list(kit.files.items())
    entries.append((f"{PACKAGE}/__init__.py", b"print('second copy')\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_zip(d / WHEEL_NAME, entries)


ZEROS = b"\0" * (4 * MIB)
SMALL = UploadLimits(max_upload_bytes=1024)
HANG = "import time\nwhile True:\n    time.sleep(0.05)\n"

BAD_UPLOADS = {
    # size and type
    "too-large": Bad(
        lambda d, b: b.wheel, UploadTooLarge, r"larger than the upload limit of 1024 bytes", SMALL
    ),
    "unknown-extension": Bad(
        raw("plugin.rar", b"Rar!"), UnsupportedUpload, r"neither a wheel \(\.whl\) nor a \.zip"
    ),
    "unusable-file-name": Bad(
        lambda d, b: b.wheel, UnsupportedUpload, r"not a usable file name", filename=".whl"
    ),
    "wheel-that-is-not-a-zip": Bad(
        raw(WHEEL_NAME, b"#!/bin/sh\nrm -rf /\n"), UnsupportedUpload, r"is not a wheel \(a zip"
    ),
    "tar-gz-that-is-not-gzip": Bad(
        raw("project.tar.gz", lambda b: b.project_zip.read_bytes()),
        UnsupportedUpload,
        r"not a gzip-compressed tar archive",
    ),
    "truncated-zip": Bad(
        raw("project.zip", lambda b: b.project_zip.read_bytes()[:300]),
        BadArchive,
        r"not a readable zip archive",
    ),
    "corrupt-gzip": Bad(
        raw("project.tar.gz", b"\x1f\x8b\x08\x00" + b"garbage" * 40),
        BadArchive,
        r"not a readable \.tar\.gz archive",
    ),
    "encrypted-zip-entry": Bad(
        lambda d, b: _encrypted(d), BadArchive, r"'secret\.py' is encrypted"
    ),
    # paths
    "zip-dot-dot": Bad(
        zipped("p.zip", ("p/../../evil.py", b"x")), UnsafeEntry, r"'\.\.' in path \(path traversal"
    ),
    "zip-absolute-path": Bad(
        zipped("p.zip", ("/etc/cron.d/evil", b"x")), UnsafeEntry, r"absolute path"
    ),
    "zip-drive-letter": Bad(
        zipped("p.zip", ("C:/Windows/evil.py", b"x")), UnsafeEntry, r"drive letter"
    ),
    "zip-backslash": Bad(
        zipped("p.zip", ("p\\..\\..\\evil.py", b"x")), UnsafeEntry, r"backslash in path"
    ),
    "tar-dot-dot": Bad(tarred((tar_info("p/../../evil.py"), b"x")), UnsafeEntry, r"path traversal"),
    "tar-absolute-path": Bad(tarred((tar_info("/tmp/evil.py"), b"x")), UnsafeEntry, r"absolute"),
    "wheel-dot-dot": Bad(
        wheel(lambda k: k.put(f"{PACKAGE}/../../evil.py", "x")), UnsafeEntry, r"path traversal"
    ),
    # links and special files
    "zip-symlink": Bad(
        zipped("p.zip", (zip_info("p/link", stat.S_IFLNK | 0o777), b"/etc/passwd")),
        UnsafeEntry,
        r"'p/link': symbolic link",
    ),
    "zip-fifo": Bad(
        zipped("p.zip", (zip_info("p/pipe", stat.S_IFIFO | 0o644), b"")),
        UnsafeEntry,
        r"special file \(fifo\)",
    ),
    "zip-character-device": Bad(
        zipped("p.zip", (zip_info("p/tty", stat.S_IFCHR | 0o644), b"")),
        UnsafeEntry,
        r"special file \(character device\)",
    ),
    "wheel-symlink": Bad(_wheel_with_symlink, UnsafeEntry, r"symbolic link"),
    "tar-symlink": Bad(
        tarred((tar_info("p/link", tarfile.SYMTYPE, "/etc/passwd"), None)),
        UnsafeEntry,
        r"'p/link': symbolic link to '/etc/passwd'",
    ),
    "tar-hard-link": Bad(
        tarred((tar_info("p/a.py"), b"x"), (tar_info("p/b.py", tarfile.LNKTYPE, "p/a.py"), None)),
        UnsafeEntry,
        r"hard link to 'p/a\.py'",
    ),
    "tar-fifo": Bad(tarred((tar_info("p/pipe", tarfile.FIFOTYPE), None)), UnsafeEntry, r"\(fifo\)"),
    "tar-character-device": Bad(
        tarred((tar_info("p/null", tarfile.CHRTYPE), None)), UnsafeEntry, r"character device"
    ),
    "tar-block-device": Bad(
        tarred((tar_info("p/sda", tarfile.BLKTYPE), None)), UnsafeEntry, r"block device"
    ),
    # bombs
    "zip-compression-ratio": Bad(
        zipped("p.zip", ("p/zeros.bin", ZEROS)), ArchiveBomb, r"'p/zeros\.bin' expands \d+ times"
    ),
    "zip-total-size": Bad(
        lambda d, b: b.project_zip,
        ArchiveBomb,
        r"unpacks to more than the limit of 2048 bytes",
        UploadLimits(archive=ArchiveLimits(max_unpacked_bytes=2048)),
    ),
    "zip-entry-count": Bad(
        lambda d, b: b.project_zip,
        ArchiveBomb,
        r"more than 3 entries",
        UploadLimits(archive=ArchiveLimits(max_entries=3)),
    ),
    "tar-compression-ratio": Bad(
        tarred((tar_info("p/zeros.bin"), ZEROS)), ArchiveBomb, r"the archive expands \d+ times"
    ),
    "tar-total-size": Bad(
        lambda d, b: b.project_tar,
        ArchiveBomb,
        r"unpacks to more than the limit of 2048 bytes",
        UploadLimits(archive=ArchiveLimits(max_unpacked_bytes=2048)),
    ),
    "wheel-compression-ratio": Bad(
        wheel(lambda k: k.put(f"{PACKAGE}/zeros.bin", ZEROS)), ArchiveBomb, r"expands \d+ times"
    ),
    # duplicates
    "zip-duplicate-entry": Bad(
        zipped("p.zip", ("p/setup.py", b"a"), ("p/setup.py", b"b")),
        DuplicateEntry,
        r"'p/setup\.py' appears more than once",
    ),
    "zip-duplicate-after-normalising": Bad(
        zipped("p.zip", ("p/setup.py", b"a"), ("p//./setup.py", b"b")),
        DuplicateEntry,
        r"'p//\./setup\.py' appears more than once",
    ),
    "zip-file-used-as-directory": Bad(
        zipped("p.zip", ("p/mod", b"a"), ("p/mod/x.py", b"b")), DuplicateEntry, r"'p/mod/x\.py'"
    ),
    "tar-duplicate-entry": Bad(
        tarred((tar_info("p/setup.py"), b"a"), (tar_info("p/setup.py"), b"b")),
        DuplicateEntry,
        r"appears more than once",
    ),
    "wheel-duplicate-entry": Bad(_wheel_with_duplicate, DuplicateEntry, r"__init__\.py' appears"),
    # wheel structure and RECORD
    "wheel-file-name": Bad(
        lambda d, b: b.wheel,
        BadWheel,
        r"'weather\.whl' is not a wheel file name",
        filename="weather.whl",
    ),
    "wheel-for-another-platform": Bad(
        lambda d, b: b.wheel,
        BadWheel,
        r"built for cp27-cp27m-win32, which this platform .* cannot run",
        filename=f"{PACKAGE}-0.1.0-cp27-cp27m-win32.whl",
    ),
    "record-hash-mismatch": Bad(
        wheel(lambda k: k.put(f"{PACKAGE}/__init__.py", "print('changed')\n"), record=False),
        BadWheel,
        rf"RECORD does not match .*hash / size of {PACKAGE}/__init__\.py didn't match RECORD",
    ),
    "file-missing-from-record": Bad(
        wheel(record_without(f"{PACKAGE}/_private/server.py"), record=False),
        BadWheel,
        rf"{PACKAGE}/_private/server\.py is not mentioned in RECORD",
    ),
    "two-dist-info-directories": Bad(
        wheel(lambda k: k.put("other-1.0.dist-info/METADATA", "Name: other\n")),
        BadWheel,
        r"exactly one \.dist-info",
    ),
    "no-wheel-file": Bad(
        wheel(lambda k: k.drop(f"{k.dist_info}/WHEEL")), BadWheel, r"has no \.dist-info/WHEEL"
    ),
    "metadata-version-differs": Bad(
        wheel(
            lambda k: k.put(
                f"{k.dist_info}/METADATA",
                k.text(f"{k.dist_info}/METADATA").replace("Version: 0.1.0", "Version: 9.9"),
            )
        ),
        BadWheel,
        r"METADATA says version 9\.9, the file name 0\.1\.0",
    ),
    "metadata-invalid": Bad(
        wheel(
            lambda k: k.put(
                f"{k.dist_info}/METADATA",
                "Metadata-Version: 99\nName: peek-plugin-weather\nVersion: 0.1.0\n",
            )
        ),
        BadPluginMetadata,
        r"METADATA is invalid",
    ),
    "another-top-level-package": Bad(
        wheel(lambda k: k.put("requests/__init__.py", "")),
        BadWheel,
        r"installs 'requests/__init__\.py' outside its package peek_plugin_weather",
    ),
    "scripts-in-data": Bad(
        wheel(lambda k: k.put(f"{PACKAGE}-0.1.0.data/scripts/run", "#!/bin/sh\n")),
        BadWheel,
        r"outside its package",
    ),
    # plugin metadata
    "name-outside-peek-plugin": Bad(
        lambda d, b: b.wheel,
        BadPluginName,
        r"'weather' is not a Peek plugin name",
        filename="weather-0.1.0-py3-none-any.whl",
    ),
    "no-plugin-toml": Bad(
        wheel(lambda k: k.drop(f"{PACKAGE}/plugin.toml")),
        BadPluginMetadata,
        r"has no peek_plugin_weather/plugin\.toml",
    ),
    "plugin-toml-not-toml": Bad(
        wheel(lambda k: k.with_manifest("title = [unclosed\n")),
        BadPluginMetadata,
        r"plugin\.toml: plugin\.toml is not valid TOML",
    ),
    "plugin-toml-unknown-key": Bad(
        wheel(lambda k: k.with_manifest("colour = 'red'\n" + k.manifest())),
        BadPluginMetadata,
        r"unknown keys in plugin\.toml: colour",
    ),
    "hook-outside-the-package": Bad(
        manifest(f'server = "{PACKAGE}._private.server:ServerHook"', 'server = "os.path:join"'),
        BadPluginMetadata,
        r"hooks\.server = 'os\.path:join' is outside the plugin's own package",
    ),
    "no-entry-points": Bad(
        wheel(lambda k: k.drop(f"{k.dist_info}/entry_points.txt")),
        BadPluginMetadata,
        r"has no entry points; declare the plugin with",
    ),
    "no-peek-plugins-entry-point": Bad(
        wheel(lambda k: k.put(f"{k.dist_info}/entry_points.txt", "[console_scripts]\nx = y:z\n")),
        BadPluginMetadata,
        r"no 'peek\.plugins' entry point",
    ),
    "entry-point-not-the-package": Bad(
        wheel(
            lambda k: k.put(f"{k.dist_info}/entry_points.txt", f"[peek.plugins]\n{PACKAGE} = os\n")
        ),
        BadPluginMetadata,
        rf"must be exactly {PACKAGE} = {PACKAGE} .* found: {PACKAGE} = os",
    ),
    "peek-version-excluded": Bad(
        manifest('peek = ">=0.1,<1"', 'peek = ">=99"'),
        PeekVersionExcluded,
        rf"supports Peek >=99, but this is Peek {re.escape(peek.__version__)}",
    ),
    # the plugin set
    "requires-a-missing-api": Bad(
        wheel(lambda k: k.with_manifest(k.manifest() + 'nosuch = ">=1"\n')),
        UnsatisfiedRequirements,
        r"requires 'nosuch', which no enabled plugin provides",
    ),
    "requires-a-version-the-set-lacks": Bad(
        wheel(lambda k: k.with_manifest(k.manifest() + 'user = ">=2"\n')),
        UnsatisfiedRequirements,
        r"requires 'user' >=2, but peek_plugin_user provides version 0\.1\.0",
        current=(plugin_spec("user", "0.1.0"),),
    ),
    "breaks-a-plugin-of-the-set": Bad(
        lambda d, b: b.wheel,
        UnsatisfiedRequirements,
        r"peek_plugin_station would stop working: .*requires 'weather' <0\.1",
        current=(
            plugin_spec("weather", "0.0.9"),
            plugin_spec("station", requires={"weather": "<0.1"}),
        ),
    ),
    "provides-an-api-already-provided": Bad(
        wheel(lambda k: k.with_manifest(k.manifest() + '[provides]\nuser = "1.0"\n')),
        UnsatisfiedRequirements,
        r"API 'user' is provided by more than one enabled plugin",
        current=(plugin_spec("user", "0.1.0"),),
    ),
    "requires-dist-not-installed": Bad(
        wheel(lambda k: k.with_requires_dist("peek-test-no-such-library>=1")),
        UnsatisfiedRequirements,
        r"needs peek-test-no-such-library>=1, which is not installed on this platform",
    ),
    "requires-dist-version-not-installed": Bad(
        wheel(lambda k: k.with_requires_dist("packaging<1")),
        UnsatisfiedRequirements,
        r"needs packaging<1, but packaging \S+ is what this platform has",
    ),
    # the import check
    "hook-module-raises": Bad(
        hook_module("raise ImportError('no such thing as weather')\n"),
        ImportCheckFailed,
        r"fails importing peek_plugin_weather\._private\.server: ImportError: no such thing",
    ),
    "hook-class-missing": Bad(
        hook_module("class SomethingElse:\n    pass\n"),
        ImportCheckFailed,
        r"module peek_plugin_weather\._private\.server has no attribute ServerHook",
    ),
    "hook-module-exits": Bad(
        hook_module("raise SystemExit(4)\n"), ImportCheckFailed, r"SystemExit: 4"
    ),
    "import-reaches-the-network": Bad(
        hook_module("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=5)\n"),
        ImportCheckFailed,
        r"fails importing peek_plugin_weather\._private\.server: PermissionError: \[Errno 13\]",
    ),
    "import-hangs": Bad(
        hook_module(HANG),
        ImportCheckFailed,
        r"importing did not finish within 1\.5 s",
        UploadLimits(import_timeout=1.5),
    ),
    # projects
    "archive-without-a-project": Bad(
        zipped("p.zip", ("docs/README.md", b"hello")),
        BadProject,
        r"holds no Python project: no pyproject\.toml or setup\.py",
    ),
    "pyproject-not-toml": Bad(
        project(lambda f: put(f, "pyproject.toml", "[project\n")),
        BadProject,
        r"pyproject\.toml is not valid TOML",
    ),
    "build-backend-not-installed": Bad(
        project(
            pyproject(
                'requires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"',
                'requires = ["peek-test-missing-backend>=1"]\nbuild-backend = "missing_backend"',
            )
        ),
        BuildBackendUnavailable,
        r"needs peek-test-missing-backend>=1, which this platform does not have.*upload the \.whl",
    ),
    "build-fails": Bad(
        project(lambda f: put(f, "setup.py", "raise RuntimeError('boom in setup.py')\n")),
        BuildFailed,
        r"(?s)the build exited 1.*boom in setup\.py",
    ),
    "build-hangs": Bad(
        project(lambda f: put(f, "setup.py", HANG), kind="tar.gz"),
        BuildFailed,
        r"did not finish within 2 s",
        UploadLimits(build_timeout=2),
    ),
    "project-named-outside-peek-plugin": Bad(
        project(pyproject('name = "peek-plugin-weather"', 'name = "weather-tools"')),
        BadPluginName,
        r"'weather-tools' is not a Peek plugin name",
    ),
}


def test_the_table_has_at_least_25_bad_uploads() -> None:
    assert len(BAD_UPLOADS) >= 25


@pytest.mark.parametrize("case", BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
def test_bad_upload_is_refused_with_its_reason_and_changes_nothing(
    site: Site, built: Built, case: Bad
) -> None:
    upload = case.make(site.inputs, built)
    upload_digest = file_digest(upload)
    before = site.snapshot()

    with pytest.raises(case.error) as caught:
        validate_upload(
            upload,
            staging=site.staging,
            filename=case.filename,
            current=case.current,
            limits=case.limits,
        )

    assert re.search(case.message, str(caught.value)), str(caught.value)
    assert str(caught.value).startswith("upload refused: ")
    assert caught.value.code == case.error.code
    assert site.staged() == []
    assert site.snapshot() == before
    assert file_digest(upload) == upload_digest


def test_too_large_is_an_http_413_and_names_the_size(site: Site, built: Built) -> None:
    with pytest.raises(UploadTooLarge) as caught:
        validate_upload(built.wheel, staging=site.staging, limits=SMALL)

    assert caught.value.http_status == 413
    assert (caught.value.limit, caught.value.size) == (1024, built.wheel.stat().st_size)


def test_other_refusals_are_http_422(site: Site, built: Built) -> None:
    with pytest.raises(BadPluginName) as caught:
        validate_upload(built.wheel, staging=site.staging, filename="x-1.0-py3-none-any.whl")

    assert caught.value.http_status == 422
