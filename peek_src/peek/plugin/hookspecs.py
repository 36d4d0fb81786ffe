"""Contributions that many plugins make, collected with pluggy.

A plugin's entry hook object (see :class:`peek.plugin.PluginHook`) implements
any of these by defining a method of the same name decorated with
:data:`peek.plugin.hookimpl`. Only plugins that are loaded and not failed are
asked, in load order (providers first).

Every hook here is called by the platform after all plugins have loaded and
before they start, and again after a plugin set changes. Raising from an
implementation fails that plugin only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any, Literal

import pluggy
from aiohttp.web import AbstractRouteDef

__all__ = [
    "HOOK_NAMES",
    "PROJECT",
    "Site",
    "hookimpl",
    "hookspec",
    "peek_health",
    "peek_site_routes",
    "peek_worker_tasks",
]

PROJECT = "peek"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Site = Literal["admin", "exchange", "user"]


# -- HTTP -----------------------------------------------------------------


@hookspec
def peek_site_routes(site: Site) -> Iterable[AbstractRouteDef] | None:
    """Return aiohttp routes this plugin serves on one of its service's HTTP sites.

    ``site`` is ``"admin"`` (server, 8010), ``"exchange"`` (server, 8011) or
    ``"user"`` (client, 8000). Routes are mounted below
    ``/plugins/<api name>/``: a route ``web.get("/hello", ...)`` of
    ``peek_plugin_noop`` answers at ``/plugins/noop/hello``. Return ``None``
    (or nothing) for sites the plugin does not serve.
    """


# -- workers --------------------------------------------------------------


@hookspec
def peek_worker_tasks() -> Iterable[Callable[..., Any] | ModuleType] | None:
    """Return the worker tasks this plugin contributes, on the worker service.

    Each item is a module-level function marked with
    :func:`peek.plugin.task`, or a module, standing for every such function
    defined in it. A function ``echo`` of ``peek_plugin_noop`` becomes the
    task ``peek_plugin_noop.echo`` on the plugin's own queue, so a flood of
    one plugin's tasks does not starve another's. The functions run in the
    worker's forked pool processes, not where this hook is called: they must
    not rely on state the hook object built in ``load``. An item that is not
    a task is logged and left out; raising fails this plugin only.
    """


# -- health ---------------------------------------------------------------


@hookspec
def peek_health() -> str | None:
    """Say whether this plugin is healthy on its service: ``None`` if it is, else a
    sentence a sysadmin understands (``"cannot reach the PLC at 10.0.0.7"``).

    Called on every service after a rollout switched to a new plugin set, while
    the platform decides whether the generation stays: an answer other than
    ``None`` from any plugin of the generation rolls every service back, with
    the sentence as the reason. Must be quick and must not block; raising fails
    this plugin (and so the generation).
    """


# Every contribution hook above; kept last so that new hookspecs are listed.
HOOK_NAMES: tuple[str, ...] = tuple(
    name for name, value in list(globals().items()) if name.startswith("peek_") and callable(value)
)
