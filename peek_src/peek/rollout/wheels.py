"""Plugin wheels: read and check one, install one into a directory, import-check a set.

:func:`read_plugin_wheel` checks a wheel the way an upload must be checked:
file name and tags, a single ``.dist-info``, the ``WHEEL`` version, every
``RECORD`` hash (PyPA ``installer``), ``METADATA`` (``packaging.metadata``),
the ``peek.plugins`` entry point, that it holds nothing but its own package,
and its ``plugin.toml`` (:func:`peek.plugin.manifest.parse_manifest`) with
the Peek version range. :func:`install_wheel` installs a wheel into a
directory of its own with ``installer``; :func:`import_check` imports plugin
packages and hook modules in an isolated interpreter (``python -I``) with a
deadline. Everything here is blocking.
"""

from __future__ import annotations

import configparser
import email.parser
import json
import re
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile
from packaging.metadata import InvalidMetadata, Metadata
from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from peek.plugin.discovery import ENTRY_POINT_GROUP
from peek.plugin.errors import ManifestError
from peek.plugin.manifest import MANIFEST_FILE, PluginManifest, parse_manifest
from peek.rollout.errors import (
    BadPluginMetadata,
    BadPluginName,
    BadWheel,
    ImportCheckFailed,
    PeekVersionExcluded,
)
from peek.rollout.sandbox import run_bounded, scrubbed_env

__all__ = [
    "DEFAULT_IMPORT_TIMEOUT",
    "ImportTarget",
    "PluginWheel",
    "import_check",
    "install_wheel",
    "read_plugin_wheel",
]

DEFAULT_IMPORT_TIMEOUT = 60.0
_PACKAGE_RE = re.compile(r"^peek_plugin_[a-z][a-z0-9_]*$")
_DIST_PREFIX = "peek-plugin-"
# The marker before the import check's one line of JSON on stdout: a plugin may print too.
_RESULT_MARK = "@@peek-import-check@@ "
_RECORD_ISSUES_SHOWN = 3


@dataclass(frozen=True)
class PluginWheel:
    """A plugin wheel that passed :func:`read_plugin_wheel`.

    ``package`` is the import package (``peek_plugin_weather``), ``name``
    the canonical distribution name (``peek-plugin-weather``),
    ``requires_dist`` the PEP 508 requirements of its ``METADATA``.
    """

    path: Path
    filename: str
    name: str
    package: str
    version: Version
    manifest: PluginManifest
    requires_dist: tuple[str, ...]
    tags: frozenset[Tag]
    metadata: Metadata = field(compare=False, repr=False)

    @property
    def is_pure(self) -> bool:
        """Pure Python: built for any platform and no particular ABI."""
        return all(tag.abi == "none" and tag.platform == "any" for tag in self.tags)


def read_plugin_wheel(path: Path, peek_version: str) -> PluginWheel:
    """Check the plugin wheel at ``path`` (whose name is the wheel's file name).

    Raises :class:`BadWheel`, :class:`BadPluginName`,
    :class:`BadPluginMetadata` or :class:`PeekVersionExcluded` with the first
    problem found. The archive itself (paths, links, sizes) must already have
    passed :func:`peek.rollout.archives.inspect_zip`. Blocking.
    """
    filename = path.name
    try:
        dist, version, _build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        raise BadWheel(
            f"{filename!r} is not a wheel file name (name-version-python-abi-platform.whl)"
        ) from None
    if not dist.startswith(_DIST_PREFIX):
        raise BadPluginName(dist)
    package = dist.replace("-", "_")
    if not _PACKAGE_RE.match(package):
        raise BadPluginName(dist)
    supported = set(sys_tags())
    if not tags & supported:
        shown = ", ".join(sorted(str(t) for t in tags))
        raise BadWheel(
            f"the wheel is built for {shown}, which this platform "
            f"({next(iter(sys_tags()))}) cannot run"
        )
    try:
        with zipfile.ZipFile(path) as zf:
            source = WheelFile(zf)
            metadata, entry_points, manifest_text = _read_dist(source, zf, package)
    except zipfile.BadZipFile as exc:
        raise BadWheel(f"the wheel is not a readable zip archive: {exc}") from None

    if canonicalize_name(metadata.name) != dist:
        raise BadWheel(f"METADATA names {metadata.name!r}, the file name {dist!r}")
    if metadata.version != version:
        raise BadWheel(f"METADATA says version {metadata.version}, the file name {version}")
    _check_entry_point(entry_points, package)
    if manifest_text is None:
        raise BadPluginMetadata(
            f"the wheel has no {package}/{MANIFEST_FILE}; a plugin ships its metadata "
            f"in its package (and lists it as package data)"
        )
    try:
        manifest = parse_manifest(package, str(version), manifest_text)
    except ManifestError as exc:
        raise BadPluginMetadata(f"{package}/{MANIFEST_FILE}: {exc.problem}") from None
    for kind, ref in manifest.hooks.items():
        module = ref.partition(":")[0]
        if module != package and not module.startswith(package + "."):
            raise BadPluginMetadata(
                f"hooks.{kind} = {ref!r} is outside the plugin's own package {package}"
            )
    if not manifest.peek.contains(Version(peek_version), prereleases=True):
        raise PeekVersionExcluded(package, str(manifest.peek), peek_version)
    return PluginWheel(
        path=path,
        filename=filename,
        name=dist,
        package=package,
        version=version,
        manifest=manifest,
        requires_dist=tuple(str(r) for r in metadata.requires_dist or ()),
        tags=tags,
        metadata=metadata,
    )


