"""The web apps: prebuilt shells (admin, desktop, mobile) and plugins' UI modules.

The shells are built from ``ui/`` into ``peek/webapps/<app>/`` and shipped in
the package, so nothing here needs Node.js. Each plugin ships its own
prebuilt ES modules below ``<package>/_private/ui-dist/`` and declares its
pages in ``plugin.toml`` (:mod:`peek.plugin.ui`). A :class:`UiCatalog` turns
the active plugin set into a pages index per app, serves the plugins' files
under content-hashed URLs with integrity hashes, and tells open browsers when
the plugin set changes (server-sent events), so pages appear and disappear
without a reload of the shell.

Routes of a site that shows apps:

- ``GET /ui/pages/{app}``: the pages index, ``{"app", "version", "pages": [...], "apis": {...}}``.
- ``GET /ui/pages/{app}/events``: ``text/event-stream``; an ``index`` event with
  the pages index now and after every change of the plugin set.
- ``GET /ui/plugins/{api}/{digest}/{path}``: a file of a plugin's ``ui-dist``,
  ``Cache-Control: immutable``; ``digest`` covers every file of that plugin's
  UI, so a new version is a new URL.

Every file served is read into memory and hashed when the plugin set is
scanned, and only files found then are served, by exact relative path: what
a browser gets is what its integrity hash was computed over, and no request
path ever reaches the file system.

Every file of a shell goes out with a strict Content-Security-Policy (see
:func:`content_security_policy`): scripts, styles, images, fonts, workers and
connections from the site itself only (plus its own ``ws:``/``wss:`` for the
vortex socket), the shell's few inline blocks (its import map, a ``<style>``)
allowed by their SHA-256 hashes computed when the shell is loaded, no plugins,
no ``<base>``, and no framing by any other page. With it ``nosniff``,
``Referrer-Policy: no-referrer`` and ``X-Frame-Options: DENY`` (for browsers
without ``frame-ancestors``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

import peek
from peek.plugin.discovery import PluginSpec
from peek.plugin.manifest import api_name
from peek.plugin.ui import UI_APPS, UI_DIST_DIR, UiPage

__all__ = [
    "WEBAPPS_DIR",
    "PluginUi",
    "ShellApp",
    "UiCatalog",
    "scan_plugin_ui",
]

log = logging.getLogger(__name__)

#: Where the built shells live inside the ``peek`` package.
WEBAPPS_DIR = Path(peek.__file__).parent / "webapps"

# A plugin's or a shell's files are held in memory; these bound what one may bring.
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_TREE_BYTES = 32 * 1024 * 1024
MAX_TREE_FILES = 2000
# Server-sent events: a comment this often keeps proxies from closing an idle stream.
SSE_KEEPALIVE = 25.0

IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"

# Headers on everything the web apps serve.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Inline blocks of a built index.html: scripts without ``src`` (the import map) and styles.
_INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_INLINE_STYLE = re.compile(r"<style\b[^>]*>(.*?)</style\s*>", re.S | re.I)

_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".txt": "text/plain",
    ".map": "application/json",
}


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str
    integrity: str


def _read_tree(root: Path) -> dict[str, _File]:
    """Every regular file below ``root`` by relative POSIX path. Blocking.

    Symlinks are skipped (a link could point anywhere); sizes are bounded.
    """
    files: dict[str, _File] = {}
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not Path(dirpath, d).is_symlink())
        for filename in sorted(filenames):
            path = Path(dirpath, filename)
            if path.is_symlink() or not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            body = path.read_bytes()
            if len(body) > MAX_FILE_BYTES:
                raise ValueError(f"{path} is over {MAX_FILE_BYTES} bytes")
            total += len(body)
            if total > MAX_TREE_BYTES or len(files) >= MAX_TREE_FILES:
                raise ValueError(
                    f"{root} holds over {MAX_TREE_BYTES} bytes or {MAX_TREE_FILES} files"
                )
            digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
            content_type = _TYPES.get(path.suffix, "application/octet-stream")
            files[rel] = _File(body, content_type, f"sha384-{digest}")
    return files


def _tree_digest(files: dict[str, _File]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + files[rel].integrity.encode() + b"\0")
    return h.hexdigest()[:16]


# -- the shells ------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def inline_hashes(index_html: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """CSP hash sources of the inline scripts and of the inline styles of a page."""
    text = index_html.decode("utf-8", errors="replace")
    scripts = tuple(_csp_hash(m) for m in _INLINE_SCRIPT.findall(text) if m)
    styles = tuple(_csp_hash(m) for m in _INLINE_STYLE.findall(text) if m)
    return scripts, styles


def content_security_policy(
    host: str, scripts: Sequence[str] = (), styles: Sequence[str] = ()
) -> str:
    """The policy of a shell served to ``host`` (the request's ``Host``), allowing
    the given inline-block hashes and nothing else inline."""
    # The Host header comes from the browser: only a plain host[:port] goes into the policy.
    sockets = f" ws://{host} wss://{host}" if _PLAIN_HOST.fullmatch(host) else ""
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *scripts]),
            " ".join(["style-src 'self'", *styles]),
            "img-src 'self'",
            "font-src 'self'",
            # 'self' covers ws:/wss: of the same host only in CSP 3 browsers: say it.
            f"connect-src 'self'{sockets}",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ShellApp:
    """One built shell (``peek/webapps/<name>/``) served at ``prefix`` (``/`` or ``/mobile/``).

    ``index.html``, ``sw.js`` and the manifest are ``no-cache``; everything
    below ``assets/`` has a content hash in its name and is ``immutable``.
    """

    def __init__(self, name: str, prefix: str = "/", directory: Path | None = None) -> None:
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError("a shell's prefix starts and ends with '/'")
        self.name = name
        self.prefix = prefix
        self.directory = directory if directory is not None else WEBAPPS_DIR / name
        self.files: dict[str, _File] = {}
        self._inline: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    async def load(self) -> None:
        """Read the built files (off the loop). A missing build serves a page saying so."""
        try:
            self.files = await asyncio.get_running_loop().run_in_executor(
                None, _read_tree, self.directory
            )
        except (OSError, ValueError) as exc:
            log.error("the %s web app cannot be served from %s: %s", self.name, self.directory, exc)
            self.files = {}
        index = self.files.get("index.html")
        self._inline = inline_hashes(index.body) if index is not None else ((), ())
        if index is None:
            log.error(
                "the %s web app is not built (%s has no index.html): run scripts/build-ui",
                self.name,
                self.directory,
            )

    def routes(self) -> list[web.RouteDef]:
        routes = [web.get(self.prefix + "{path:.*}", self.serve)]
        if self.prefix != "/":
            routes.append(web.get(self.prefix.rstrip("/"), self._redirect))
        return routes

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPPermanentRedirect(self.prefix)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"] or "index.html"
        found = self.files.get(path)
        if found is None:
            if not self.files.get("index.html"):
                return web.Response(
                    status=503,
                    text=f"The {self.name} web app is not built. Run scripts/build-ui.",
                )
            raise web.HTTPNotFound()
        cache = IMMUTABLE if path.startswith("assets/") else NO_CACHE
        response = _file_response(found, cache)
        response.headers["Content-Security-Policy"] = content_security_policy(
            request.host, *self._inline
        )
        return response


def _file_response(found: _File, cache: str) -> web.Response:
    return web.Response(
        body=found.body,
        content_type=found.content_type,
        charset="utf-8" if found.content_type.startswith("text/") else None,
        headers={"Cache-Control": cache, **SECURITY_HEADERS},
    )


# -- plugins' UI ---------------------------------------------------------------


@dataclass(frozen=True)
class PluginUi:
    """What one plugin contributes to the web apps, scanned from its package."""

    name: str
    api: str
    title: str
    digest: str
    pages: tuple[UiPage, ...]
    ui_api: str | None
    files: dict[str, _File] = field(repr=False)
    problem: str | None = None

    def url(self, rel: str) -> str:
        return f"/ui/plugins/{self.api}/{self.digest}/{rel}"

    def module(self, rel: str) -> dict[str, Any]:
        """URL and integrity of a module, or the reason it cannot be loaded."""
        found = self.files.get(rel)
        if found is None:
            return {"module": None, "integrity": None, "error": self.problem or f"{rel} is missing"}
        return {"module": self.url(rel), "integrity": found.integrity, "error": None}


def scan_plugin_ui(spec: PluginSpec) -> PluginUi | None:
    """The UI of one plugin (None if it declares none). Blocking.

    A plugin whose files cannot be read still appears, with a ``problem``
    that the shell shows on its pages instead of a blank screen.
    """
    manifest = spec.manifest
    if not manifest.ui_pages and manifest.ui_api is None:
        return None
    files: dict[str, _File] = {}
    problem = None
    if spec.package_dir is None:
        problem = "the plugin has no package directory to serve its UI from"
    else:
        dist = spec.package_dir / UI_DIST_DIR
        try:
            files = _read_tree(dist)
        except (OSError, ValueError) as exc:
            problem = f"its UI files cannot be read: {exc}"
        if not files and problem is None:
            problem = f"its package has no built UI in {UI_DIST_DIR}/"
    if problem:
        log.error("plugin %s: %s", manifest.name, problem, extra={"plugin": manifest.name})
    return PluginUi(
        name=manifest.name,
        api=api_name(manifest.name),
        title=manifest.title,
        digest=_tree_digest(files),
        pages=manifest.ui_pages,
        ui_api=manifest.ui_api,
        files=files,
        problem=problem,
    )


def _scan_all(specs: Sequence[PluginSpec]) -> dict[str, PluginUi]:
    found: dict[str, PluginUi] = {}
    for spec in specs:
        ui = scan_plugin_ui(spec)
        if ui is not None:
            found[ui.api] = ui
    return found


class UiCatalog:
    """The plugins' pages for the apps one site shows, kept up to date with the plugin set.

    :meth:`set_plugins` is the hook to call whenever the active plugin set
    (generation) changes: open browsers get the new index at once. Must be
    used from the event loop.
    """

    def __init__(self, apps: Iterable[str]) -> None:
        self.apps = tuple(apps)
        unknown = set(self.apps) - set(UI_APPS)
        if unknown:
            raise ValueError(f"unknown apps {sorted(unknown)}")
        self.plugins: dict[str, PluginUi] = {}
        self.version = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._lock = asyncio.Lock()

    async def set_plugins(self, specs: Sequence[PluginSpec]) -> None:
        """Scan ``specs`` (off the loop) and make them the plugin set browsers see."""
        async with self._lock:
            plugins = await asyncio.get_running_loop().run_in_executor(None, _scan_all, list(specs))
            if self.version and _fingerprint(plugins) == _fingerprint(self.plugins):
                return
            self.plugins = plugins
            self.version += 1
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()
        log.info(
            "web apps: %d plugin(s) with UI (version %d): %s",
            len(plugins),
            self.version,
            ", ".join(sorted(plugins)) or "none",
        )

    def index(self, app: str) -> dict[str, Any]:
        """The pages index of ``app``: what the shell builds its navigation from."""
        pages: list[dict[str, Any]] = []
        apis: dict[str, Any] = {}
        for api in sorted(self.plugins):
            ui = self.plugins[api]
            for page in ui.pages:
                if app not in page.apps:
                    continue
                pages.append(
                    {
                        "plugin": ui.name,
                        "api": ui.api,
                        "plugin_title": ui.title,
                        "route": page.route,
                        "title": page.title,
                        "icon": page.icon,
                        **ui.module(page.module_for(app)),
                    }
                )
            if ui.ui_api is not None:
                apis[ui.api] = ui.module(ui.ui_api)
        # Two plugins may claim one route: the first (by API name) keeps it.
        seen: set[str] = set()
        unique = []
        for entry in pages:
            if entry["route"] in seen:
                log.warning(
                    "plugin %s: route %r in the %s app is taken already",
                    entry["plugin"],
                    entry["route"],
                    app,
                )
                continue
            seen.add(entry["route"])
            unique.append(entry)
        return {"app": app, "version": self.version, "pages": unique, "apis": apis}

    def close(self) -> None:
        """End every event stream (the site is stopping)."""
        self._closing = True
        self._changed.set()

    # -- routes ------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ui/pages/{app}", self._pages),
            web.get("/ui/pages/{app}/events", self._events),
            web.get("/ui/plugins/{api}/{digest}/{path:.+}", self._file),
        ]

    def _app(self, request: web.Request) -> str:
        app = request.match_info["app"]
        if app not in self.apps:
            raise web.HTTPNotFound(text=f"this site shows no {app!r} app")
        return app

    async def _pages(self, request: web.Request) -> web.Response:
        return web.json_response(
            self.index(self._app(request)), headers={"Cache-Control": NO_CACHE}
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        app = self._app(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        while not self._closing:
            changed = self._changed
            data = json.dumps(self.index(app), separators=(",", ":"))
            await response.write(f"event: index\ndata: {data}\n\n".encode())
            while not self._closing:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(SSE_KEEPALIVE):
                        await changed.wait()
                if changed.is_set():
                    break
                await response.write(b": keep-alive\n\n")
        return response

    async def _file(self, request: web.Request) -> web.Response:
        ui = self.plugins.get(request.match_info["api"])
        if ui is None or ui.digest != request.match_info["digest"]:
            raise web.HTTPNotFound(text="no such plugin UI (it may have been replaced)")
        found = ui.files.get(request.match_info["path"])
        if found is None:
            raise web.HTTPNotFound()
        return _file_response(found, IMMUTABLE)


def _fingerprint(plugins: dict[str, PluginUi]) -> list[tuple[str, str, Any, Any, Any]]:
    return sorted((api, ui.digest, ui.pages, ui.ui_api, ui.problem) for api, ui in plugins.items())
