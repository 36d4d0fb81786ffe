"""active_task through the vortex: each user's tasks live, and CompleteTask from browsers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from peek.testing import free_config
from peek.testing.vortex import VortexBrowser
from peek.vortex.codec import TupleRegistry
from peek_plugin_active_task.tuples import ALL_TUPLES, CompleteTask

USER = "peek_plugin_user"
PLUGIN = "peek_plugin_active_task"
KEY = "active_task.Task"


@pytest.fixture
async def stack(peek_server: Any, peek_upstream: Any, tmp_path: Path) -> Any:
    fast_hash = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    config = free_config(tmp_path / "peek-data", **{f"plugin.{USER}": {"argon2": fast_hash}})
    server = await peek_server([USER, PLUGIN], config=config)
    users = server.plugins.lifecycle.published(USER)
    await users.create_user("alice", "alice-pw")
    await users.create_user("bob", "bob-pw")
    client = await peek_upstream("client", server, [USER, PLUGIN])
    return server, client


def registry() -> TupleRegistry:
    found = TupleRegistry()
    found.register("active_task", *ALL_TUPLES)
    return found


async def browser_for(client: Any, user: str) -> VortexBrowser:
    browser = VortexBrowser(client.user_site.url)
    assert await browser.login(user, f"{user}-pw") == 200
    await browser.connect()
    return browser


async def test_a_task_added_on_the_server_reaches_its_users_browser(stack: Any) -> None:
    server, client = stack
    tasks = server.plugins.lifecycle.published(PLUGIN)
    async with await browser_for(client, "alice") as browser:
        await browser.subscribe(KEY, {"user": "alice"})
        first = await browser.expect("data")
        assert registry().decode(first.payload(1 << 20)) == []
        task = await tasks.add_task("alice", "Inspect feeder 12")
        update = await browser.expect("data")
        (sent,) = registry().decode(update.payload(1 << 20))
        assert (sent.task_id, sent.title, sent.completed_at) == (
            task.task_id,
            "Inspect feeder 12",
            None,
        )


async def test_browsers_must_log_in_to_watch_tasks(stack: Any) -> None:
    _, client = stack
    async with VortexBrowser(client.user_site.url) as browser:
        await browser.connect()
        await browser.subscribe(KEY, {"user": "alice"})
        refused = await browser.expect("err")
        assert refused.header["code"] == "unauthenticated"


async def test_a_user_completes_their_own_task_once(stack: Any) -> None:
    server, client = stack
    tasks = server.plugins.lifecycle.published(PLUGIN)
    task = await tasks.add_task("alice", "Inspect feeder 12")
    async with await browser_for(client, "alice") as browser:
        reply = await browser.action(CompleteTask(task_id=task.task_id))
        assert reply.header["t"] == "reply"
        (done,) = registry().decode(reply.payload(1 << 20))
        assert done.completed_at is not None
    assert (await tasks.get_task(task.task_id)).completed


async def test_a_user_cannot_complete_someone_elses_task(stack: Any) -> None:
    server, client = stack
    tasks = server.plugins.lifecycle.published(PLUGIN)
    task = await tasks.add_task("alice", "Inspect feeder 12")
    async with await browser_for(client, "bob") as browser:
        reply = await browser.action(CompleteTask(task_id=task.task_id))
        assert reply.header["t"] == "err" and reply.header["code"] == "failed"
        assert "someone else" in reply.header["msg"]
    assert not (await tasks.get_task(task.task_id)).completed


async def test_completing_an_unknown_task_is_refused(stack: Any) -> None:
    _, client = stack
    async with await browser_for(client, "alice") as browser:
        reply = await browser.action(CompleteTask(task_id="nope"))
        assert reply.header["code"] == "failed" and "no task" in reply.header["msg"]


async def test_a_user_cannot_watch_someone_elses_tasks(stack: Any) -> None:
    server, client = stack
    await server.plugins.lifecycle.published(PLUGIN).add_task("alice", "Private")
    async with await browser_for(client, "bob") as browser:
        await browser.subscribe(KEY, {"user": "alice"})
        refused = await browser.expect("err")
        assert refused.header["code"] == "forbidden"
        assert refused.header["selector"] == {"user": "alice"}
        assert "bob may not watch active_task.Task" in refused.header["msg"]


async def test_alice_still_sees_her_tasks_while_bob_is_refused_them(stack: Any) -> None:
    server, client = stack
    tasks = server.plugins.lifecycle.published(PLUGIN)
    await tasks.add_task("alice", "Private")
    async with (
        await browser_for(client, "alice") as alice,
        await browser_for(client, "bob") as bob,
    ):
        await alice.subscribe(KEY, {"user": "alice"})
        assert len(registry().decode((await alice.expect("data")).payload(1 << 20))) == 1
        await bob.subscribe(KEY, {"user": "alice"})
        assert (await bob.expect("err")).header["code"] == "forbidden"
        await tasks.add_task("alice", "Another")
        assert len(registry().decode((await alice.expect("data")).payload(1 << 20))) == 2
        # bob's socket got nothing of alice's data, before or after the update
        await bob.send({"t": "ping", "id": "after"})
        await bob.expect("pong")
        assert [f.type for f in bob.unclaimed] == []


async def test_an_admin_may_watch_any_users_tasks(stack: Any) -> None:
    server, client = stack
    users = server.plugins.lifecycle.published(USER)
    await users.create_user("carol", "carol-pw", is_admin=True)
    await server.plugins.lifecycle.published(PLUGIN).add_task("alice", "Inspect")
    async with await browser_for(client, "carol") as browser:
        await browser.subscribe(KEY, {"user": "alice"})
        (task,) = registry().decode((await browser.expect("data")).payload(1 << 20))
        assert task.username == "alice"


async def test_watching_tasks_without_a_user_in_the_selector_is_refused(stack: Any) -> None:
    _, client = stack
    async with await browser_for(client, "alice") as browser:
        await browser.subscribe(KEY, {})
        assert (await browser.expect("err")).header["code"] == "forbidden"
