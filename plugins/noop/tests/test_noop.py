"""noop, the platform's smoke test, passes the conformance check on every service."""

from __future__ import annotations

import aiohttp

from peek.testing import admin_headers, assert_plugin_conforms


def test_noop_conforms():
    assert_plugin_conforms("peek_plugin_noop")


async def test_noop_runs_every_phase_and_answers_on_the_admin_site(peek_server):
    server = await peek_server(["peek_plugin_noop"])
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.admin_site.url + "/plugins/noop/ping", headers=admin_headers(server)
        ) as response,
    ):
        body = await response.json()
    assert body == {
        "plugin": "peek_plugin_noop",
        "answer": "pong from server",
        "phases": ["load", "start"],
    }


async def test_noop_on_the_client_reaches_noop_on_the_server(peek_server, peek_upstream):
    server = await peek_server(["peek_plugin_noop"])
    client = await peek_upstream("client", server, ["peek_plugin_noop"])
    async with (
        aiohttp.ClientSession() as session,
        session.get(client.user_site.url + "/plugins/noop/server-ping") as response,
    ):
        body = await response.json()
    assert body["server"]["answer"] == "pong from server"


async def test_noop_agent_start_returns_a_deferred_that_the_platform_awaits(
    peek_server, peek_upstream
):
    server = await peek_server(["peek_plugin_noop"])
    agent = await peek_upstream("agent", server, ["peek_plugin_noop"])
    (status,) = agent.plugins.lifecycle.status()
    assert status.state.value == "started"


async def test_noop_server_keeps_its_pings_in_its_own_table_across_restarts(
    peek_server, peek_config
):
    server = await peek_server(["peek_plugin_noop"], config=peek_config)
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            async with session.get(
                server.admin_site.url + "/plugins/noop/ping", headers=admin_headers(server)
            ) as response:
                assert response.status == 200
        await server.stop()
        restarted = await peek_server(["peek_plugin_noop"], config=peek_config)
        async with session.get(
            restarted.admin_site.url + "/plugins/noop/pings", headers=admin_headers(restarted)
        ) as response:
            body = await response.json()
    assert body == {"pings": 3}
