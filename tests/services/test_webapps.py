"""The web apps as the services serve them: shells, pages index, plugin modules, live changes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from peek.plugin.discovery import PluginSpec
from peek.plugin.manifest import manifest_from_data
from peek.services.webapps import ShellApp, UiCatalog, scan_plugin_ui

PLUGINS = ["peek_plugin_user", "peek_plugin_noop", "peek_plugin_active_task"]
SSE_WAIT = 10.0


async def fetch(url: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False, **kwargs) as r,
    ):
        return r.status, dict(r.headers), await r.read()


@pytest.fixture
async def client(peek_server: Any, peek_upstream: Any) -> Any:
    server = await peek_server(PLUGINS)
    return await peek_upstream("client", server, PLUGINS)


def ui_spec(
    tmp_path: Path, name: str, files: dict[str, bytes], pages: list[dict[str, Any]]
) -> PluginSpec:
    package = tmp_path / name
    for rel, body in files.items():
        path = package / "_private" / "ui-dist" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    package.mkdir(parents=True, exist_ok=True)
    data = {"title": "T", "hooks": {"server": "x.y:Z"}, "ui": {"pages": pages}}
    return PluginSpec(manifest=manifest_from_data(name, "1.0", data), package_dir=package)


async def test_client_serves_desktop_at_the_root_and_mobile_below_mobile(client: Any) -> None:
    status, headers, body = await fetch(client.user_site.url + "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Cache-Control"] == "no-cache"
    assert b'type="importmap"' in body and b'"lit":"/assets/lit-' in body
    status, headers, _ = await fetch(client.user_site.url + "/mobile")
    assert status == 308 and headers["Location"] == "/mobile/"
    status, _, body = await fetch(client.user_site.url + "/mobile/")
    assert status == 200 and b"/mobile/assets/index-" in body
    status, headers, _ = await fetch(client.user_site.url + "/mobile/sw.js")
    assert status == 200 and headers["Cache-Control"] == "no-cache"


async def test_hashed_shell_assets_are_cached_for_good(client: Any) -> None:
    _, _, body = await fetch(client.user_site.url + "/")
    (asset,) = re.findall(rb'src="(/assets/index-[^"]+\.js)"', body)
    status, headers, _ = await fetch(client.user_site.url + asset.decode())
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "immutable" in headers["Cache-Control"]
    status, _, _ = await fetch(client.user_site.url + "/assets/nothing-here.js")
    assert status == 404


async def test_pages_index_lists_each_apps_pages_with_the_served_bytes_integrity(
    client: Any,
) -> None:
    _, _, raw = await fetch(client.user_site.url + "/ui/pages/mobile")
    mobile = json.loads(raw)
    assert sorted(p["route"] for p in mobile["pages"]) == ["noop", "tasks"]
    assert "user" in mobile["apis"]
    _, _, raw = await fetch(client.user_site.url + "/ui/pages/desktop")
    assert [p["route"] for p in json.loads(raw)["pages"]] == ["noop"]
    tasks = next(p for p in mobile["pages"] if p["route"] == "tasks")
    status, headers, module = await fetch(client.user_site.url + tasks["module"])
    assert status == 200 and "immutable" in headers["Cache-Control"]
    digest = base64.b64encode(hashlib.sha384(module).digest()).decode()
    assert tasks["integrity"] == f"sha384-{digest}"


async def test_only_the_user_sites_apps_have_a_pages_index_there(client: Any) -> None:
    status, _, _ = await fetch(client.user_site.url + "/ui/pages/admin")
    assert status == 404


@pytest.mark.parametrize(
    "path",
    [
        "../plugin.toml",
        "%2e%2e/plugin.toml",
        "..%2fplugin.toml",
        "mobile/../../plugin.toml",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
    ],
)
async def test_nothing_outside_a_plugins_ui_dist_is_served(client: Any, path: str) -> None:
    _, _, raw = await fetch(client.user_site.url + "/ui/pages/mobile")
    tasks = next(p for p in json.loads(raw)["pages"] if p["route"] == "tasks")
    prefix = tasks["module"].rsplit("/mobile/", 1)[0]
    status, _, body = await fetch(client.user_site.url + f"{prefix}/{path}")
    assert status == 404
    assert b"[hooks]" not in body and b"root:" not in body


async def test_a_replaced_digest_is_not_served(client: Any) -> None:
    _, _, raw = await fetch(client.user_site.url + "/ui/pages/mobile")
    tasks = next(p for p in json.loads(raw)["pages"] if p["route"] == "tasks")
    stale = re.sub(r"/[0-9a-f]{16}/", "/0000000000000000/", tasks["module"])
    status, _, _ = await fetch(client.user_site.url + stale)
    assert status == 404


def test_symlinks_in_ui_dist_are_never_served(tmp_path: Path) -> None:
    spec = ui_spec(
        tmp_path,
        "peek_plugin_links",
        {"desktop/page.js": b"export function mount() {}"},
        [{"route": "p", "title": "P", "apps": ["desktop"], "module": "desktop/page.js"}],
    )
    assert spec.package_dir is not None
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (spec.package_dir / "_private" / "ui-dist" / "desktop" / "leak.js").symlink_to(secret)
    ui = scan_plugin_ui(spec)
    assert ui is not None and sorted(ui.files) == ["desktop/page.js"]


def test_a_declared_module_missing_from_the_package_is_reported_in_the_index(
    tmp_path: Path,
) -> None:
    spec = ui_spec(
        tmp_path,
        "peek_plugin_half",
        {"desktop/other.js": b""},
        [{"route": "p", "title": "P", "apps": ["desktop"], "module": "desktop/page.js"}],
    )

    async def index() -> dict[str, Any]:
        catalog = UiCatalog(["desktop"])
        await catalog.set_plugins([spec])
        return catalog.index("desktop")

    (page,) = asyncio.run(index())["pages"]
    assert page["module"] is None and page["error"] == "desktop/page.js is missing"


async def test_the_event_stream_carries_a_new_index_when_the_plugin_set_changes(
    client: Any, tmp_path: Path
) -> None:
    extra = ui_spec(
        tmp_path,
        "peek_plugin_extra",
        {"desktop/page.js": b"export function mount() {}"},
        [{"route": "extra", "title": "Extra", "apps": ["desktop"], "module": "desktop/page.js"}],
    )
    base = client.plugins.ui_specs()
    async with (
        aiohttp.ClientSession() as session,
        session.get(client.user_site.url + "/ui/pages/desktop/events") as stream,
    ):
        assert stream.headers["Content-Type"] == "text/event-stream"

        async def next_index() -> dict[str, Any]:
            async with asyncio.timeout(SSE_WAIT):
                while True:
                    line = (await stream.content.readline()).decode()
                    if line.startswith("data: "):
                        return dict(json.loads(line[6:]))

        first = await next_index()
        assert [p["route"] for p in first["pages"]] == ["noop"]
        await client.ui.set_plugins([*base, extra])
        added = await next_index()
        assert sorted(p["route"] for p in added["pages"]) == ["extra", "noop"]
        assert added["version"] > first["version"]
        await client.ui.set_plugins(base)
        removed = await next_index()
        assert [p["route"] for p in removed["pages"]] == ["noop"]


async def test_an_unbuilt_shell_says_how_to_build_it(tmp_path: Path) -> None:
    from aiohttp.test_utils import make_mocked_request

    shell = ShellApp("desktop", "/", tmp_path / "nothing")
    await shell.load()
    request = make_mocked_request("GET", "/", match_info={"path": ""})
    response = await shell.serve(request)
    assert response.status == 503
    assert "scripts/build-ui" in response.text  # type: ignore[attr-defined]


def csp_directives(policy: str) -> dict[str, list[str]]:
    directives = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("path", ["/", "/mobile/"])
async def test_user_site_shells_carry_a_strict_content_security_policy(
    client: Any, path: str
) -> None:
    url = client.user_site.url
    _, headers, body = await fetch(url + path)
    csp = csp_directives(headers["Content-Security-Policy"])
    host = url.removeprefix("http://")
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]
    # Inline blocks run only by hash: the import map's hash is allowed, nothing else inline.
    (importmap,) = re.findall(rb'<script type="importmap">(.*?)</script>', body, re.S)
    digest = base64.b64encode(hashlib.sha256(importmap).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert all("unsafe" not in source for sources in csp.values() for source in sources)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"


async def test_the_admin_shell_carries_the_content_security_policy(peek_server: Any) -> None:
    server = await peek_server(PLUGINS)
    _, headers, body = await fetch(server.admin_site.url + "/")
    csp = csp_directives(headers["Content-Security-Policy"])
    (style,) = re.findall(rb"<style>(.*?)</style>", body, re.S)
    digest = base64.b64encode(hashlib.sha256(style).digest()).decode()
    assert csp["style-src"] == ["'self'", f"'sha256-{digest}'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert headers["X-Content-Type-Options"] == "nosniff"


async def test_plugin_modules_are_served_with_nosniff_and_no_referrer(client: Any) -> None:
    _, _, index = await fetch(client.user_site.url + "/ui/pages/desktop")
    module = json.loads(index)["pages"][0]["module"]
    status, headers, _ = await fetch(client.user_site.url + module)
    assert status == 200
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


async def test_a_forged_host_header_adds_no_sources_to_the_policy(client: Any) -> None:
    _, headers, _ = await fetch(
        client.user_site.url + "/", headers={"Host": "evil.example; script-src *"}
    )
    csp = csp_directives(headers["Content-Security-Policy"])
    assert csp["connect-src"] == ["'self'"]
    assert csp["script-src"][0] == "'self'" and "*" not in csp["script-src"]