def _read_dist(
    source: WheelFile, zf: zipfile.ZipFile, package: str
) -> tuple[Metadata, str | None, str | None]:
    try:
        dist_info = source.dist_info_dir
    except ValueError as exc:
        raise BadWheel(f"the wheel's .dist-info is wrong: {exc}") from None
    data_dir = source.data_dir
    manifest_names = {
        f"{package}/{MANIFEST_FILE}",
        *(f"{data_dir}/{scheme}/{package}/{MANIFEST_FILE}" for scheme in ("purelib", "platlib")),
    }
    manifest_text: str | None = None
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        if not _inside_plugin(name, package, dist_info, data_dir):
            raise BadWheel(
                f"the wheel installs {name!r} outside its package {package}; "
                "a plugin wheel holds its own package only"
            )
        if name in manifest_names:
            manifest_text = _decode(zf.read(info), name)

    wheel_info = email.parser.Parser().parsestr(_dist_text(source, "WHEEL"))
    wheel_version = wheel_info.get("Wheel-Version", "")
    if not wheel_version.startswith("1."):
        raise BadWheel(f"unsupported Wheel-Version {wheel_version!r} (Peek reads 1.x)")
    try:
        source.validate_record(validate_contents=True)
    except ValueError as exc:
        issues: list[str] = list(getattr(exc, "issues", [str(exc)]))
        prefix = f"In {zf.filename}, "
        shown = [issue.removeprefix(prefix) for issue in issues[:_RECORD_ISSUES_SHOWN]]
        more = len(issues) - len(shown)
        raise BadWheel(
            "RECORD does not match the wheel's contents: "
            + "; ".join(shown)
            + (f" (and {more} more)" if more > 0 else "")
        ) from None
    try:
        metadata = Metadata.from_email(_dist_text(source, "METADATA"), validate=True)
    except (ExceptionGroup, InvalidMetadata) as exc:
        problems = (
            [str(e) for e in exc.exceptions] if isinstance(exc, ExceptionGroup) else [str(exc)]
        )
        raise BadPluginMetadata(f"METADATA is invalid: {'; '.join(problems)}") from None
    entry_points = (
        _dist_text(source, "entry_points.txt")
        if "entry_points.txt" in source.dist_info_filenames
        else None
    )
    return metadata, entry_points, manifest_text


def _inside_plugin(name: str, package: str, dist_info: str, data_dir: str) -> bool:
    top, _, rest = name.partition("/")
    if top in (package, dist_info):
        return True
    if top == data_dir:
        scheme, _, inner = rest.partition("/")
        return scheme in ("purelib", "platlib") and inner.startswith(package + "/")
    return False


def _dist_text(source: WheelFile, filename: str) -> str:
    try:
        return source.read_dist_info(filename)
    except KeyError:
        raise BadWheel(f"the wheel has no .dist-info/{filename}") from None
    except UnicodeDecodeError:
        raise BadWheel(f".dist-info/{filename} is not UTF-8") from None


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadPluginMetadata(f"{name} is not UTF-8") from None


def _check_entry_point(text: str | None, package: str) -> None:
    wanted = f'[project.entry-points."{ENTRY_POINT_GROUP}"] {package} = "{package}"'
    if text is None:
        raise BadPluginMetadata(
            f"the wheel has no entry points; declare the plugin with {wanted} in pyproject.toml"
        )
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise BadPluginMetadata(f"entry_points.txt cannot be read: {exc}") from None
    if not parser.has_section(ENTRY_POINT_GROUP):
        raise BadPluginMetadata(
            f"the wheel has no '{ENTRY_POINT_GROUP}' entry point; declare it with {wanted}"
        )
    found = {key.strip(): value.strip() for key, value in parser.items(ENTRY_POINT_GROUP)}
    if found != {package: package}:
        shown = ", ".join(f"{k} = {v}" for k, v in sorted(found.items()))
        raise BadPluginMetadata(
            f"the '{ENTRY_POINT_GROUP}' entry point must be exactly "
            f"{package} = {package} (the plugin's own package), found: {shown}"
        )


# -- install -----------------------------------------------------------------


