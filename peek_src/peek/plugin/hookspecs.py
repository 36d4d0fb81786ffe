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

from collections.abc import Iterable
from typing import Literal

import pluggy
from aiohttp.web import AbstractRouteDef

__all__ = ["PROJECT", "Site", "hookimpl", "hookspec", "peek_site_routes"]

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
