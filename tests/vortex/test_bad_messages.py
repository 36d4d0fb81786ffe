"""Bad input on the browser socket and the service link: refused with a logged
reason, and the connection goes on working."""

from __future__ import annotations

import asyncio
import logging
import os

import aiohttp

from peek.vortex.envelope import encode_frame
from peek_plugin_noop.tuples import Echo

from .conftest import wait_for

BAD = [
    (b"\x00garbage", "malformed"),
    (b"\xa7", "truncated"),
    (b"\xa7\x00\x00\x20\x81", "truncated"),
    (encode_frame({"no": "type"}), "malformed"),
    (encode_frame({"t": "launch-missiles"}), "malformed"),
    (encode_frame({"t": "sub", "key": "not-a-tuple-name"}), "malformed"),
    (encode_frame({"t": "sub", "key": "noop.Counter", "selector": {"x": [1]}}), "malformed"),
    (encode_frame({"t": "sub", "key": "noop.Counter", "plugin": "user"}), "malformed"),
]


async def test_bad_frames_from_a_browser_are_answered_with_errors_and_logged(
    stack, browsers, caplog
):
    caplog.set_level(logging.WARNING, logger="peek.vortex")
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    for data, code in BAD:
        await browser.send_raw(data)
        err = await browser.expect("err")
        assert err.header["code"] == code, data
    await browser.send_raw("a text message")
    assert (await browser.expect("err")).header["code"] == "malformed"
    assert "refused" in caplog.text
    # Still connected and served.
    await browser.send({"t": "ping", "id": "p1"})
    assert (await browser.expect("pong")).header["id"] == "p1"
    assert (await browser.action(Echo(text="still here"))).type == "reply"


async def test_bad_actions_get_errors_with_their_id(stack, browsers):
    stack.client.vortex.register_tuples("noop", Echo)
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.send({"t": "act", "key": "noop.Echo"}, b"")
    assert (await browser.expect("err")).header["code"] == "malformed"  # no id
    await browser.send({"t": "act", "id": "x" * 500, "key": "noop.Echo"}, b"")
    assert (await browser.expect("err")).header["code"] == "malformed"
    await browser.send({"t": "act", "id": "u1", "key": "noop.Echo"}, b"\x91\x81\xa2_t\xa5a.Bcd")
    unknown = await browser.expect("err", lambda f: f.header.get("id") == "u1")
    assert unknown.header["code"] == "unknown_tuple"
    await browser.send({"t": "act", "id": "u2", "key": "noop.Echo"}, b"\xc1\xc1")
    bad = await browser.expect("err", lambda f: f.header.get("id") == "u2")
    assert bad.header["code"] == "malformed"


async def test_an_oversized_frame_is_refused_and_the_socket_survives(
    tmp_path, peek_server, peek_upstream, browsers
):
    from .conftest import PLUGINS, vortex_config

    config = await asyncio.to_thread(vortex_config, tmp_path, **{"vortex.max_frame": 4096})
    server = await peek_server(PLUGINS, config=config)
    client = await peek_upstream("client", server, PLUGINS)
    from peek.testing.vortex import VortexBrowser

    browser = VortexBrowser(client.user_site.url)
    browsers.append(browser)
    await browser.connect()
    await browser.send({"t": "act", "id": "big", "key": "noop.Echo"}, os.urandom(6000))
    assert (await browser.expect("err")).header["code"] == "too_large"
    assert (await browser.action(Echo(text="small"))).type == "reply"


async def test_garbage_on_the_service_link_is_dropped_and_the_link_survives(stack, caplog):
    caplog.set_level(logging.WARNING, logger="peek.vortex.link")
    peer = next(iter(stack.server.link.peers.values()))
    await peer.ws.send_bytes(b"\xa7\x00\x00\x09\x81")  # truncated, to the client
    await stack.client.link._ws.send_bytes(b"\xa7\xff\x00\x01\x80")  # bad flags, to the server
    await wait_for(lambda: caplog.text.count("dropped a message") >= 2)
    assert stack.client.link.connected.is_set()
    stack.client.vortex.register_tuples("noop", Echo)
    assert await stack.client.vortex.action(Echo(number=1)) == [Echo(number=1)]


async def test_a_cross_site_page_cannot_open_the_socket(stack):
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            stack.url + "/vortex/ws",
            headers={
                "Origin": "http://evil.example",
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert response.status == 403