def install_wheel(wheel: Path, target: Path, filename: str | None = None) -> None:
    """Install ``wheel`` into the directory ``target`` (made if missing), like ``pip --target``.

    ``filename`` is the wheel's real file name when ``wheel`` is stored
    under another (the artifact store keeps ``<sha256>.whl``). ``RECORD``
    is checked before anything is written; scripts, headers and data go to
    ``bin/``, ``include/`` and ``data/`` below ``target``. No bytecode is
    compiled. Raises :class:`BadWheel` if the wheel does not install. Blocking.
    """
    target.mkdir(parents=True, exist_ok=True)
    name = filename or wheel.name
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".wheel-") as tmp:
        # installer reads the distribution name and version from the file name.
        named = Path(tmp) / name
        named.symlink_to(wheel.resolve())
        destination = SchemeDictionaryDestination(
            scheme_dict={
                "purelib": str(target),
                "platlib": str(target),
                "headers": str(target / "include"),
                "scripts": str(target / "bin"),
                "data": str(target / "data"),
            },
            interpreter=sys.executable,
            script_kind="posix",
        )
        try:
            with WheelFile.open(named) as source:
                source.validate_record(validate_contents=True)
                install(source, destination, additional_metadata={"INSTALLER": b"peek\n"})
        except (ValueError, KeyError, zipfile.BadZipFile, FileExistsError) as exc:
            raise BadWheel(f"{name} does not install: {exc}") from None


# -- import check --------------------------------------------------------------


@dataclass(frozen=True)
class ImportTarget:
    """One plugin to import-check: its package, its hooks, and the directory it must come from.

    ``hooks`` are ``module:Class`` references as in ``plugin.toml``.
    ``directory`` (if given) is where the package must be imported from, so
    that a copy installed elsewhere on the path cannot pass for it.
    """

    plugin: str
    hooks: Sequence[str]
    directory: Path | None = None


_IMPORT_CHECK_SCRIPT = """
import importlib, json, os, sys
spec = json.loads(sys.argv[1])
sys.path[0:0] = spec["path"]
plugin = module = ""
def report(result):
    sys.stdout.write("\\n" + spec["mark"] + json.dumps(result) + "\\n")
    sys.stdout.flush()
try:
    for plugin, directory, hooks in spec["plugins"]:
        module = plugin
        package = importlib.import_module(plugin)
        if directory:
            where = [os.path.realpath(p) for p in getattr(package, "__path__", [])]
            want = os.path.realpath(os.path.join(directory, plugin))
            if want not in where:
                raise ImportError(f"{plugin} was imported from {where}, not from {want}")
        for ref in hooks:
            module, _, attr = ref.partition(":")
            loaded = importlib.import_module(module)
            if attr and not hasattr(loaded, attr):
                raise AttributeError(f"module {module} has no attribute {attr}")
except BaseException as exc:
    report({"plugin": plugin, "module": module, "error": f"{type(exc).__name__}: {exc}"})
    sys.exit(3)
report({"ok": True})
"""


def import_check(
    targets: Sequence[ImportTarget],
    path: Sequence[Path],
    *,
    workdir: Path,
    timeout: float = DEFAULT_IMPORT_TIMEOUT,
    extra_env: Mapping[str, str] | None = None,
) -> None:
    """Import every target's package and hook modules in ``python -I -B`` with ``path`` first.

    ``workdir`` holds the child's home and temporary files. Raises
    :class:`ImportCheckFailed` naming the plugin and module that failed, or
    the deadline. Plugin code runs only in the child. Blocking.
    """
    if not targets:
        return
    spec = {
        "mark": _RESULT_MARK,
        # Absolute: the child runs in its own home directory.
        "path": [str(p.absolute()) for p in path],
        "plugins": [
            [t.plugin, str(t.directory.absolute()) if t.directory else "", list(t.hooks)]
            for t in targets
        ],
    }
    home = Path(tempfile.mkdtemp(dir=workdir.absolute(), prefix="import-check-"))
    env = {**scrubbed_env(home), **(extra_env or {})}
    result = run_bounded(
        [sys.executable, "-I", "-B", "-c", _IMPORT_CHECK_SCRIPT, json.dumps(spec)],
        cwd=home,
        env=env,
        timeout=timeout,
    )
    names = ", ".join(t.plugin for t in targets)
    if result.timed_out:
        raise ImportCheckFailed(names, "", f"importing did not finish within {timeout:g} s")
    report = _last_report(result.stdout)
    if report is None:
        raise ImportCheckFailed(
            names, "", f"the import check exited {result.returncode}: {result.tail(5)}"
        )
    if report.get("ok") and result.returncode == 0:
        return
    raise ImportCheckFailed(
        str(report.get("plugin") or names),
        str(report.get("module", "")),
        str(report.get("error", f"exit code {result.returncode}")),
    )


def _last_report(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(_RESULT_MARK):
            try:
                report = json.loads(line.removeprefix(_RESULT_MARK))
            except ValueError:
                return None
            return report if isinstance(report, dict) else None
    return None
