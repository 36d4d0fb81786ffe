"""Finding installed plugins: entry points of group ``peek.plugins`` plus their ``plugin.toml``.

A plugin distribution declares::

    [project.entry-points."peek.plugins"]
    peek_plugin_noop = "peek_plugin_noop"

Discovery reads only metadata: no plugin code is imported here. This is
blocking file I/O; services call it in an executor.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import Distribution, EntryPoint, entry_points
from pathlib import Path
from typing import Any

from peek.config import ServiceKind
from peek.plugin.errors import ManifestError, PluginError, PluginNotInstalled
from peek.plugin.manifest import (
    MANIFEST_FILE,
    PluginManifest,
    load_manifest_toml,
    manifest_from_data,
    parse_manifest,
)

__all__ = ["ENTRY_POINT_GROUP", "PluginSpec", "discover", "read_manifest_file"]

ENTRY_POINT_GROUP = "peek.plugins"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PluginSpec:
    """A plugin ready to be resolved and loaded: its manifest and where its hooks are.

    ``hook_classes`` short-cuts the import of ``manifest.hooks`` (tests and
    benchmarks build plugins in memory this way).
    """

    manifest: PluginManifest
    hook_classes: Mapping[ServiceKind, Callable[[], object]] = field(default_factory=dict)
    package_dir: Path | None = None

    @property
    def name(self) -> str:
        return self.manifest.name

    def hook_factory(self, kind: ServiceKind) -> Callable[[], object]:
        """Import (if needed) and return the hook class for ``kind``; raises on import errors."""
        if kind in self.hook_classes:
            return self.hook_classes[kind]
        module_name, _, attr = self.manifest.hooks[kind].partition(":")
        module = importlib.import_module(module_name)
        try:
            factory: Callable[[], object] = getattr(module, attr)
        except AttributeError:
            raise ManifestError(
                self.name, f"hooks.{kind}: module {module_name} has no attribute {attr}"
            ) from None
        return factory


def discover(
    only: Iterable[str] | None = None,
    *,
    cache_file: Path | None = None,
) -> tuple[list[PluginSpec], list[PluginError]]:
    """Every installed plugin (or those named in ``only``), sorted by name.

    Returns the specs and one error per plugin whose metadata is broken or
    that ``only`` names but is not installed. Blocking.

    With ``cache_file``, what a scan found is kept there and reused while it
    is still true: no entry of ``sys.path`` changed (installing or removing a
    distribution changes its directory) and no ``plugin.toml`` changed. This
    is the import system's own trick (directory mtimes), applied to the
    entry-point scan and the TOML parse, which otherwise cost as much as a
    third of importing the plugins.
    """
    found = _read_cache(cache_file) if cache_file is not None else None
    if found is None:
        found = _scan()
        if cache_file is not None:
            _write_cache(cache_file, found)
    wanted = set(only) if only is not None else None
    specs: list[PluginSpec] = []
    errors: list[PluginError] = []
    for entry in found:
        if wanted is not None and entry.name not in wanted:
            continue
        try:
            specs.append(entry.spec())
        except PluginError as exc:
            errors.append(exc)
    for missing in sorted((wanted or set()) - {entry.name for entry in found}):
        errors.append(PluginNotInstalled(missing))
    specs.sort(key=lambda spec: spec.name)
    return specs, errors


@dataclass(frozen=True)
class _Found:
    """One plugin as a scan found it: enough to build its spec without the scan."""

    name: str
    version: str = ""
    package_dir: str = ""
    # (st_mtime_ns, st_size) of plugin.toml when it was read.
    stamp: tuple[int, int] | None = None
    data: dict[str, Any] | None = None
    problem: str | None = None

    def spec(self) -> PluginSpec:
        if self.problem is not None or self.data is None:
            raise ManifestError(self.name, self.problem or "no metadata")
        manifest = manifest_from_data(self.name, self.version, self.data)
        return PluginSpec(manifest=manifest, package_dir=Path(self.package_dir))


def _scan() -> list[_Found]:
    found: list[_Found] = []
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:
            # The first distribution on sys.path wins, as it does for imports.
            continue
        seen.add(ep.name)
        try:
            found.append(_from_entry_point(ep))
        except ManifestError as exc:
            found.append(_Found(ep.name, problem=exc.problem))
    return found


def _from_entry_point(ep: EntryPoint) -> _Found:
    name = ep.name
    if ep.value != name:
        raise ManifestError(
            name,
            f"entry point must be '{name} = \"{name}\"' (the import package), not {ep.value!r}",
        )
    dist = ep.dist
    if dist is None:
        raise ManifestError(name, "entry point has no distribution")
    version = _dist_version(dist)
    # A wheel install puts the package beside its .dist-info; an editable
    # install does not, and there the import system knows where it is
    # (find_spec of a top-level package locates it without running it).
    package_dir = Path(str(dist.locate_file(name)))
    try:
        text, stamp = _read_stamped(package_dir / MANIFEST_FILE)
    except FileNotFoundError:
        package_dir = _package_dir(name)
        try:
            text, stamp = _read_stamped(package_dir / MANIFEST_FILE)
        except OSError as exc:
            raise ManifestError(
                name, f"cannot read {package_dir / MANIFEST_FILE}: {exc.strerror}"
            ) from None
    except OSError as exc:
        raise ManifestError(
            name, f"cannot read {package_dir / MANIFEST_FILE}: {exc.strerror}"
        ) from None
    data = load_manifest_toml(name, text)
    return _Found(name, version, str(package_dir), stamp, data)


def _read_stamped(path: Path) -> tuple[str, tuple[int, int]]:
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        return fh.read().decode("utf-8"), (st.st_mtime_ns, st.st_size)


_CACHE_FORMAT = 1


def _path_key() -> list[list[Any]]:
    key: list[list[Any]] = []
    for entry in sys.path:
        try:
            key.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            key.append([entry, None])
    return key


def _read_cache(cache_file: Path) -> list[_Found] | None:
    try:
        raw = json.loads(cache_file.read_bytes())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(raw, dict)
        or raw.get("format") != _CACHE_FORMAT
        or raw.get("python") != sys.version
        or raw.get("path") != _path_key()
    ):
        return None
    try:
        found = [_Found(**{**entry, "stamp": _stamp(entry["stamp"])}) for entry in raw["plugins"]]
    except (KeyError, TypeError):
        return None
    for entry in found:
        if entry.stamp is None:
            continue
        try:
            st = os.stat(Path(entry.package_dir) / MANIFEST_FILE)
        except OSError:
            return None
        if (st.st_mtime_ns, st.st_size) != entry.stamp:
            return None
    return found


def _stamp(value: Any) -> tuple[int, int] | None:
    return (int(value[0]), int(value[1])) if value else None


def _write_cache(cache_file: Path, found: list[_Found]) -> None:
    payload = {
        "format": _CACHE_FORMAT,
        "python": sys.version,
        "path": _path_key(),
        "plugins": [dataclasses.asdict(entry) for entry in found],
    }
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".discovery.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh)
        os.replace(tmp, cache_file)
    except OSError as exc:
        # A cache that cannot be written only costs the next boot a scan.
        log.warning("cannot write the plugin discovery cache %s: %s", cache_file, exc)


def read_manifest_file(name: str, version: str, path: Path) -> PluginManifest:
    """Parse the ``plugin.toml`` at ``path`` for plugin ``name``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(name, f"cannot read {path}: {exc.strerror}") from None
    return parse_manifest(name, version, text)


def _dist_version(dist: Distribution) -> str:
    # Distribution.version parses all of METADATA with the email parser
    # (~36 us a plugin at boot); the Version header is in the first block.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    for line in text.partition("\n\n")[0].splitlines():
        if line.startswith("Version:"):
            return line.removeprefix("Version:").strip()
    return dist.version


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(name, f"import package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
