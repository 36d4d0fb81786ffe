"""Finding installed plugins: entry points of group ``peek.plugins`` plus their ``plugin.toml``.

A plugin distribution declares::

    [project.entry-points."peek.plugins"]
    peek_plugin_noop = "peek_plugin_noop"

Discovery reads only metadata: no plugin code is imported here. This is
blocking file I/O; services call it in an executor.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from peek.config import ServiceKind
from peek.plugin.errors import ManifestError, PluginError, PluginNotInstalled
from peek.plugin.manifest import MANIFEST_FILE, PluginManifest, parse_manifest

__all__ = ["ENTRY_POINT_GROUP", "PluginSpec", "discover", "read_manifest_file"]

ENTRY_POINT_GROUP = "peek.plugins"


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
) -> tuple[list[PluginSpec], list[PluginError]]:
    """Every installed plugin (or those named in ``only``), sorted by name.

    Returns the specs and one error per plugin whose metadata is broken or
    that ``only`` names but is not installed. Blocking.
    """
    wanted = set(only) if only is not None else None
    specs: list[PluginSpec] = []
    errors: list[PluginError] = []
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen or (wanted is not None and ep.name not in wanted):
            # The first distribution on sys.path wins, as it does for imports.
            continue
        seen.add(ep.name)
        try:
            specs.append(_spec_from_entry_point(ep))
        except PluginError as exc:
            errors.append(exc)
    for missing in sorted((wanted or set()) - seen):
        errors.append(PluginNotInstalled(missing))
    specs.sort(key=lambda spec: spec.name)
    return specs, errors


def read_manifest_file(name: str, version: str, path: Path) -> PluginManifest:
    """Parse the ``plugin.toml`` at ``path`` for plugin ``name``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(name, f"cannot read {path}: {exc.strerror}") from None
    return parse_manifest(name, version, text)


def _spec_from_entry_point(ep: EntryPoint) -> PluginSpec:
    name = ep.name
    if ep.value != name:
        raise ManifestError(
            name,
            f"entry point must be '{name} = \"{name}\"' (the import package), not {ep.value!r}",
        )
    dist = ep.dist
    if dist is None:
        raise ManifestError(name, "entry point has no distribution")
    package_dir = _package_dir(name, dist.locate_file(name))
    manifest = read_manifest_file(name, dist.version, package_dir / MANIFEST_FILE)
    return PluginSpec(manifest=manifest, package_dir=package_dir)


def _package_dir(name: str, guess: object) -> Path:
    # A wheel install puts the package beside its .dist-info; an editable
    # install does not, and there the import system knows where it is
    # (find_spec of a top-level package locates it without running it).
    path = Path(str(guess))
    if (path / MANIFEST_FILE).is_file():
        return path
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ManifestError(name, f"import package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
