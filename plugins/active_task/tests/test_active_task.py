"""Specification of peek_plugin_active_task: tasks for users that the ``user`` API knows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peek.config import PeekConfig
from peek.plugin import ApiConflict, PluginContext, PluginHook
from peek.plugin.discovery import PluginSpec
from peek.plugin.lifecycle import PluginState
from peek.plugin.manifest import parse_manifest
from peek.testing import assert_plugin_conforms, free_config, installed_specs
from peek_plugin_active_task.server import (
    ActiveTaskApi,
    InvalidTask,
    Task,
    UnknownTask,
    UnknownUser,
)

PLUGIN = "peek_plugin_active_task"
USER = "peek_plugin_user"
FAKE_USER = "peek_plugin_fake_user"

Factory = Callable[..., Awaitable[Any]]


def published(service: Any, name: str) -> Any:
    """The object plugin ``name`` published on ``service``."""
    return service.plugins.lifecycle.published(name)


@pytest.fixture
def config(tmp_path: Path) -> PeekConfig:
    fast_hash = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}
    return free_config(tmp_path / "peek-data", **{f"plugin.{USER}": {"argon2": fast_hash}})


@pytest.fixture
async def server(peek_server: Factory, config: PeekConfig) -> Any:
    server = await peek_server([USER, PLUGIN], config=config)
    await published(server, USER).create_user("alice", "pw", "Alice")
    return server


@pytest.fixture
def tasks(server: Any) -> ActiveTaskApi:
    api: ActiveTaskApi = published(server, PLUGIN)
    return api


# -- a test-only provider of the user API -----------------------------------


@dataclass(frozen=True)
class FakeUser:
    username: str


class FakeUsers:
    """Knows only alice, and remembers who asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def get_user(self, username: str) -> FakeUser | None:
        self.asked.append(username)
        return FakeUser("alice") if username == "alice" else None


class FakeUserHook(PluginHook):
    def load(self, ctx: PluginContext) -> None:
        ctx.publish(FakeUsers())


FAKE_USER_SPEC = PluginSpec(
    manifest=parse_manifest(
        FAKE_USER,
        "1.0",
        """
        title = "Fake users"
        peek = ">=0.1"

        [hooks]
        server = "tests.fake:FakeUserHook"

        [provides]
        user = "1.0"
        """,
    ),
    hook_classes={"server": FakeUserHook},
)


# -- the plugin contract ---------------------------------------------------


def test_plugin_conforms() -> None:
    assert_plugin_conforms(PLUGIN, with_plugins=[USER])


async def test_publishes_the_active_task_api(tasks: ActiveTaskApi) -> None:
    assert isinstance(tasks, ActiveTaskApi)


async def test_fails_without_a_user_api(peek_server: Factory, config: PeekConfig) -> None:
    server = await peek_server([PLUGIN], config=config)
    assert server.plugins.lifecycle.state(PLUGIN) is PluginState.FAILED


# -- tasks -------------------------------------------------------------------


async def test_added_task_is_open_and_listed_for_its_user(tasks: ActiveTaskApi) -> None:
    task = await tasks.add_task("alice", "Inspect feeder 12", "Reported hot")

    assert (task.username, task.title, task.description) == (
        "alice",
        "Inspect feeder 12",
        "Reported hot",
    )
    assert not task.completed
    assert await tasks.tasks_for("alice") == [task]
    assert await tasks.get_task(task.task_id) == task


async def test_tasks_for_unknown_users_are_refused(tasks: ActiveTaskApi, server: Any) -> None:
    with pytest.raises(UnknownUser) as info:
        await tasks.add_task("mallory", "Anything")
    assert info.value.username == "mallory"
    assert await tasks.tasks_for("mallory") == []


async def test_task_username_is_the_user_apis_spelling(tasks: ActiveTaskApi) -> None:
    task = await tasks.add_task("ALICE", "Read meter")
    assert task.username == "alice"
    assert await tasks.tasks_for("Alice") == [task]


