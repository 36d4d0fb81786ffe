"""The service link: token authentication, status, drops and reconnects."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from peek.services.server import token_store_path
from peek.testing.services import free_config, start_server
from peek.vortex.link import Backoff
from peek.vortex.tokens import TokenStore


async def wait_for(predicate, within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state owned by the services
            await asyncio.sleep(0.02)


def service_states(server) -> dict[tuple[str, str], str]:
    return {(s["kind"], s["name"]): s["state"] for s in server.status()["services"]}


async def test_a_client_with_a_valid_token_is_listed_with_its_plugins(peek_server, peek_upstream):
    server = await peek_server(["peek_plugin_noop"])
    await peek_upstream("client", server, ["peek_plugin_noop"], name="c1")
    await wait_for(lambda: ("client", "c1") in service_states(server))
    entry = next(s for s in server.status()["services"] if s["name"] == "c1")
    assert entry["state"] == "running"
    assert entry["plugins"][0]["name"] == "peek_plugin_noop"
    assert entry["plugins"][0]["state"] == "started"


async def test_every_service_kind_connects_and_is_reported(peek_server, peek_upstream):
    server = await peek_server(["peek_plugin_noop"])
    for kind in ("client", "agent", "worker"):
        await peek_upstream(kind, server, ["peek_plugin_noop"])
    await wait_for(lambda: len(server.status()["services"]) == 4)
    kinds = [s["kind"] for s in server.status()["services"]]
    assert kinds == ["server", "client", "agent", "worker"]


@pytest.mark.parametrize("token", [None, "deadbeef.wrong-secret", "garbage"])
async def test_a_missing_or_wrong_token_is_refused_and_logged(peek_server, token, caplog):
    server = await peek_server([])
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    caplog.set_level(logging.WARNING, logger="peek.vortex.link")
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(server.exchange_site.url + "/link", headers=headers)
    assert refused.value.status == 401
    assert "refused service link" in caplog.text


async def test_a_revoked_token_is_refused_without_a_restart(peek_server):
    server = await peek_server([])
    store = TokenStore(token_store_path(server.config))
    info, token = await asyncio.to_thread(store.create, "agent", "a1")
    await asyncio.to_thread(store.revoke, info.id)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await session.ws_connect(
                server.exchange_site.url + "/link", headers={"Authorization": f"Bearer {token}"}
            )


async def test_a_service_dialling_while_the_server_stops_is_refused_at_once(peek_server):
    server = await peek_server([])
    store = TokenStore(token_store_path(server.config))
    _, token = await asyncio.to_thread(store.create, "agent", "a1")
    # The server's stop closes the links first; its exchange site stops later.
    await server.link.close()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(
                server.exchange_site.url + "/link", headers={"Authorization": f"Bearer {token}"}
            )
    assert refused.value.status == 503
    assert server.link.peers == {}


async def test_a_token_for_one_kind_cannot_connect_as_another(peek_server):
    server = await peek_server([])
    store = TokenStore(token_store_path(server.config))
    _, token = await asyncio.to_thread(store.create, "agent", "a1")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            server.exchange_site.url + "/link", headers={"Authorization": f"Bearer {token}"}
        ) as ws,
    ):
        await ws.send_json({"t": "hello", "kind": "client", "name": "sneaky"})
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ("client", "a1") not in service_states(server)


async def test_a_dropped_service_is_reported_down(peek_server, peek_upstream):
    server = await peek_server([])
    agent = await peek_upstream("agent", server, [], name="a1")
    await wait_for(lambda: service_states(server).get(("agent", "a1")) == "running")
    await agent.stop()
    await wait_for(lambda: service_states(server).get(("agent", "a1")) == "down")


async def test_services_reconnect_after_a_server_restart(tmp_path, peek_upstream):
    # Fixed ports: the restarted server must come back where the peers dial.
    ports = {}
    for key in ("server.admin_port", "server.exchange_port"):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[key] = s.getsockname()[1]
    config = free_config(tmp_path, **ports)
    server = await start_server(config, [])
    client = await peek_upstream("client", server, [], name="c1")
    agent = await peek_upstream("agent", server, [], name="a1")
    connects = (client.link.connects, agent.link.connects)
    await server.stop()
    await wait_for(lambda: not client.link.connected.is_set())

    server = await start_server(config, [])
    try:
        await wait_for(
            lambda: client.link.connects > connects[0] and agent.link.connects > connects[1],
            within=15,
        )
        await wait_for(lambda: service_states(server).get(("client", "c1")) == "running")
        assert service_states(server).get(("agent", "a1")) == "running"
    finally:
        await server.stop()


def test_backoff_grows_to_its_cap_with_jitter_and_resets():
    import random

    backoff = Backoff(initial=1, maximum=8, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(8)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    backoff.reset()
    assert backoff.next_delay() <= 1


async def _heartbeat_site(interval: float):
    """An aiohttp site whose sockets are watched by one Heartbeat; the list of closed ones."""
    from aiohttp import web

    from peek.vortex.link import Heartbeat

    liveness = Heartbeat(interval, "test sockets")
    closed: list[web.WebSocketResponse] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        beat = liveness.watch(ws, request.transport)
        try:
            async for msg in ws:
                beat.quiet = 0
                if msg.type is aiohttp.WSMsgType.PING:
                    await ws.pong(msg.data)
        finally:
            liveness.forget(beat)
            closed.append(ws)
        return ws

    app = web.Application()
    app.add_routes([web.get("/ws", handler)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, liveness, f"http://127.0.0.1:{port}/ws", closed


async def test_a_socket_whose_peer_stops_answering_pings_is_dropped():
    runner, liveness, url, closed = await _heartbeat_site(0.3)
    try:
        # autoping off and never reading: the pings go unanswered.
        async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False):
            await wait_for(lambda: closed, within=5)
    finally:
        await liveness.close()
        await runner.cleanup()


async def test_a_quiet_socket_that_answers_pings_stays_open():
    runner, liveness, url, closed = await _heartbeat_site(0.3)
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            # Reading lets aiohttp answer the pings; the peer sends nothing else.
            reading = asyncio.ensure_future(ws.receive())
            await asyncio.sleep(1.2)  # four heartbeat intervals
            assert not closed and not reading.done()
            reading.cancel()
    finally:
        await liveness.close()
        await runner.cleanup()


async def _link_to_fake_server(answer_pings: bool):
    """A LinkClient (heartbeat 0.3 s) dialling a site that accepts any link;
    the site reads (so aiohttp answers pings) only if ``answer_pings``."""
    from aiohttp import web

    from peek.vortex.link import LinkClient

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if answer_pings:
            async for _ in ws:
                pass
        else:
            await asyncio.sleep(60)  # reads nothing: pings go unanswered
        return ws

    app = web.Application()
    app.add_routes([web.get("/link", handler)])
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    link = LinkClient(
        f"http://127.0.0.1:{port}",
        "token",
        lambda: {"kind": "client", "name": "c"},
        heartbeat=0.3,
        backoff=Backoff(initial=0.01, maximum=0.01),
    )
    task = asyncio.ensure_future(link.run())
    return runner, link, task


async def test_a_link_client_whose_server_stops_answering_pings_reconnects():
    runner, link, task = await _link_to_fake_server(answer_pings=False)
    try:
        await wait_for(lambda: link.connects >= 2, within=5)
    finally:
        await link.close()
        task.cancel()
        await runner.cleanup()


async def test_a_quiet_link_whose_server_answers_pings_stays_up():
    runner, link, task = await _link_to_fake_server(answer_pings=True)
    try:
        await wait_for(lambda: link.connects == 1, within=5)
        await asyncio.sleep(1.2)  # four heartbeat intervals, no messages but pings
        assert link.connects == 1 and link.connected.is_set()
    finally:
        await link.close()
        task.cancel()
        await runner.cleanup()
