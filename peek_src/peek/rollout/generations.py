"""Generations: immutable manifests of a whole plugin set, and the states they go through.

A :class:`Generation` says exactly which plugins run, at which version, from
which artifact (SHA-256), with the requirements they declared; it has a
number, the generation it was made from (``parent``), who made it and why.
Its :meth:`~Generation.canonical_json` is byte-for-byte stable (sorted keys,
no spaces, UTC times), so :meth:`~Generation.digest` identifies a generation
on every host, and :meth:`~Generation.plugin_set_digest` identifies just the
plugin set (two generations that run the same plugins share it).

This module is pure data: the platform database keeps generations and their
states, the switch protocol moves them through :class:`GenerationState`, and
host backends prepare them. A generation is never changed after it is made:
:meth:`Generation.derive` makes the next one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from peek.plugin.discovery import PluginSpec
from peek.plugin.errors import ManifestError
from peek.plugin.manifest import manifest_from_data
from peek.rollout.errors import GenerationError, InvalidTransition
from peek.rollout.hashing import SHA256_RE

__all__ = [
    "MANIFEST_FORMAT",
    "Generation",
    "GenerationPlugin",
    "GenerationState",
    "changed_plugins",
]

MANIFEST_FORMAT = 1
_NAME_RE = re.compile(r"^peek_plugin_[a-z][a-z0-9_]*$")


class GenerationState(StrEnum):
    """Where a generation is in its rollout.

    ``proposed``: validated and recorded, not yet on every service.
    ``prepared``: every service has it installed beside the running one and
    import-checked. ``active``: every service switched to it and reported
    healthy. ``failed``: it could not be prepared, or failed after the
    switch (everything went back to the previous generation); the reasons
    are kept. ``rolled_back``: it was active and an administrator went back
    to an earlier generation. Which generation runs right now is a separate
    pointer (a host backend's ``active()``, the database's active
    generation); an old generation that was active stays ``active`` in
    history. ``failed`` and ``rolled_back`` are final: to run that plugin set
    again, propose a new generation with it.
    """

    PROPOSED = "proposed"
    PREPARED = "prepared"
    ACTIVE = "active"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"

    def can_become(self, other: GenerationState) -> bool:
        return other in _TRANSITIONS[self]

    def transition(self, other: GenerationState) -> GenerationState:
        """``other`` if the move is allowed, else :class:`InvalidTransition`."""
        if not self.can_become(other):
            raise InvalidTransition(self.value, other.value)
        return other


_TRANSITIONS: dict[GenerationState, frozenset[GenerationState]] = {
    GenerationState.PROPOSED: frozenset({GenerationState.PREPARED, GenerationState.FAILED}),
    GenerationState.PREPARED: frozenset({GenerationState.ACTIVE, GenerationState.FAILED}),
    GenerationState.ACTIVE: frozenset({GenerationState.ROLLED_BACK, GenerationState.FAILED}),
    GenerationState.FAILED: frozenset(),
    GenerationState.ROLLED_BACK: frozenset(),
}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(sorted(mapping.items())))


@dataclass(frozen=True)
class GenerationPlugin:
    """One plugin of a generation.

    ``requires`` maps API names to the PEP 440 ranges of its ``plugin.toml``
    (what :func:`peek.plugin.resolve.resolve` checks); ``requires_dist``
    lists the PEP 508 requirements of its wheel's ``METADATA``; ``manifest``
    is its whole ``plugin.toml`` table, so that :meth:`spec` rebuilds the
    exact :class:`PluginSpec` without the wheel. ``wheel`` is the wheel's
    file name (installers read the name and version from it).
    """

    name: str
    version: str
    sha256: str
    wheel: str
    manifest: Mapping[str, Any]
    requires_dist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise GenerationError(f"{self.name!r} is not a plugin name (peek_plugin_<name>)")
        try:
            Version(self.version)
        except InvalidVersion:
            raise GenerationError(f"{self.name}: {self.version!r} is not a version") from None
        if not SHA256_RE.match(self.sha256):
            raise GenerationError(f"{self.name}: sha256 {self.sha256!r} is not lowercase hex")
        if not self.wheel.endswith(".whl") or "/" in self.wheel:
            raise GenerationError(f"{self.name}: {self.wheel!r} is not a wheel file name")
        try:
            json.dumps(_thaw(self.manifest), allow_nan=False)
        except (TypeError, ValueError):
            raise GenerationError(f"{self.name}: manifest is not JSON data") from None
        object.__setattr__(self, "manifest", _deep_freeze(self.manifest))
        object.__setattr__(self, "requires_dist", tuple(self.requires_dist))

    @property
    def requires(self) -> dict[str, str]:
        """The API requirements of ``plugin.toml``: ``{"user": ">=0.1"}``."""
        table = self.manifest.get("requires", {})
        return {str(k): str(v) for k, v in table.items()} if isinstance(table, Mapping) else {}

    @property
    def hooks(self) -> dict[str, str]:
        """``{"server": "peek_plugin_x._private.server:ServerHook", ...}``."""
        table = self.manifest.get("hooks", {})
        return {str(k): str(v) for k, v in table.items()} if isinstance(table, Mapping) else {}

    @property
    def needs_restart(self) -> bool:
        """Services restart into a set that changes this plugin rather than swap it in-process:
        its ``plugin.toml`` says ``restart = true``, or its wheel holds native code."""
        if self.manifest.get("restart") is True:
            return True
        try:
            tags = parse_wheel_filename(self.wheel)[3]
        except InvalidWheelFilename:
            return True
        return not all(tag.abi == "none" and tag.platform == "any" for tag in tags)

    def spec(self) -> PluginSpec:
        """The plugin as :func:`peek.plugin.resolve.resolve` takes it (no import, no file)."""
        try:
            manifest = manifest_from_data(self.name, self.version, _thaw(self.manifest))
        except ManifestError as exc:
            raise GenerationError(f"{self.name}: {exc.problem}") from None
        return PluginSpec(manifest=manifest)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "wheel": self.wheel,
            "requires": self.requires,
            "requires_dist": list(self.requires_dist),
            "manifest": _thaw(self.manifest),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerationPlugin:
        try:
            plugin = cls(
                name=str(data["name"]),
                version=str(data["version"]),
                sha256=str(data["sha256"]),
                wheel=str(data["wheel"]),
                manifest=dict(data["manifest"]),
                requires_dist=tuple(str(r) for r in data.get("requires_dist", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GenerationError(f"invalid plugin entry in a generation: {exc!r}") from None
        if "requires" in data and dict(data["requires"]) != plugin.requires:
            raise GenerationError(f"{plugin.name}: requires does not match its manifest")
        return plugin


@dataclass(frozen=True)
class Generation:
    """An immutable manifest of the whole plugin set.

    ``number`` counts from 1 and is never reused; ``parent`` is the
    generation this one was derived from (None for the first);
    ``plugins`` maps plugin names to :class:`GenerationPlugin`: the
    uploaded plugins, each from an artifact. ``environment`` maps the names
    of plugins installed with the platform itself (first-party plugins, a
    NixOS closure) that the set includes to the version the server saw;
    each host runs its own installed copy of those, and an uploaded plugin
    of the same name replaces one (a name is in one map or the other).
    """

    number: int
    parent: int | None
    created_by: str
    reason: str
    created_at: datetime
    plugins: Mapping[str, GenerationPlugin] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.number, bool) or not isinstance(self.number, int) or self.number < 1:
            raise GenerationError(f"a generation number is a positive integer, not {self.number!r}")
        if self.parent is not None and not (
            isinstance(self.parent, int) and 1 <= self.parent < self.number
        ):
            raise GenerationError(
                f"generation {self.number}: parent {self.parent!r} must be an earlier generation"
            )
        if self.created_at.tzinfo is None:
            raise GenerationError(f"generation {self.number}: created_at must be timezone-aware")
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
        for name, plugin in self.plugins.items():
            if name != plugin.name:
                raise GenerationError(
                    f"generation {self.number}: plugin {plugin.name} is listed as {name}"
                )
        object.__setattr__(self, "plugins", _frozen(self.plugins))
        for name, version in self.environment.items():
            if not _NAME_RE.match(name) or not isinstance(version, str):
                raise GenerationError(
                    f"generation {self.number}: environment plugin {name!r} = {version!r}"
                )
            if name in self.plugins:
                raise GenerationError(
                    f"generation {self.number}: {name} is both uploaded and from the environment"
                )
        object.__setattr__(self, "environment", _frozen(self.environment))

    # -- derived views ----------------------------------------------------------

    def specs(self) -> list[PluginSpec]:
        """Every plugin as a :class:`PluginSpec`, sorted by name."""
        return [plugin.spec() for plugin in self.plugins.values()]

    def names(self) -> tuple[str, ...]:
        """Every plugin of the set, uploaded or from the environment, sorted."""
        return tuple(sorted({*self.plugins, *self.environment}))

    def versions(self) -> dict[str, str]:
        """``{name: version}`` of the whole set."""
        return {**self.environment, **{n: p.version for n, p in self.plugins.items()}}

    def artifacts(self) -> frozenset[str]:
        """The SHA-256 of every artifact this generation needs."""
        return frozenset(plugin.sha256 for plugin in self.plugins.values())

    # -- making the next one -------------------------------------------------------

    def derive(
        self,
        number: int,
        *,
        created_by: str,
        reason: str,
        add: Iterable[GenerationPlugin] = (),
        remove: Iterable[str] = (),
        created_at: datetime | None = None,
    ) -> Generation:
        """The next generation: this plugin set with ``add`` added or replaced and ``remove`` gone.

        Removing a plugin that is not there raises :class:`GenerationError`.
        An uploaded plugin replaces an environment plugin of the same name.
        """
        plugins = dict(self.plugins)
        environment = dict(self.environment)
        for name in remove:
            if plugins.pop(name, None) is None and environment.pop(name, None) is None:
                raise GenerationError(f"generation {self.number} has no plugin {name} to remove")
        for plugin in add:
            plugins[plugin.name] = plugin
            environment.pop(plugin.name, None)
        return Generation(
            number=number,
            parent=self.number,
            created_by=created_by,
            reason=reason,
            created_at=created_at or datetime.now(UTC),
            plugins=plugins,
            environment=environment,
        )

    # -- canonical form -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": MANIFEST_FORMAT,
            "number": self.number,
            "parent": self.parent,
            "created_by": self.created_by,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "plugins": {name: plugin.to_json() for name, plugin in self.plugins.items()},
        }
        # Only when present: manifests without environment plugins keep their digest.
        if self.environment:
            data["environment"] = dict(self.environment)
        return data

    def canonical_json(self) -> bytes:
        """The manifest as canonical JSON: sorted keys, no whitespace, UTF-8."""
        return _canonical(self.to_json())

    def digest(self) -> str:
        """SHA-256 of :meth:`canonical_json`: the identity of this generation."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def plugin_set_digest(self) -> str:
        """SHA-256 over the plugins alone: equal for generations that run the same set."""
        plugins: dict[str, Any] = {name: plugin.to_json() for name, plugin in self.plugins.items()}
        if self.environment:
            plugins = {"plugins": plugins, "environment": dict(self.environment)}
        return hashlib.sha256(_canonical(plugins)).hexdigest()

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> Generation:
        """Parse a manifest made by :meth:`canonical_json` (or :meth:`to_json`)."""
        if isinstance(data, bytes | str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise GenerationError(f"a generation manifest is not JSON: {exc}") from None
        if not isinstance(data, Mapping):
            raise GenerationError("a generation manifest must be a JSON object")
        if data.get("format") != MANIFEST_FORMAT:
            raise GenerationError(
                f"unknown generation manifest format {data.get('format')!r} "
                f"(this Peek reads {MANIFEST_FORMAT})"
            )
        try:
            plugins = {
                str(name): GenerationPlugin.from_json(entry)
                for name, entry in dict(data["plugins"]).items()
            }
            parent = data["parent"]
            return cls(
                number=int(data["number"]),
                parent=None if parent is None else int(parent),
                created_by=str(data["created_by"]),
                reason=str(data["reason"]),
                created_at=datetime.fromisoformat(str(data["created_at"])),
                plugins=plugins,
                environment={
                    str(name): str(version)
                    for name, version in dict(data.get("environment", {})).items()
                },
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GenerationError(f"invalid generation manifest: {exc!r}") from None


def changed_plugins(old: Generation | None, new: Generation) -> frozenset[str]:
    """Plugins added, removed or changed (other artifact, or uploaded instead of from the
    environment) between ``old`` and ``new``."""

    def source(generation: Generation | None, name: str) -> str | None:
        if generation is None:
            return None
        plugin = generation.plugins.get(name)
        if plugin is not None:
            return plugin.sha256
        return "environment" if name in generation.environment else None

    names = set(new.names()) | (set(old.names()) if old is not None else set())
    return frozenset(name for name in names if source(old, name) != source(new, name))


def _canonical(data: Any) -> bytes:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _deep_freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _deep_freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_deep_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value
