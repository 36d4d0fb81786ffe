"""Actions: routed to the owning plugin on the server, answered, processed once
per id across disconnects and server restarts, with explicit timeouts."""

from __future__ import annotations

import asyncio

import pytest

from peek.plugin import ActionError, ActionTimeout, Tuple
from peek.testing.services import start_server
from peek.testing.vortex import VortexBrowser
from peek.vortex.codec import TupleRegistry
from peek.vortex.journal import JournalError
from peek_plugin_noop.tuples import ALL_TUPLES, Bump, Counter, Echo, Note

from .conftest import ADMIN, PASSWORD, wait_for


def decode(frame) -> list[Tuple]:
    reg = TupleRegistry()
    reg.register("noop", *ALL_TUPLES)
    return reg.decode(frame.payload(1 << 20))


def noop(server):
    return server.plugins.lifecycle.hook("peek_plugin_noop")


async def test_a_browser_action_is_answered_by_the_server_plugin(stack, browsers):
    browser = await stack.logged_in()
    browsers.append(browser)
    reply = await browser.action(Bump(name="a", by=3))
    assert reply.type == "reply"
    (counter,) = decode(reply)
    assert isinstance(counter, Counter) and counter.value == 3
    assert noop(stack.server).counters == {"a": 3}


async def test_an_action_needing_a_login_is_refused_to_an_anonymous_browser(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    await browser.connect()
    reply = await browser.action(Bump(name="a"))
    assert reply.type == "err" and reply.header["code"] == "unauthenticated"
    assert noop(stack.server).counters == {}
    echoed = await browser.action(Echo(text="anyone may"))
    assert decode(echoed) == [Echo(text="anyone may")]


async def test_a_wrong_password_gets_no_session(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    assert await browser.login(ADMIN, "wrong") == 401
    assert browser.session_token is None


async def test_a_forged_session_cannot_open_a_socket(stack, browsers):
    browser = VortexBrowser(stack.url, session="not-a-session")
    browsers.append(browser)
    with pytest.raises(Exception, match="401"):
        await browser.connect()


async def test_the_post_fallback_answers_an_action_with_a_frame(stack, browsers):
    browser = stack.browser()
    browsers.append(browser)
    assert await browser.login(ADMIN, PASSWORD) == 200
    reply = await browser.post_action(Bump(name="p", by=2))
    assert reply.type == "reply"
    assert decode(reply)[0].value == 2
    anonymous = stack.browser()
    browsers.append(anonymous)
    refused = await anonymous.post_action(Bump(name="p"))
    assert refused.header["code"] == "unauthenticated"


async def test_a_repeated_action_id_gets_the_stored_reply_not_a_second_run(stack, browsers):
    browser = await stack.logged_in()
    browsers.append(browser)
    first = await browser.action(Bump(name="a"), action_id="same-id")
    again = await browser.action(Bump(name="a"), action_id="same-id")
    assert first.data == again.data
    assert noop(stack.server).counters == {"a": 1}


async def test_an_id_reused_for_another_action_is_a_conflict(stack, browsers):
    browser = await stack.logged_in()
    browsers.append(browser)
    await browser.action(Bump(name="a"), action_id="reused")
    clash = await browser.action(Bump(name="b"), action_id="reused")
    assert clash.header["code"] == "conflict"
    assert noop(stack.server).counters == {"a": 1}


async def test_another_user_sending_a_used_id_gets_a_conflict_not_the_stored_reply(stack, browsers):
    users = stack.server.plugins.lifecycle.published("peek_plugin_user")
    await users.create_user("mallory", "mallory-pw")
    owner = await stack.logged_in()
    browsers.append(owner)
    first = await owner.action(Bump(name="a", by=5), action_id="owners-id")
    assert decode(first)[0].value == 5
    other = stack.browser()
    browsers.append(other)
    assert await other.login("mallory", "mallory-pw") == 200
    await other.connect()
    clash = await other.action(Bump(name="a", by=5), action_id="owners-id")
    assert clash.type == "err" and clash.header["code"] == "conflict"
    assert noop(stack.server).counters == {"a": 5}


async def test_an_action_nobody_processes_is_a_clear_error(stack):
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    with pytest.raises(ActionError) as refused:
        await stack.client.vortex.action(Note(text="nobody handles notes"))
    assert refused.value.code == "no_handler"


async def test_a_slow_processor_times_out_with_the_callers_timeout(stack):
    release = asyncio.Event()

    async def slow(action, caller):
        await release.wait()

    stack.server.vortex.handle_actions("noop.Note", slow)
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    try:
        with pytest.raises(ActionTimeout):
            await stack.client.vortex.action(Note(text="slow"), timeout=0.3)
    finally:
        release.set()


async def test_a_browser_action_past_its_timeout_is_answered_timeout_and_the_socket_lives(
    stack, browsers
):
    release = asyncio.Event()

    async def slow(action, caller):
        await release.wait()

    stack.server.vortex.handle_actions("noop.Note", slow)
    browser = await stack.logged_in()
    browsers.append(browser)
    try:
        answer = await browser.action(Note(text="slow"), timeout=0.3)
        assert answer.type == "err" and answer.header["code"] == "timeout"
        assert decode(await browser.action(Echo(number=2)))[0] == Echo(number=2)
    finally:
        release.set()


async def test_the_same_id_sent_again_while_it_runs_is_run_once_and_both_get_its_answer(stack):
    release = asyncio.Event()
    runs = []

    async def gated(action, caller):
        runs.append(action)
        await release.wait()
        return Note(text="done")

    server = stack.server
    server.vortex.handle_actions("noop.Note", gated)
    first = asyncio.ensure_future(server.vortex.action(Note(text="x"), action_id="same"))
    await wait_for(lambda: runs)
    second = asyncio.ensure_future(server.vortex.action(Note(text="x"), action_id="same"))
    await asyncio.sleep(0.05)
    release.set()
    assert await first == await second == [Note(text="done")]
    assert len(runs) == 1


async def test_a_failing_processor_answers_failed_and_the_link_survives(stack):
    def broken(action, caller):
        raise RuntimeError("boom")

    stack.server.vortex.handle_actions("noop.Note", broken)
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    with pytest.raises(ActionError) as failed:
        await stack.client.vortex.action(Note(text="x"))
    assert failed.value.code == "failed"
    assert await stack.client.vortex.action(Echo(number=5)) == [Echo(number=5)]


def disk_full(monkeypatch, journal, method: str) -> None:
    """Make ``journal.method`` fail as a journal on a full disk does."""

    async def failing(*args):
        raise JournalError("cannot write the action journal: [Errno 28] No space left on device")

    monkeypatch.setattr(journal, method, failing)


async def test_an_action_the_journal_cannot_record_is_refused_unavailable_and_not_run(
    stack, monkeypatch, caplog
):
    disk_full(monkeypatch, stack.server.action_journal, "claim")
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    with pytest.raises(ActionError) as refused:
        await stack.client.vortex.action(Bump(name="full", by=1))
    assert refused.value.code == "unavailable"
    assert "full" not in noop(stack.server).counters
    assert "No space left on device" in caplog.text


async def test_an_answer_the_journal_cannot_record_still_reaches_the_sender(
    stack, monkeypatch, caplog
):
    disk_full(monkeypatch, stack.server.action_journal, "complete")
    stack.client.vortex.register_tuples("noop", *ALL_TUPLES)
    (counter,) = await stack.client.vortex.action(Bump(name="ran", by=2))
    assert isinstance(counter, Counter) and counter.value == 2
    assert noop(stack.server).counters == {"ran": 2}
    assert "is not recorded" in caplog.text


async def test_an_action_is_processed_once_when_the_link_drops_between_running_and_reply(
    stack, browsers
):
    server = stack.server
    browser = await stack.logged_in()
    browsers.append(browser)
    real_answer = server.vortex._answer
    dropped = asyncio.Event()

    async def drop_instead(peer, reply):
        # The action has run and its reply is journaled; the link dies before it is sent.
        server.vortex._answer = real_answer
        peer.transport.abort()
        dropped.set()

    server.vortex._answer = drop_instead
    connects = stack.client.link.connects
    reply = await browser.action(Bump(name="once", by=1), within=15)
    assert dropped.is_set()
    assert stack.client.link.connects > connects  # it was resent after a reconnect
    assert reply.type == "reply" and decode(reply)[0].value == 1
    assert noop(server).counters == {"once": 1}
    assert server.vortex.executed == 1


async def test_a_server_restart_between_running_and_reply_does_not_run_it_again(
    peek_upstream, config, browsers
):
    # Fixed ports, so that the client finds the restarted server.
    import socket

    ports = {}
    for key in ("server.admin_port", "server.exchange_port"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[key] = s.getsockname()[1]
    config = config.model_copy(
        update={
            "server": config.server.model_copy(
                update={k.split(".")[1]: v for k, v in ports.items()}
            )
        }
    )
    from peek.testing.services import installed_specs

    specs = await asyncio.to_thread(installed_specs, ["peek_plugin_noop", "peek_plugin_user"])
    server = await start_server(config, specs)
    restarted = None
    try:
        client = await peek_upstream("client", server, ["peek_plugin_noop", "peek_plugin_user"])
        browser = VortexBrowser(client.user_site.url)
        browsers.append(browser)
        assert await browser.login(ADMIN, PASSWORD) == 200
        await browser.connect()

        stopped = asyncio.Event()

        async def stop_instead(peer, reply):
            stopped.set()

        server.vortex._answer = stop_instead
        pending = asyncio.ensure_future(browser.action(Bump(name="r", by=1), within=20))
        await asyncio.wait_for(stopped.wait(), 10)
        assert noop(server).counters == {"r": 1}
        await server.stop()

        restarted = await start_server(config, specs)
        reply = await pending
        assert reply.type == "reply" and decode(reply)[0].value == 1  # the stored reply
        assert noop(restarted).counters == {}  # not run again
        assert restarted.vortex.executed == 0
    finally:
        for s in (restarted, server):
            if s is not None:
                await s.stop()


async def test_server_plugins_send_actions_without_the_link(stack):
    assert await stack.server.vortex.action(Echo(text="local")) == [Echo(text="local")]


async def test_an_unanswered_action_waits_for_the_link_and_is_sent_on_connect(stack, peek_upstream):
    agent = await peek_upstream("agent", stack.server, ["peek_plugin_noop"])
    agent.vortex.register_tuples("noop", *ALL_TUPLES)
    await agent.link.close()
    agent._link_task.cancel()
    await wait_for(lambda: not agent.link.connected.is_set())
    pending = asyncio.ensure_future(agent.vortex.action(Bump(name="later"), timeout=10))
    await asyncio.sleep(0.2)
    assert not pending.done()
    # A new link, as after a reconnect: the action goes out then.
    from peek.vortex.link import LinkClient

    link = LinkClient(
        agent.server_url,
        await asyncio.to_thread(
            lambda: agent.config.token_file("agent").read_text(encoding="utf-8").strip()
        ),
        agent._hello,
        on_connect=agent.vortex.link_up,
    )
    agent.vortex.attach(link)
    task = asyncio.ensure_future(link.run())
    try:
        (counter,) = await pending
        assert counter.value == 1
    finally:
        await link.close()
        task.cancel()
        await asyncio.wait({task})
