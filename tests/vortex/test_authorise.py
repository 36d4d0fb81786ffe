"""Who may watch: a provider's ``authorise(selector, caller)`` hook, asked per
(selector, browser user) on the server, while a client still keeps one upstream
subscription per selector for all its watchers."""

from __future__ import annotations

from typing import Any

from peek.plugin import Caller, Selector
from peek.testing.vortex import VortexBrowser
from peek.vortex.codec import TupleRegistry
from peek.vortex.envelope import selector_id
from peek_plugin_noop.tuples import ALL_TUPLES, Note

from .conftest import wait_for

KEY = "noop.Note"
ALICE = {"user": "alice"}
SID = selector_id("noop", KEY, ALICE)


def registry() -> TupleRegistry:
    reg = TupleRegistry()
    reg.register("noop", *ALL_TUPLES)
    return reg


class Inbox:
    """A per-user observable: each user may watch only their own selector."""

    def __init__(self) -> None:
        self.asked: list[tuple[str | None, str | None]] = []
        self.text = "hello alice"

    def provide(self, selector: Selector) -> list[Note]:
        return [Note(text=self.text)]

    def authorise(self, selector: Selector, caller: Caller) -> bool:
        self.asked.append((caller.user, caller.service_kind))
        return not caller.via_browser or caller.user == selector.get("user")


async def setup(stack: Any) -> Inbox:
    users = stack.server.plugins.lifecycle.published("peek_plugin_user")
    for name in ("alice", "bob"):
        await users.create_user(name, f"{name}-pw")
    inbox = Inbox()
    stack.server.vortex.provide(KEY, inbox.provide, authorise=inbox.authorise)
    return inbox


async def browser_as(stack: Any, browsers: list[VortexBrowser], user: str) -> VortexBrowser:
    browser = stack.browser()
    browsers.append(browser)
    assert await browser.login(user, f"{user}-pw") == 200
    await browser.connect()
    return browser


async def test_many_watchers_of_one_user_share_one_upstream_subscription_and_one_check(
    stack, browsers
):
    inbox = await setup(stack)
    watchers = [await browser_as(stack, browsers, "alice") for _ in range(5)]
    for browser in watchers:
        await browser.subscribe(KEY, ALICE)
    for browser in watchers:
        assert (await browser.expect("data")).header["key"] == KEY
    assert stack.server.vortex.subscriptions[SID] == 1
    assert stack.client.vortex.subscriptions[SID] == 5
    assert inbox.asked == [("alice", "client")]  # the yes is cached per user and selector

    before = stack.client.vortex.upstream_frames
    inbox.text = "again"
    stack.server.vortex.notify(KEY, ALICE)
    for browser in watchers:
        await browser.expect("data")
    assert stack.client.vortex.upstream_frames == before + 1


async def test_another_user_is_refused_with_forbidden_and_gets_no_data(stack, browsers):
    await setup(stack)
    alice = await browser_as(stack, browsers, "alice")
    bob = await browser_as(stack, browsers, "bob")
    await alice.subscribe(KEY, ALICE)
    await alice.expect("data")
    await bob.subscribe(KEY, ALICE)
    refused = await bob.expect("err")
    assert refused.header["code"] == "forbidden"
    assert refused.header["selector"] == ALICE
    assert "bob may not watch noop.Note" in refused.header["msg"]
    await bob.send({"t": "ping", "id": "1"})
    await bob.expect("pong")
    assert bob.unclaimed == []


async def test_a_refused_user_does_not_end_the_shared_subscription_of_others(stack, browsers):
    inbox = await setup(stack)
    alice = await browser_as(stack, browsers, "alice")
    await alice.subscribe(KEY, ALICE)
    await alice.expect("data")
    bob = await browser_as(stack, browsers, "bob")
    await bob.subscribe(KEY, ALICE)
    await bob.expect("err")
    inbox.text = "still here"
    stack.server.vortex.notify(KEY, ALICE)
    (note,) = registry().decode((await alice.expect("data")).payload(1 << 20))
    assert note == Note(text="still here")
    assert stack.server.vortex.subscriptions[SID] == 1
    assert stack.client.vortex.subscriptions[SID] == 1