async def test_tasks_are_listed_oldest_first(tasks: ActiveTaskApi) -> None:
    first = await tasks.add_task("alice", "First")
    second = await tasks.add_task("alice", "Second")
    assert await tasks.tasks_for("alice") == [first, second]


@pytest.mark.parametrize(
    ("title", "description"), [("", ""), ("   ", ""), ("x" * 201, ""), ("ok", "x" * 10_001)]
)
async def test_empty_or_overlong_tasks_are_refused(
    tasks: ActiveTaskApi, title: str, description: str
) -> None:
    with pytest.raises(InvalidTask) as info:
        await tasks.add_task("alice", title, description)
    assert isinstance(info.value, ValueError)


async def test_completed_task_keeps_its_first_completion_time(tasks: ActiveTaskApi) -> None:
    task = await tasks.add_task("alice", "Read meter")

    done = await tasks.complete_task(task.task_id)
    again = await tasks.complete_task(task.task_id)

    assert done.completed and done.completed_at is not None
    assert again == done
    assert await tasks.tasks_for("alice", include_completed=False) == []
    assert await tasks.tasks_for("alice") == [done]


async def test_removed_task_is_gone(tasks: ActiveTaskApi) -> None:
    task = await tasks.add_task("alice", "Read meter")
    await tasks.remove_task(task.task_id)
    assert await tasks.get_task(task.task_id) is None
    assert await tasks.tasks_for("alice") == []


async def test_unknown_task_ids_raise(tasks: ActiveTaskApi) -> None:
    with pytest.raises(UnknownTask):
        await tasks.complete_task("nope")
    with pytest.raises(UnknownTask):
        await tasks.remove_task("nope")


async def test_tasks_survive_a_server_restart(
    peek_server: Factory, server: Any, config: PeekConfig
) -> None:
    task = await published(server, PLUGIN).add_task("alice", "Read meter", "Meter 7")
    done = await published(server, PLUGIN).complete_task(task.task_id)
    await server.stop()

    restarted = await peek_server([USER, PLUGIN], config=config)

    restored: list[Task] = await published(restarted, PLUGIN).tasks_for("alice")
    assert restored == [done]


# -- the swap test: any provider of "user" will do ---------------------------


async def test_works_unchanged_with_another_provider_of_the_user_api(
    peek_server: Factory, config: PeekConfig
) -> None:
    # Discovery reads files: off the loop.
    active_task = await asyncio.to_thread(installed_specs, [PLUGIN])
    server = await peek_server(specs=[FAKE_USER_SPEC, *active_task], config=config)
    tasks: ActiveTaskApi = published(server, PLUGIN)
    fake: FakeUsers = published(server, FAKE_USER)

    task = await tasks.add_task("alice", "Read meter")
    with pytest.raises(UnknownUser):
        await tasks.add_task("bob", "Read meter")

    assert task.username == "alice"
    assert fake.asked == ["alice", "bob"]
    assert server.plugins.lifecycle.state(PLUGIN) is PluginState.STARTED


async def test_two_providers_of_the_user_api_conflict(
    peek_server: Factory, config: PeekConfig
) -> None:
    installed = await asyncio.to_thread(installed_specs, [USER, PLUGIN])
    server = await peek_server(specs=[FAKE_USER_SPEC, *installed], config=config)
    failed = server.plugins.lifecycle.resolution.failed

    assert isinstance(failed[USER], ApiConflict)
    assert isinstance(failed[FAKE_USER], ApiConflict)
    assert set(failed[USER].providers) == {FAKE_USER, USER}
    # Which error active_task gets (the conflict, or its provider failing) is
    # the platform's business; that it does not run is the behaviour.
    assert PLUGIN in failed
    assert server.plugins.lifecycle.state(PLUGIN) is PluginState.FAILED
