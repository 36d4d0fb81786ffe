"""Running a plugin set on one service: order, isolation, timeouts, contributions, status."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from twisted.internet import defer, task
from twisted.internet.asyncioreactor import AsyncioSelectorReactor

from peek.plugin import (
    DependencyFailed,
    HookFailed,
    HookTimeout,
    ManifestError,
    MissingRequirement,
    PluginContext,
)
from peek.plugin.discovery import PluginSpec
from peek.plugin.lifecycle import PluginState, PluginStatus
from peek.plugin.manifest import parse_manifest

from .conftest import LifecycleFactory, PluginFactory
from .fakes import (
    TINY_HOOK_TIMEOUT,
    Boom,
    BrokenRoutesHook,
    Calls,
    HangingHook,
    RaisingHook,
    RecordingHook,
    RoutesHook,
    boot,
    error_of,
    failing,
    manifest_text,
)


def phases(calls: Calls, phase: str) -> list[str]:
    """The plugins (short names) that ran ``phase``, in call order."""
    return [name.removeprefix("peek_plugin_") for name, called in calls if called == phase]


def states(lifecycle: Any) -> dict[str, PluginState]:
    return {status.name.removeprefix("peek_plugin_"): status.state for status in lifecycle.status()}


# -- order -----------------------------------------------------------------


async def test_plugins_load_in_dependency_order_before_any_starts(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("app", requires={"inbox": ">=1"}),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("user"),
    )

    await boot(lifecycle)

    assert calls == [
        ("peek_plugin_user", "load"),
        ("peek_plugin_inbox", "load"),
        ("peek_plugin_app", "load"),
        ("peek_plugin_user", "start"),
        ("peek_plugin_inbox", "start"),
        ("peek_plugin_app", "start"),
    ]
    assert set(states(lifecycle).values()) == {PluginState.STARTED}


async def test_plugins_stop_then_unload_in_reverse_dependency_order(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("app", requires={"inbox": ">=1"}),
            make_plugin("inbox", requires={"user": ">=1"}),
            make_plugin("user"),
        )
    )
    calls.clear()

    await lifecycle.unload_all()

    assert calls == [
        ("peek_plugin_app", "stop"),
        ("peek_plugin_inbox", "stop"),
        ("peek_plugin_user", "stop"),
        ("peek_plugin_app", "unload"),
        ("peek_plugin_inbox", "unload"),
        ("peek_plugin_user", "unload"),
    ]
    assert set(states(lifecycle).values()) == {PluginState.STOPPED}


async def test_second_unload_all_is_harmless(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(make_lifecycle(make_plugin("a"), make_plugin("b")))
    await lifecycle.unload_all()
    calls.clear()

    await lifecycle.unload_all()

    assert calls == []


async def test_plugin_without_hook_for_this_service_is_not_run_but_satisfies_requirements(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("user", services=["client"]),
        make_plugin("inbox", requires={"user": ">=1"}, services=["server", "client"]),
    )

    await boot(lifecycle)

    assert phases(calls, "load") == ["inbox"]
    assert states(lifecycle) == {"inbox": PluginState.STARTED}


async def test_failed_plugin_of_another_service_fails_its_users_here(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("user", services=["client"], requires={"ldap": ">=1"}),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("other"),
    )

    await boot(lifecycle)

    assert phases(calls, "load") == ["other"]
    assert lifecycle.state("peek_plugin_inbox") is PluginState.FAILED
    error = lifecycle.status()[-1]
    assert error.name == "peek_plugin_inbox"
    assert error.error == (
        "plugin peek_plugin_inbox requires 'user', and its provider peek_plugin_user failed"
    )


async def test_unresolvable_plugins_never_load_and_unrelated_plugins_run(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("app", requires={"inbox": ">=1"}),
        make_plugin("other"),
    )

    await boot(lifecycle)

    assert {name for name, _ in calls} == {"peek_plugin_other"}
    assert states(lifecycle) == {
        "other": PluginState.STARTED,
        "app": PluginState.FAILED,
        "inbox": PluginState.FAILED,
    }
    errors = {status.name: status.error for status in lifecycle.status()}
    assert errors["peek_plugin_inbox"] == (
        "plugin peek_plugin_inbox requires 'user', which no enabled plugin provides"
    )


async def test_async_hooks_are_awaited_before_the_next_plugin_runs(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    class AsyncHook(RecordingHook):
        async def load(self, ctx: PluginContext) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            super().load(ctx)

    lifecycle = make_lifecycle(
        make_plugin("user", hook=AsyncHook),
        make_plugin("inbox", requires={"user": ">=1"}),
    )

    await lifecycle.load_all()

    assert phases(calls, "load") == ["user", "inbox"]


# -- isolation -------------------------------------------------------------


async def test_exception_in_load_fails_the_plugin_and_its_dependents_and_others_run(
    make_plugin: PluginFactory,
    make_lifecycle: LifecycleFactory,
    calls: Calls,
    caplog: pytest.LogCaptureFixture,
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("user", hook=failing(RaisingHook, "load")),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("other"),
    )

    with caplog.at_level(logging.ERROR):
        await boot(lifecycle)

    assert states(lifecycle) == {
        "other": PluginState.STARTED,
        "user": PluginState.FAILED,
        "inbox": PluginState.FAILED,
    }
    assert sorted(phases(calls, "load")) == ["other", "user"]
    errors = {status.name: status.error for status in lifecycle.status()}
    assert errors["peek_plugin_user"] == (
        "plugin peek_plugin_user failed in load: Boom: peek_plugin_user broke in load"
    )
    assert errors["peek_plugin_inbox"] == (
        "plugin peek_plugin_inbox requires 'user', and its provider peek_plugin_user failed"
    )
    logged = [r for r in caplog.records if getattr(r, "plugin", None) == "peek_plugin_user"]
    assert logged
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], Boom)


async def test_exception_in_start_fails_the_plugin_and_unloads_it_and_its_dependents(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("user", hook=failing(RaisingHook, "start")),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("app", requires={"inbox": ">=1"}),
        make_plugin("other"),
    )

    await boot(lifecycle)
    await lifecycle.wait_abandoned()

    assert states(lifecycle) == {
        "other": PluginState.STARTED,
        "user": PluginState.FAILED,
        "inbox": PluginState.FAILED,
        "app": PluginState.FAILED,
    }
    assert sorted(phases(calls, "start")) == ["other", "user"]
    assert sorted(phases(calls, "unload")) == ["app", "inbox", "user"]
    assert phases(calls, "stop") == []
    errors = {status.name: status.error for status in lifecycle.status()}
    assert errors["peek_plugin_app"] == (
        "plugin peek_plugin_app requires 'inbox', and its provider peek_plugin_inbox failed"
    )


async def test_dependent_unloaded_after_its_provider_failed_is_not_unloaded_again(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("user", hook=failing(RaisingHook, "start")),
        make_plugin("inbox", requires={"user": ">=1"}),
    )
    await boot(lifecycle)

    # Shut down at once, before the background clean-up had a chance to run.
    await lifecycle.unload_all()
    await lifecycle.wait_abandoned()

    assert sorted(phases(calls, "unload")) == ["inbox", "user"]


async def test_hook_hanging_past_the_timeout_fails_the_plugin_with_hook_timeout(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = make_lifecycle(
        make_plugin("slow", hook=failing(HangingHook, "start")),
        make_plugin("app", requires={"slow": ">=1"}),
        make_plugin("other"),
    )

    await boot(lifecycle)

    assert states(lifecycle) == {
        "other": PluginState.STARTED,
        "slow": PluginState.FAILED,
        "app": PluginState.FAILED,
    }
    error = error_of(lifecycle, "peek_plugin_slow")
    assert isinstance(error, HookTimeout)
    assert (error.phase, error.timeout) == ("start", TINY_HOOK_TIMEOUT)
    assert str(error) == "plugin peek_plugin_slow did not finish start within 0.2 s"
    assert isinstance(error_of(lifecycle, "peek_plugin_app"), DependencyFailed)


async def test_plugin_failing_at_stop_does_not_keep_the_others_from_stopping(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("user"),
            make_plugin("inbox", requires={"user": ">=1"}, hook=failing(RaisingHook, "stop")),
            make_plugin("app", requires={"inbox": ">=1"}),
        )
    )

    await lifecycle.unload_all()

    assert phases(calls, "stop") == ["app", "inbox", "user"]
    assert phases(calls, "unload") == ["app", "inbox", "user"]
    assert states(lifecycle) == {
        "user": PluginState.STOPPED,
        "inbox": PluginState.FAILED,
        "app": PluginState.STOPPED,
    }
    error = error_of(lifecycle, "peek_plugin_inbox")
    assert isinstance(error, HookFailed)
    assert error.phase == "stop"


async def test_plugin_hanging_at_stop_does_not_keep_the_others_from_stopping(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("user"),
            make_plugin("inbox", requires={"user": ">=1"}, hook=failing(HangingHook, "stop")),
        )
    )

    await lifecycle.stop_all()

    assert phases(calls, "stop") == ["inbox", "user"]
    assert lifecycle.state("peek_plugin_user") is PluginState.STOPPED
    assert isinstance(error_of(lifecycle, "peek_plugin_inbox"), HookTimeout)


async def test_import_error_of_the_hook_module_fails_only_that_plugin(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    name = "peek_plugin_unimportable"
    text = manifest_text(hooks={"server": f"{name}._private.no_such_module:ServerHook"})
    broken = PluginSpec(manifest=parse_manifest(name, "1.0", text))
    lifecycle = make_lifecycle(
        broken,
        make_plugin("app", requires={"unimportable": ">=1"}),
        make_plugin("other"),
    )

    await boot(lifecycle)

    assert states(lifecycle) == {
        "other": PluginState.STARTED,
        "unimportable": PluginState.FAILED,
        "app": PluginState.FAILED,
    }
    error = error_of(lifecycle, name)
    assert isinstance(error, HookFailed)
    assert error.phase == "import"
    assert "ModuleNotFoundError" in str(error)


async def test_hook_class_missing_from_its_module_fails_only_that_plugin(
    make_lifecycle: LifecycleFactory, make_plugin: PluginFactory
) -> None:
    name = "peek_plugin_misnamed"
    text = manifest_text(hooks={"server": "peek.plugin.hook:NoSuchHook"})
    lifecycle = make_lifecycle(
        PluginSpec(manifest=parse_manifest(name, "1.0", text)), make_plugin("other")
    )

    await boot(lifecycle)

    assert states(lifecycle) == {"other": PluginState.STARTED, "misnamed": PluginState.FAILED}
    error = error_of(lifecycle, name)
    assert isinstance(error, HookFailed)
    assert "module peek.plugin.hook has no attribute NoSuchHook" in str(error)


async def test_plugin_error_raised_by_a_hook_is_kept_as_the_reason(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    class MissingAtRuntime(RecordingHook):
        def load(self, ctx: PluginContext) -> None:
            raise MissingRequirement(self.name, "printer")

    lifecycle = make_lifecycle(make_plugin("office", hook=MissingAtRuntime))

    await boot(lifecycle)

    error = error_of(lifecycle, "peek_plugin_office")
    assert isinstance(error, MissingRequirement)
    assert error.api == "printer"


# -- Twisted ---------------------------------------------------------------


async def test_hook_returning_a_fired_deferred_succeeds(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    class FiredDeferredHook(RecordingHook):
        def start(self, ctx: PluginContext) -> defer.Deferred[None]:  # type: ignore[override]
            super().start(ctx)
            return defer.succeed(None)

    lifecycle = await boot(make_lifecycle(make_plugin("twisted", hook=FiredDeferredHook)))

    assert lifecycle.state("peek_plugin_twisted") is PluginState.STARTED


async def test_hook_returning_a_failed_deferred_fails_the_plugin(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    class FailedDeferredHook(RecordingHook):
        def start(self, ctx: PluginContext) -> defer.Deferred[None]:  # type: ignore[override]
            return defer.fail(Boom("no port"))

    lifecycle = await boot(make_lifecycle(make_plugin("twisted", hook=FailedDeferredHook)))

    error = error_of(lifecycle, "peek_plugin_twisted")
    assert isinstance(error, HookFailed)
    assert str(error) == "plugin peek_plugin_twisted failed in start: Boom: no port"


async def test_hook_returning_a_pending_deferred_is_waited_for(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    clock = task.Clock()

    class DeferLaterHook(RecordingHook):
        def load(self, ctx: PluginContext) -> defer.Deferred[None]:  # type: ignore[override]
            later = task.deferLater(clock, 5, RecordingHook.load, self, ctx)
            # Fires on the loop's next turn: "app" would load first if nobody waited.
            asyncio.get_running_loop().call_soon(clock.advance, 5)
            return later

    lifecycle = make_lifecycle(
        make_plugin("twisted", hook=DeferLaterHook),
        make_plugin("app", requires={"twisted": ">=1"}),
    )

    await lifecycle.load_all()

    assert phases(calls, "load") == ["twisted", "app"]
    assert lifecycle.state("peek_plugin_twisted") is PluginState.LOADED


@pytest_asyncio.fixture
async def asyncio_reactor() -> AsyncIterator[AsyncioSelectorReactor]:
    """Twisted's asyncio reactor on the test's loop, not installed globally."""
    reactor = AsyncioSelectorReactor(asyncio.get_running_loop())
    yield reactor
    reactor.removeAll()
    reactor.waker.connectionLost(None)


async def test_hook_returning_deferlater_on_the_asyncio_reactor_is_waited_for(
    make_plugin: PluginFactory,
    make_lifecycle: LifecycleFactory,
    calls: Calls,
    asyncio_reactor: AsyncioSelectorReactor,
) -> None:
    class DeferLaterHook(RecordingHook):
        def start(self, ctx: PluginContext) -> defer.Deferred[None]:  # type: ignore[override]
            return task.deferLater(asyncio_reactor, 0.01, RecordingHook.start, self, ctx)

    lifecycle = make_lifecycle(make_plugin("twisted", hook=DeferLaterHook), make_plugin("app"))

    await boot(lifecycle)

    assert phases(calls, "start") == ["app", "twisted"]
    assert lifecycle.state("peek_plugin_twisted") is PluginState.STARTED


async def test_deferred_that_never_fires_times_out_and_is_cancelled(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    pending: list[defer.Deferred[None]] = []

    class NeverFiresHook(RecordingHook):
        def load(self, ctx: PluginContext) -> defer.Deferred[None]:  # type: ignore[override]
            pending.append(defer.Deferred())
            return pending[-1]

    lifecycle = make_lifecycle(make_plugin("twisted", hook=NeverFiresHook))

    await lifecycle.load_all()
    await lifecycle.wait_abandoned()

    assert isinstance(error_of(lifecycle, "peek_plugin_twisted"), HookTimeout)
    assert pending[0].called  # cancelled: whatever it waited on is released


# -- contributions ---------------------------------------------------------


async def test_contributions_come_only_from_running_plugins_in_load_order(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("zed", hook=RoutesHook),
            make_plugin("abc", requires={"zed": ">=1"}, hook=RoutesHook),
            make_plugin("broken", hook=failing(RaisingHook, "start")),
            make_plugin("quiet"),
        )
    )

    assert lifecycle.contributions("peek_site_routes", site="admin") == [
        ("peek_plugin_zed", ["peek_plugin_zed route"]),
        ("peek_plugin_abc", ["peek_plugin_abc route"]),
    ]
    assert lifecycle.contributions("peek_site_routes", site="user") == []

    await lifecycle.stop_all()

    assert lifecycle.contributions("peek_site_routes", site="admin") == []


async def test_contributions_skip_a_plugin_that_failed_to_start(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    class RoutesButFailsToStart(RoutesHook):
        def start(self, ctx: PluginContext) -> None:
            raise Boom("no database")

    lifecycle = await boot(
        make_lifecycle(make_plugin("sick", hook=RoutesButFailsToStart), make_plugin("ok"))
    )

    assert lifecycle.contributions("peek_site_routes", site="admin") == []


async def test_contribution_that_raises_fails_only_that_plugin(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("bad", hook=BrokenRoutesHook),
            make_plugin("good", hook=RoutesHook),
        )
    )

    routes = lifecycle.contributions("peek_site_routes", site="admin")
    await lifecycle.wait_abandoned()

    assert routes == [("peek_plugin_good", ["peek_plugin_good route"])]
    assert states(lifecycle) == {"bad": PluginState.FAILED, "good": PluginState.STARTED}
    error = error_of(lifecycle, "peek_plugin_bad")
    assert isinstance(error, HookFailed)
    assert error.phase == "peek_site_routes"
    # It was running: it is stopped and unloaded, not left running while reported failed.
    assert ("peek_plugin_bad", "stop") in calls
    assert ("peek_plugin_bad", "unload") in calls
    assert lifecycle.contributions("peek_site_routes", site="admin") == routes


async def test_dependents_of_a_plugin_whose_contribution_raised_are_stopped_and_unloaded(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("bad", hook=BrokenRoutesHook),
            make_plugin("user_of_bad", requires={"bad": ">=1"}),
        )
    )
    calls.clear()

    lifecycle.contributions("peek_site_routes", site="admin")
    await lifecycle.wait_abandoned()

    assert lifecycle.state("peek_plugin_user_of_bad") is PluginState.FAILED
    assert ("peek_plugin_user_of_bad", "stop") in calls
    assert ("peek_plugin_user_of_bad", "unload") in calls

    await lifecycle.unload_all()

    assert calls.count(("peek_plugin_user_of_bad", "unload")) == 1


# -- status ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "public"),
    [
        (PluginState.STARTED, "started"),
        (PluginState.FAILED, "failed"),
        (PluginState.STOPPED, "stopped"),
        (PluginState.LOADED, "stopped"),
        (PluginState.PENDING, "stopped"),
    ],
)
def test_status_json_maps_states_to_started_failed_or_stopped(
    state: PluginState, public: str
) -> None:
    status = PluginStatus("peek_plugin_a", "1.2", state, error=None)

    assert status.as_json() == {
        "name": "peek_plugin_a",
        "version": "1.2",
        "state": public,
        "error": None,
    }


async def test_status_lists_plugins_in_load_order_then_failures_then_discovery_errors(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("app", requires={"user": ">=1"}),
            make_plugin("user", version="2.1"),
            make_plugin("lost", requires={"nothing": ">=1"}),
            discovery_errors=[ManifestError("peek_plugin_gone", "not installed")],
        )
    )

    report = [status.as_json() for status in lifecycle.status()]

    assert [(s["name"], s["state"]) for s in report] == [
        ("peek_plugin_user", "started"),
        ("peek_plugin_app", "started"),
        ("peek_plugin_lost", "failed"),
        ("peek_plugin_gone", "failed"),
    ]
    assert report[0]["version"] == "2.1"
    assert report[0]["error"] is None
    assert report[3]["error"] == "plugin peek_plugin_gone: invalid metadata: not installed"
