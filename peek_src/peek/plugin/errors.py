"""Errors of the plugin SDK. Each keeps its data on the object; ``str()`` is for sysadmins."""

from __future__ import annotations

from collections.abc import Sequence

from peek.errors import PeekError

__all__ = [
    "ApiConflict",
    "ApiNotDeclared",
    "ApiUnavailable",
    "CircularDependency",
    "DependencyFailed",
    "HookFailed",
    "HookTimeout",
    "ManifestError",
    "MissingRequirement",
    "PluginError",
    "PluginNotInstalled",
    "RequirementVersionMismatch",
    "UnsupportedPeekVersion",
]


class PluginError(PeekError):
    """Base of every plugin SDK error; ``plugin`` names the plugin it is about."""

    def __init__(self, plugin: str, message: str) -> None:
        self.plugin = plugin
        super().__init__(message)


class ManifestError(PluginError):
    """The plugin's metadata (``plugin.toml`` or distribution) is missing or invalid."""

    def __init__(self, plugin: str, problem: str) -> None:
        self.problem = problem
        super().__init__(plugin, f"plugin {plugin}: invalid metadata: {problem}")


class PluginNotInstalled(PluginError):
    """The configuration enables a plugin that is not installed."""

    def __init__(self, plugin: str) -> None:
        super().__init__(
            plugin,
            f"plugin {plugin} is enabled in the configuration but not installed "
            f"(no '{plugin}' entry point in group peek.plugins)",
        )


class UnsupportedPeekVersion(PluginError):
    def __init__(self, plugin: str, supported: str, running: str) -> None:
        self.supported = supported
        self.running = running
        super().__init__(
            plugin,
            f"plugin {plugin} supports Peek {supported}, but this is Peek {running}",
        )


class MissingRequirement(PluginError):
    def __init__(self, plugin: str, api: str) -> None:
        self.api = api
        super().__init__(
            plugin,
            f"plugin {plugin} requires '{api}', which no enabled plugin provides",
        )


class RequirementVersionMismatch(PluginError):
    def __init__(self, plugin: str, api: str, wanted: str, provider: str, found: str) -> None:
        self.api = api
        self.wanted = wanted
        self.provider = provider
        self.found = found
        super().__init__(
            plugin,
            f"plugin {plugin} requires '{api}' {wanted}, but {provider} provides version {found}",
        )


class CircularDependency(PluginError):
    def __init__(self, plugin: str, cycle: Sequence[str]) -> None:
        self.cycle = tuple(cycle)
        super().__init__(
            plugin,
            f"plugin {plugin} is part of a dependency cycle: {' -> '.join(self.cycle)}",
        )


class ApiConflict(PluginError):
    def __init__(self, plugin: str, api: str, providers: Sequence[str]) -> None:
        self.api = api
        self.providers = tuple(providers)
        super().__init__(
            plugin,
            f"API '{api}' is provided by more than one enabled plugin "
            f"({', '.join(self.providers)}); enable only one of them",
        )


class DependencyFailed(PluginError):
    def __init__(self, plugin: str, api: str, provider: str) -> None:
        self.api = api
        self.provider = provider
        super().__init__(
            plugin,
            f"plugin {plugin} requires '{api}', and its provider {provider} failed",
        )


class HookFailed(PluginError):
    """A lifecycle hook raised; the original exception is the ``__cause__``."""

    def __init__(self, plugin: str, phase: str, error: BaseException) -> None:
        self.phase = phase
        super().__init__(
            plugin, f"plugin {plugin} failed in {phase}: {type(error).__name__}: {error}"
        )


class HookTimeout(PluginError):
    def __init__(self, plugin: str, phase: str, timeout: float) -> None:
        self.phase = phase
        self.timeout = timeout
        super().__init__(plugin, f"plugin {plugin} did not finish {phase} within {timeout:g} s")


class ApiNotDeclared(PluginError):
    """A plugin asked for an API it did not declare in its requirements."""

    def __init__(self, plugin: str, api: str) -> None:
        self.api = api
        super().__init__(
            plugin,
            f"plugin {plugin} asked for API '{api}' but does not declare it in "
            f"[requires] of its plugin.toml",
        )


class ApiUnavailable(PluginError):
    """A declared API has no object on this service (not published, or provider failed)."""

    def __init__(self, plugin: str, api: str, service: str, reason: str) -> None:
        self.api = api
        self.service = service
        super().__init__(
            plugin, f"API '{api}' is not available to {plugin} on the {service}: {reason}"
        )
