"""The dependency graph of a plugin set, resolved before any plugin code runs.

Requirements name APIs; each plugin provides the API named after itself and
any it declares in ``[provides]``. Resolution finds the provider of every
requirement, checks versions and the Peek version range, detects cycles, and
orders the plugins so that providers come before their users. A plugin that
cannot run is failed with a typed reason, and so is everything that needs it;
everything else runs.
"""

from __future__ import annotations

import graphlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import Version

from peek.plugin.discovery import PluginSpec
from peek.plugin.errors import (
    ApiConflict,
    CircularDependency,
    DependencyFailed,
    MissingRequirement,
    PluginError,
    RequirementVersionMismatch,
    UnsupportedPeekVersion,
)

__all__ = ["Resolution", "resolve"]


@dataclass(frozen=True)
class Resolution:
    """The outcome of :func:`resolve`.

    ``order`` lists the plugins that may run, providers first. ``failed``
    holds the reason for each plugin that may not. ``providers`` maps every
    API to the plugin that provides it; ``requires`` maps each plugin to the
    plugins it needs.
    """

    order: tuple[str, ...]
    failed: dict[str, PluginError]
    providers: dict[str, str]
    requires: dict[str, frozenset[str]]

    def dependents(self, name: str) -> list[str]:
        """Every plugin in ``order`` that needs ``name``, directly or not, in load order."""
        found: set[str] = {name}
        result = []
        for candidate in self.order:
            if candidate != name and self.requires.get(candidate, frozenset()) & found:
                found.add(candidate)
                result.append(candidate)
        return result


def resolve(specs: Sequence[PluginSpec], peek_version: Version | str) -> Resolution:
    """Resolve the plugin set ``specs`` for Peek ``peek_version``. Pure: imports nothing."""
    running = Version(str(peek_version))
    by_name = {spec.name: spec for spec in specs}
    failed: dict[str, PluginError] = {}

    for spec in specs:
        if not spec.manifest.peek.contains(running, prereleases=True):
            failed[spec.name] = UnsupportedPeekVersion(
                spec.name, str(spec.manifest.peek), str(running)
            )

    offered: dict[str, list[str]] = defaultdict(list)
    for spec in specs:
        # Failed plugins still count as providers, so that their users are
        # told the provider failed rather than that nothing provides the API.
        for api in spec.manifest.provided_apis():
            offered[api].append(spec.name)
    providers: dict[str, str] = {}
    for api, names in offered.items():
        if len(names) == 1:
            providers[api] = names[0]
            continue
        for name in names:
            failed.setdefault(name, ApiConflict(name, api, names))

    requires: dict[str, frozenset[str]] = {}
    for spec in specs:
        needed = set()
        for api, wanted in spec.manifest.requires.items():
            provider = providers.get(api)
            if provider is None and len(offered.get(api, ())) > 1:
                # Not "missing": tell the user which providers to choose between.
                failed.setdefault(spec.name, ApiConflict(spec.name, api, offered[api]))
                continue
            if provider is None:
                failed.setdefault(spec.name, MissingRequirement(spec.name, api))
                continue
            found = by_name[provider].manifest.provided_apis()[api]
            if not wanted.contains(found, prereleases=True):
                failed.setdefault(
                    spec.name,
                    RequirementVersionMismatch(spec.name, api, str(wanted), provider, str(found)),
                )
            needed.add(provider)
        requires[spec.name] = frozenset(needed)

    _fail_cycles(requires, failed)
    _propagate(specs, requires, providers, failed)

    sorter = graphlib.TopologicalSorter(
        {name: sorted(requires[name]) for name in sorted(by_name) if name not in failed}
    )
    order = tuple(sorter.static_order())
    return Resolution(order=order, failed=failed, providers=providers, requires=requires)


def _fail_cycles(requires: dict[str, frozenset[str]], failed: dict[str, PluginError]) -> None:
    graph = {name: set(deps) for name, deps in requires.items()}
    while True:
        try:
            graphlib.TopologicalSorter(graph).prepare()
            return
        except graphlib.CycleError as exc:
            cycle: list[str] = exc.args[1]
            for name in set(cycle):
                failed.setdefault(name, CircularDependency(name, cycle))
                graph.pop(name, None)
            for deps in graph.values():
                deps.difference_update(cycle)


def _propagate(
    specs: Iterable[PluginSpec],
    requires: dict[str, frozenset[str]],
    providers: dict[str, str],
    failed: dict[str, PluginError],
) -> None:
    api_of = {provider: api for api, provider in providers.items()}
    changed = True
    while changed:
        changed = False
        for spec in specs:
            if spec.name in failed:
                continue
            for provider in sorted(requires[spec.name]):
                if provider in failed:
                    api = next(
                        (a for a in spec.manifest.requires if providers.get(a) == provider),
                        api_of.get(provider, provider),
                    )
                    failed[spec.name] = DependencyFailed(spec.name, api, provider)
                    changed = True
                    break
