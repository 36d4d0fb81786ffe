"""The ``[ui]`` table of ``plugin.toml``: pages a plugin adds to the web apps.

A plugin ships prebuilt ES modules in its package below ``_private/ui-dist/``
(built from its ``_private/admin-app``, ``desktop-app``, ``mobile-app`` and
``shared-app`` sources) and declares them::

    [ui]
    api = "shared/api.js"             # optional: its UI API for other plugins' pages

    [[ui.pages]]
    route = "tasks"                   # #/tasks in the app
    title = "Tasks"
    icon = "checklist"
    apps = ["mobile"]                 # admin, desktop and/or mobile
    module = "{app}/tasks.js"         # below _private/ui-dist/; {app} is the app's name

The platform serves these files itself (content-hashed URLs, integrity
hashes); a page module exports ``mount(host, ctx)`` (see ``ui/plugin-sdk``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from peek.plugin.errors import ManifestError

__all__ = ["MAX_UI_PAGES", "UI_APPS", "UI_DIST_DIR", "UiPage", "parse_ui"]

#: The web apps a plugin page may appear in.
UI_APPS = ("admin", "desktop", "mobile")
#: Where a plugin's built browser modules live, relative to its package directory.
UI_DIST_DIR = "_private/ui-dist"
MAX_UI_PAGES = 64
MAX_MODULE_PATH = 200

_ROUTE_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ICON_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_{}][A-Za-z0-9_.{}-]*$")


@dataclass(frozen=True, slots=True)
class UiPage:
    """One ``[[ui.pages]]`` entry, validated."""

    route: str
    title: str
    icon: str
    apps: tuple[str, ...]
    module: str

    def module_for(self, app: str) -> str:
        """The module path for ``app`` (``{app}`` replaced)."""
        return self.module.replace("{app}", app)


def parse_ui(name: str, ui: Any) -> tuple[tuple[UiPage, ...], str | None]:
    """Validate a ``[ui]`` table: its pages, and its ``api`` module (or None).

    Raises :class:`ManifestError` naming the first bad key.
    """
    if not isinstance(ui, dict):
        raise ManifestError(name, "[ui] must be a table")
    unknown = set(ui) - {"api", "pages"}
    if unknown:
        raise ManifestError(name, f"unknown keys in [ui]: {', '.join(sorted(unknown))}")
    api = ui.get("api")
    if api is not None and not module_path_ok(api):
        raise ManifestError(name, "ui.api must be a relative path to a .js module")
    pages = ui.get("pages", [])
    if not isinstance(pages, list) or not all(isinstance(p, dict) for p in pages):
        raise ManifestError(name, "ui.pages must be an array of tables ([[ui.pages]])")
    if len(pages) > MAX_UI_PAGES:
        raise ManifestError(name, f"ui.pages: at most {MAX_UI_PAGES} pages")
    parsed: list[UiPage] = []
    seen: set[tuple[str, str]] = set()
    for i, page in enumerate(pages):
        parsed.append(_page(name, f"ui.pages[{i}]", page, seen))
    return tuple(parsed), api


def _page(name: str, where: str, page: dict[str, Any], seen: set[tuple[str, str]]) -> UiPage:
    unknown = set(page) - {"route", "title", "icon", "apps", "module"}
    if unknown:
        raise ManifestError(name, f"{where}: unknown keys {', '.join(sorted(unknown))}")
    route, title = page.get("route"), page.get("title")
    icon, apps, module = page.get("icon", "page"), page.get("apps"), page.get("module")
    if not isinstance(route, str) or not _ROUTE_RE.match(route):
        raise ManifestError(name, f"{where}.route must match {_ROUTE_RE.pattern}")
    if not isinstance(title, str) or not title.strip() or len(title) > 80:
        raise ManifestError(name, f"{where}.title must be a non-empty string of at most 80 chars")
    if not isinstance(icon, str) or not _ICON_RE.match(icon):
        raise ManifestError(name, f"{where}.icon must match {_ICON_RE.pattern}")
    if (
        not isinstance(apps, list)
        or not apps
        or not all(isinstance(a, str) and a in UI_APPS for a in apps)
        or len(set(apps)) != len(apps)
    ):
        raise ManifestError(name, f"{where}.apps must be a list of {', '.join(UI_APPS)}")
    if not isinstance(module, str) or not module_path_ok(module):
        raise ManifestError(name, f"{where}.module must be a relative path to a .js module")
    for app in apps:
        if (app, route) in seen:
            raise ManifestError(name, f"{where}: route '{route}' twice in the {app} app")
        seen.add((app, route))
    return UiPage(route, title.strip(), icon, tuple(apps), module)


def module_path_ok(path: object) -> bool:
    """A relative path of plain segments ending in ``.js`` (no ``..``, no ``/`` at
    either end, no backslash): the platform serves only files below ``ui-dist``."""
    if not isinstance(path, str) or not path.endswith(".js") or len(path) > MAX_MODULE_PATH:
        return False
    segments = path.split("/")
    return all(s not in (".", "..") and _SEGMENT_RE.match(s) for s in segments)