async def test_a_refused_first_watcher_opens_nothing_on_the_server(stack, browsers):
    await setup(stack)
    bob = await browser_as(stack, browsers, "bob")
    await bob.subscribe(KEY, ALICE)
    assert (await bob.expect("err")).header["code"] == "forbidden"
    assert SID not in stack.server.vortex.subscriptions
    await wait_for(lambda: SID not in stack.client.vortex.subscriptions)


async def test_anonymous_browsers_are_refused_before_the_hook_is_asked(stack, browsers):
    inbox = await setup(stack)
    anonymous = stack.browser()
    browsers.append(anonymous)
    await anonymous.connect()
    await anonymous.subscribe(KEY, ALICE)
    assert (await anonymous.expect("err")).header["code"] == "unauthenticated"
    assert inbox.asked == []


async def test_a_hook_that_raises_refuses_with_failed(stack, browsers):
    await setup(stack)

    def broken(selector: Selector, caller: Caller) -> bool:
        raise RuntimeError("boom")

    stack.server.vortex.provide(KEY, lambda sel: [Note(text="x")], authorise=broken)
    alice = await browser_as(stack, browsers, "alice")
    await alice.subscribe(KEY, ALICE)
    refused = await alice.expect("err")
    assert refused.header["code"] == "failed"
    assert "RuntimeError" in refused.header["msg"]


async def test_services_are_asked_as_themselves(stack):
    inbox = await setup(stack)
    seen: list[str] = []
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    stack.client.vortex.observe(KEY, ALICE, lambda tuples: seen.append(tuples[0].text))
    await wait_for(lambda: seen == ["hello alice"])
    assert inbox.asked == [(None, "client")]


async def test_a_client_plugin_provider_authorises_its_browsers_locally(stack, browsers):
    await setup(stack)
    inbox = Inbox()
    stack.client.vortex.provide(KEY, inbox.provide, authorise=inbox.authorise)
    bob = await browser_as(stack, browsers, "bob")
    await bob.subscribe(KEY, ALICE)
    assert (await bob.expect("err")).header["code"] == "forbidden"
    await bob.subscribe(KEY, {"user": "bob"})
    assert (await bob.expect("data")).header["selector"] == {"user": "bob"}
    assert stack.server.vortex.subscriptions == {}


class Room:
    """A shared selector whose members the server may change at any time."""

    def __init__(self) -> None:
        self.members = {"alice", "bob"}
        self.asked: list[str | None] = []
        self.text = "first"

    def provide(self, selector: Selector) -> list[Note]:
        return [Note(text=self.text)]

    def authorise(self, selector: Selector, caller: Caller) -> bool:
        if caller.via_browser:
            self.asked.append(caller.user)
        return not caller.via_browser or caller.user in self.members


async def test_after_a_reconnect_the_client_asks_again_for_each_browser_user(stack, browsers):
    await setup(stack)
    room = Room()
    stack.server.vortex.provide(KEY, room.provide, authorise=room.authorise)
    selector = {"room": "ops"}
    alice = await browser_as(stack, browsers, "alice")
    bob = await browser_as(stack, browsers, "bob")
    for browser in (alice, bob):
        await browser.subscribe(KEY, selector)
        await browser.expect("data")
    assert sorted(room.asked) == ["alice", "bob"]

    # The server changes its mind about bob, then the link drops and comes back.
    room.members.discard("bob")
    room.asked.clear()
    client_link = stack.client.link
    connects = client_link.connects
    (peer,) = [p for p in stack.server.link.peers.values() if p.name == stack.client.name]
    peer.transport.abort()
    await wait_for(lambda: client_link.connects > connects and client_link.connected.is_set())

    refused = await bob.expect("err", within=10)
    assert refused.header["code"] == "forbidden"
    assert sorted(room.asked) == ["alice", "bob"]  # asked again, not the answer from before
    room.text = "after the reconnect"
    stack.server.vortex.notify(KEY, selector)
    while True:  # alice may first get the value resent on resubscription
        (note,) = registry().decode((await alice.expect("data")).payload(1 << 20))
        if note.text == "after the reconnect":
            break
    await bob.send({"t": "ping", "id": "2"})
    await bob.expect("pong")
    assert [f.type for f in bob.unclaimed] == []
