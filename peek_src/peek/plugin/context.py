"""What a plugin's hooks are given: the :class:`PluginContext`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from peek.config import ServiceKind
from peek.plugin.errors import ApiNotDeclared
from peek.plugin.manifest import PluginManifest, api_name
from peek.plugin.storage import PluginStorage, StorageProvider, StorageUnavailable
from peek.plugin.tasks import TaskCalls
from peek.plugin.vortex import VortexApi

__all__ = ["PluginContext", "ServerCalls", "ServiceResources"]

T = TypeVar("T")

ApiLookup = Callable[[str, str], Any]


class ServerCalls(Protocol):
    """Authenticated HTTP calls from a client, agent or worker to the server's exchange site."""

    async def call(self, method: str, path: str, json: Any = None) -> Any:
        """``method`` ``path`` (e.g. ``/plugins/user/authenticate``) on the server; the
        decoded JSON reply. Raises ``peek.vortex.exchange.ExchangeError`` on failure."""
        ...


@dataclass(frozen=True)
class ServiceResources:
    """Handles a service offers to every plugin on it (``ctx.resources``)."""

    service_name: str
    # On client, agent and worker; None on the server itself.
    server: ServerCalls | None = None
    # On the server: queue worker tasks and await their results.
    tasks: TaskCalls | None = None
    # The installation's database, on the server and workers; None elsewhere.
    storage: StorageProvider | None = None
    # Live data and actions (peek.plugin.vortex), on every service.
    vortex: VortexApi | None = None


class PluginContext:
    """Everything one plugin needs on one service. Passed to every lifecycle hook.

    - ``service``: which service this is (``server``, ``client``, ``agent``, ``worker``)
    - ``name``, ``version``: the plugin's own
    - ``config``: the ``[plugin.<name>]`` table of the configuration (read-only)
    - ``data_dir``: a directory only this plugin writes (it exists before ``load``)
    - ``logger``: a logger named after the plugin
    - ``resources``: :class:`ServiceResources`, handles the service offers to plugins
    - :meth:`api` to use another plugin's API, :meth:`publish` to offer one
    """

    __slots__ = (
        "_data_dir",
        "_lookup",
        "_published",
        "config",
        "logger",
        "manifest",
        "resources",
        "service",
    )

    def __init__(
        self,
        *,
        service: ServiceKind,
        manifest: PluginManifest,
        config: Mapping[str, Any],
        data_dir: Path,
        lookup: ApiLookup,
        resources: ServiceResources | None = None,
    ) -> None:
        self.service: ServiceKind = service
        self.manifest = manifest
        self.config = config
        self.logger = logging.getLogger(manifest.name)
        self.resources = resources
        self._data_dir = data_dir
        self._lookup = lookup
        self._published: Any = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return str(self.manifest.version)

    @property
    def data_dir(self) -> Path:
        """This plugin's own directory for files on this service; it exists before ``load``.

        File I/O blocks: do it in an executor (``asyncio.to_thread``), not on the loop.
        """
        return self._data_dir

    @property
    def storage(self) -> PluginStorage:
        """This plugin's own database namespace (see :mod:`peek.plugin.storage`).

        Raises :class:`StorageUnavailable` on a service without a database.
        """
        provider = self.resources.storage if self.resources is not None else None
        if provider is None:
            raise StorageUnavailable(self.name, self.service)
        return provider.for_plugin(self.name)

    def publish(self, api: object) -> None:
        """Offer ``api`` to other plugins on this service, under this plugin's API names.

        Call it in ``load`` so that plugins loading after this one can use it.
        Publishing again replaces the object.
        """
        self._published = api

    @property
    def published(self) -> Any:
        return self._published

    def api(self, name: str, expected: type[T] | None = None) -> T | Any:
        """The API object another plugin published on this service.

        ``name`` is an API name from this plugin's ``[requires]``
        (``"user"``; ``"peek_plugin_user"`` works too). Which plugin provides it
        is the platform's business: the caller cannot tell.

        Raises :class:`ApiNotDeclared` if the plugin did not declare the
        requirement, :class:`ApiUnavailable` if no object is published for it
        here, and :class:`TypeError` if ``expected`` is given and does not match.
        """
        api = api_name(name)
        if api not in self.manifest.requires:
            raise ApiNotDeclared(self.name, api)
        obj = self._lookup(self.name, api)
        if expected is not None and not isinstance(obj, expected):
            raise TypeError(f"API '{api}' is a {type(obj).__name__}, not a {expected.__name__}")
        return obj
