"""Plugin metadata: the ``plugin.toml`` a plugin ships inside its package.

A plugin ``peek_plugin_<x>`` is a distribution ``peek-plugin-<x>`` whose
import package holds ``plugin.toml``::

    title = "Active tasks"
    peek = ">=0.1,<1"                 # Peek versions this plugin supports

    [hooks]                           # one entry hook per service it runs on
    server = "peek_plugin_active_task._private.server:ServerHook"
    client = "peek_plugin_active_task._private.client:ClientHook"

    [requires]                        # APIs (or plugins) it needs, PEP 440 ranges
    user = ">=0.1"

    [provides]                        # optional: APIs it implements besides its own
    user = "1.0"

    restart = true                    # optional: never swap it inside a running service

``restart = true`` says the plugin cannot be replaced inside a running
process (it keeps state the platform cannot unload, say): a rollout that
changes it restarts the services it runs on instead. Wheels with native
code are always restarted into.

The version is the distribution's. Every plugin provides the API named after
itself (``active_task``) at that version. The file is read without importing
any plugin code, so the dependency graph is resolved before anything runs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, cast

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from peek.config import SERVICE_KINDS, ServiceKind
from peek.plugin.errors import ManifestError
from peek.plugin.ui import UiPage, parse_ui

__all__ = [
    "MANIFEST_FILE",
    "PLUGIN_PREFIX",
    "PluginManifest",
    "api_name",
    "load_manifest_toml",
    "manifest_from_data",
    "parse_manifest",
]

MANIFEST_FILE = "plugin.toml"
PLUGIN_PREFIX = "peek_plugin_"
_NAME_RE = re.compile(r"^peek_plugin_[a-z][a-z0-9_]*$")
_API_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_HOOK_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def api_name(name: str) -> str:
    """The API name for a requirement key: ``peek_plugin_user`` and ``user`` both give ``user``."""
    return name.removeprefix(PLUGIN_PREFIX)


@dataclass(frozen=True, slots=True)
class PluginManifest:
    """What a plugin declares about itself, validated."""

    name: str
    version: Version
    title: str
    hooks: dict[ServiceKind, str]
    requires: dict[str, SpecifierSet] = field(default_factory=dict)
    provides: dict[str, Version] = field(default_factory=dict)
    peek: SpecifierSet = field(default_factory=SpecifierSet)
    restart: bool = False
    #: ``[[ui.pages]]``: pages in the web apps; ``[ui] api``: its UI API module.
    ui_pages: tuple[UiPage, ...] = ()
    ui_api: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def api(self) -> str:
        """The API named after this plugin (``peek_plugin_user`` -> ``user``)."""
        return api_name(self.name)

    @property
    def services(self) -> tuple[ServiceKind, ...]:
        return tuple(kind for kind in SERVICE_KINDS if kind in self.hooks)

    def provided_apis(self) -> dict[str, Version]:
        """Every API this plugin provides, with its version."""
        return {self.api: self.version, **self.provides}


def parse_manifest(name: str, version: str, text: str) -> PluginManifest:
    """Validate the text of a ``plugin.toml`` for distribution ``name`` at ``version``.

    Raises :class:`ManifestError` with the first problem found.
    """
    return manifest_from_data(name, version, load_manifest_toml(name, text))


def load_manifest_toml(name: str, text: str) -> dict[str, Any]:
    """The table in a ``plugin.toml``; :class:`ManifestError` if it is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(name, f"{MANIFEST_FILE} is not valid TOML: {exc}") from None


def manifest_from_data(name: str, version: str, data: dict[str, Any]) -> PluginManifest:
    """Validate a parsed ``plugin.toml`` table; see :func:`parse_manifest`."""
    if not _NAME_RE.match(name):
        raise ManifestError(name, f"plugin names must match {_NAME_RE.pattern}")
    try:
        parsed_version = Version(version)
    except InvalidVersion:
        raise ManifestError(name, f"version {version!r} is not a PEP 440 version") from None

    unknown = set(data) - {"title", "peek", "hooks", "requires", "provides", "ui", "restart"}
    if unknown:
        raise ManifestError(name, f"unknown keys in {MANIFEST_FILE}: {', '.join(sorted(unknown))}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ManifestError(name, "'title' must be a non-empty string")

    hooks = _table(name, data, "hooks")
    if not hooks:
        raise ManifestError(name, "[hooks] must name at least one service")
    for kind, ref in hooks.items():
        if kind not in SERVICE_KINDS:
            raise ManifestError(
                name, f"[hooks] has unknown service '{kind}' (known: {', '.join(SERVICE_KINDS)})"
            )
        if not isinstance(ref, str) or not _HOOK_RE.match(ref):
            raise ManifestError(name, f"hooks.{kind} must look like 'package.module:Class'")

    requires: dict[str, SpecifierSet] = {}
    for key, spec in _table(name, data, "requires").items():
        api = api_name(key)
        if not _API_RE.match(api):
            raise ManifestError(name, f"requires.{key}: not a valid API name")
        requires[api] = _specifier(name, f"requires.{key}", spec)
    if name.removeprefix(PLUGIN_PREFIX) in requires:
        raise ManifestError(name, "a plugin cannot require itself")

    provides: dict[str, Version] = {}
    for key, ver in _table(name, data, "provides").items():
        api = api_name(key)
        if not _API_RE.match(api):
            raise ManifestError(name, f"provides.{key}: not a valid API name")
        try:
            provides[api] = Version(str(ver))
        except InvalidVersion:
            raise ManifestError(name, f"provides.{key}: {ver!r} is not a version") from None

    peek = _specifier(name, "peek", data.get("peek", ""))
    restart = data.get("restart", False)
    if not isinstance(restart, bool):
        raise ManifestError(name, "'restart' must be true or false")
    ui_pages, ui_api = parse_ui(name, data.get("ui", {}))
    return PluginManifest(
        name=name,
        version=parsed_version,
        title=title.strip(),
        hooks=cast(dict[ServiceKind, str], dict(hooks)),
        requires=requires,
        provides=provides,
        peek=peek,
        restart=restart,
        ui_pages=ui_pages,
        ui_api=ui_api,
        raw=data,
    )


def _table(name: str, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ManifestError(name, f"[{key}] must be a table")
    return value


def _specifier(name: str, key: str, value: Any) -> SpecifierSet:
    if not isinstance(value, str):
        raise ManifestError(name, f"{key} must be a version range string like '>=1.0,<2'")
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise ManifestError(name, f"{key}: {value!r} is not a PEP 440 version range") from None
