"""The server service: its two sites, the admin API and plugin routes."""

from __future__ import annotations

import asyncio

import aiohttp

from peek.services.server import admin_token_path


async def get(url: str, token: str | None = None) -> tuple[int, object]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body


async def test_both_server_sites_answer_healthz(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    for site in (server.admin_site, server.exchange_site):
        status, body = await get(site.url + "/healthz")
        assert status == 200
        assert body["service"] == "server"
        assert body["plugins"] == {"started": 1, "failed": 0}


async def test_status_api_refuses_requests_without_the_admin_token(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    status, _ = await get(server.admin_site.url + "/api/status")
    assert status == 401
    status, _ = await get(server.admin_site.url + "/api/status", token="not-the-token")
    assert status == 401


async def test_status_api_reports_the_server_and_its_plugins(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    token = admin_token_path(server.config).read_text().strip()
    status, body = await get(server.admin_site.url + "/api/status", token=token)
    assert status == 200
    (own,) = body["services"]
    assert own["kind"] == "server"
    assert own["state"] == "running"
    assert own["plugins"] == [
        {"name": "peek_plugin_noop", "version": "0.1.0", "state": "started", "error": None}
    ]


async def test_admin_token_is_private_to_the_server_user(peek_server):
    server = await peek_server([])
    assert admin_token_path(server.config).stat().st_mode & 0o077 == 0


async def test_plugin_routes_are_mounted_under_the_plugin_api_name(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    # The admin site's plugin routes need the admin (a session, or the local admin token).
    token = admin_token_path(server.config).read_text().strip()
    status, body = await get(server.admin_site.url + "/plugins/noop/ping", token=token)
    assert status == 200
    assert body["answer"] == "pong from server"


async def test_exchange_plugin_routes_require_a_service_token(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    status, _ = await get(server.exchange_site.url + "/plugins/noop/ping")
    assert status == 401


async def test_a_plugin_that_fails_to_load_is_reported_and_the_server_runs(peek_server, tmp_path):
    from peek.plugin.discovery import PluginSpec
    from peek.plugin.manifest import parse_manifest

    class Broken:
        def load(self, ctx):
            raise RuntimeError("database is on fire")

    broken = PluginSpec(
        manifest=parse_manifest(
            "peek_plugin_broken", "1.0", 'title = "B"\n[hooks]\nserver = "x.y:Z"\n'
        ),
        hook_classes={"server": Broken},
    )
    from peek.testing import installed_specs

    noop = await asyncio.to_thread(installed_specs, ["peek_plugin_noop"])
    server = await peek_server(specs=[broken, *noop])
    states = {p["name"]: p for p in server.status()["services"][0]["plugins"]}
    assert states["peek_plugin_broken"]["state"] == "failed"
    assert "database is on fire" in states["peek_plugin_broken"]["error"]
    assert states["peek_plugin_noop"]["state"] == "started"
    status, _ = await get(server.admin_site.url + "/healthz")
    assert status == 200
