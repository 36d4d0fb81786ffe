"""Observables: one upstream subscription per selector on a client, the cache,
fan-out, teardown after the grace period, client overrides, agents observing."""

from __future__ import annotations

import asyncio
import datetime

from peek.plugin import Tuple
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import selector_id
from peek_plugin_noop.tuples import ALL_TUPLES, Bump, Counter, Note

from .conftest import GRACE, wait_for

SID = selector_id("noop", "noop.Counter", {"name": "a"})


def registry() -> TupleRegistry:
    reg = TupleRegistry()
    reg.register("noop", *ALL_TUPLES)
    return reg


def counter_value(frame) -> int:
    (counter,) = registry().decode(frame.payload(1 << 20))
    assert isinstance(counter, Counter)
    return counter.value


def server_watchers(stack) -> int:
    return stack.server.vortex.subscriptions.get(SID, 0)


async def test_n_browsers_share_one_upstream_subscription_and_all_get_each_update(stack, browsers):
    for _ in range(5):
        browser = stack.browser()
        browsers.append(browser)
        await browser.connect()
        await browser.subscribe("noop.Counter", {"name": "a"})
    for browser in browsers:
        assert counter_value(await browser.expect("data")) == 0
    assert server_watchers(stack) == 1  # the client, once
    assert stack.client.vortex.subscriptions[SID] == 5

    before = stack.client.vortex.upstream_frames
    await stack.server.vortex.action(Bump(name="a", by=7))
    for browser in browsers:
        assert counter_value(await browser.expect("data")) == 7
    assert stack.client.vortex.upstream_frames == before + 1


async def test_a_late_browser_is_answered_from_the_cache_without_asking_the_server(stack, browsers):
    first = stack.browser()
    browsers.append(first)
    await first.connect()
    await first.subscribe("noop.Counter", {"name": "a"})
    await first.expect("data")
    frames = stack.client.vortex.upstream_frames

    late = stack.browser()
    browsers.append(late)
    await late.connect()
    await late.subscribe("noop.Counter", {"name": "a"})
    assert counter_value(await late.expect("data", within=1)) == 0
    assert stack.client.vortex.upstream_frames == frames


async def test_the_upstream_subscription_ends_a_grace_period_after_the_last_watcher(
    stack, browsers
):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Counter", {"name": "a"})
    await browser.expect("data")
    await browser.unsubscribe("noop.Counter", {"name": "a"})
    await asyncio.sleep(GRACE / 3)
    assert server_watchers(stack) == 1, "torn down before the grace period"
    await wait_for(lambda: server_watchers(stack) == 0, within=GRACE * 10)
    assert SID not in stack.client.vortex.subscriptions


async def test_a_watcher_returning_within_the_grace_period_keeps_the_subscription(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Counter", {"name": "a"})
    await browser.expect("data")
    frames = stack.client.vortex.upstream_frames
    await browser.close()
    again = stack.browser()
    browsers.append(again)
    await again.connect()
    await again.subscribe("noop.Counter", {"name": "a"})
    await again.expect("data", within=1)
    await asyncio.sleep(GRACE * 2)
    assert server_watchers(stack) == 1
    assert stack.client.vortex.upstream_frames == frames


async def test_a_browser_that_disconnects_stops_watching(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Counter", {"name": "a"})
    await browser.expect("data")
    await browser.close()
    await wait_for(lambda: server_watchers(stack) == 0, within=GRACE * 10)


async def test_a_client_plugin_can_replace_the_server_for_a_key(stack, browsers):
    class Local(Tuple, tag="noop.Local"):
        text: str

    stack.client.vortex.register_tuples("noop", Local)
    stack.client.vortex.provide(
        "noop.Local", lambda sel: [Local(text=f"local {sel['n']}")], anonymous=True
    )
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Local", {"n": 1})
    frame = await browser.expect("data")
    (item,) = stack.client.vortex.registry.decode(frame.payload(1 << 20))
    assert item == Local(text="local 1")
    assert stack.server.vortex.subscriptions == {}


async def test_an_anonymous_browser_may_not_watch_what_needs_a_login(stack, browsers):
    stack.server.vortex.provide("noop.Note", lambda sel: [Note(text="secret")])
    anonymous = stack.browser()
    browsers.append(anonymous)
    await anonymous.connect()
    await anonymous.subscribe("noop.Note", {})
    refused = await anonymous.expect("err")
    assert refused.header["code"] == "unauthenticated"

    user = await stack.logged_in()
    browsers.append(user)
    await user.subscribe("noop.Note", {})
    assert (await user.expect("data")).header["key"] == "noop.Note"


async def test_a_key_nobody_provides_is_an_error_not_a_silence(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Nothing", {"x": 1})
    err = await browser.expect("err")
    assert err.header["code"] == "no_handler"
    assert err.header["selector"] == {"x": 1}


async def test_agents_and_server_plugins_observe_too(stack, peek_upstream):
    agent = await peek_upstream("agent", stack.server, ["peek_plugin_noop"])
    agent.vortex.register_tuples("noop", *ALL_TUPLES)
    seen_agent: list[int] = []
    seen_server: list[int] = []
    agent.vortex.observe("noop.Counter", {"name": "a"}, lambda t: seen_agent.append(t[0].value))
    stack.server.vortex.observe(
        "noop.Counter", {"name": "a"}, lambda t: seen_server.append(t[0].value)
    )
    await wait_for(lambda: seen_agent == [0] and seen_server == [0])
    await stack.server.vortex.action(Bump(name="a", by=2))
    await wait_for(lambda: seen_agent[-1:] == [2] and seen_server[-1:] == [2])


async def test_many_notifies_in_a_row_are_folded_into_the_latest_value(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    await browser.subscribe("noop.Counter", {"name": "a"})
    await browser.expect("data")
    hook = stack.server.plugins.lifecycle.hook("peek_plugin_noop")
    calls = []
    original = hook.counter

    def counting(selector):
        calls.append(datetime.datetime.now())
        return original(selector)

    stack.server.vortex._providers["noop.Counter"].handler = counting
    for _ in range(50):
        hook.counters["a"] = hook.counters.get("a", 0) + 1
        stack.server.vortex.notify("noop.Counter", {"name": "a"})
    assert counter_value(await browser.expect("data")) == 50
    assert len(calls) == 1
