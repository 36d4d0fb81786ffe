"""What a plugin gets in its context: its own facts, and access to the APIs it declared."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peek.plugin import (
    ApiConflict,
    ApiNotDeclared,
    ApiUnavailable,
    DependencyFailed,
    PluginContext,
    PluginError,
)
from peek.plugin.lifecycle import PluginState

from .conftest import LifecycleFactory, PluginFactory
from .fakes import Calls, RaisingHook, RecordingHook, boot, failing


@dataclass
class UserApi:
    """What a ``user`` provider publishes."""

    backend: str


def asking_for(api: str, answers: dict[str, Any], **kwargs: Any) -> type[RecordingHook]:
    """A hook that asks ``ctx.api(api, **kwargs)`` in ``load`` and keeps the answer or error."""

    class AskingHook(RecordingHook):
        def load(self, ctx: PluginContext) -> None:
            super().load(ctx)
            try:
                answers[self.name] = ctx.api(api, **kwargs)
            except (PluginError, TypeError) as exc:
                answers[self.name] = exc

    return AskingHook


async def test_api_of_a_declared_requirement_is_the_object_its_provider_published(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}
    published = UserApi("local")

    await boot(
        make_lifecycle(
            make_plugin("user", publishes=published),
            make_plugin("inbox", requires={"user": ">=1"}, hook=asking_for("user", answers)),
        )
    )

    assert answers["peek_plugin_inbox"] is published


async def test_api_by_plugin_name_is_the_same_as_by_api_name(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    by_api: dict[str, Any] = {}
    by_plugin: dict[str, Any] = {}
    published = UserApi("local")

    await boot(
        make_lifecycle(
            make_plugin("user", publishes=published),
            make_plugin("inbox", requires={"user": ">=1"}, hook=asking_for("user", by_api)),
            make_plugin(
                "outbox",
                requires={"peek_plugin_user": ">=1"},
                hook=asking_for("peek_plugin_user", by_plugin),
            ),
        )
    )

    assert by_api["peek_plugin_inbox"] is published
    assert by_plugin["peek_plugin_outbox"] is published


async def test_api_that_was_not_declared_raises_api_not_declared(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}

    await boot(
        make_lifecycle(
            make_plugin("user", publishes=UserApi("local")),
            make_plugin("inbox", hook=asking_for("user", answers)),
        )
    )

    error = answers["peek_plugin_inbox"]
    assert isinstance(error, ApiNotDeclared)
    assert (error.plugin, error.api) == ("peek_plugin_inbox", "user")
    assert "does not declare it in [requires]" in str(error)


async def test_api_whose_provider_published_nothing_raises_api_unavailable(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}

    await boot(
        make_lifecycle(
            make_plugin("user"),
            make_plugin("inbox", requires={"user": ">=1"}, hook=asking_for("user", answers)),
        )
    )

    error = answers["peek_plugin_inbox"]
    assert isinstance(error, ApiUnavailable)
    assert (error.api, error.service) == ("user", "server")
    assert str(error) == (
        "API 'user' is not available to peek_plugin_inbox on the server: "
        "peek_plugin_user published no API"
    )


async def test_api_whose_provider_does_not_run_on_this_service_raises_api_unavailable(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}

    await boot(
        make_lifecycle(
            make_plugin("user", services=["client"], publishes=UserApi("local")),
            make_plugin("inbox", requires={"user": ">=1"}, hook=asking_for("user", answers)),
        )
    )

    error = answers["peek_plugin_inbox"]
    assert isinstance(error, ApiUnavailable)
    assert "its provider does not run here" in str(error)


async def test_api_of_a_provider_that_failed_later_raises_api_unavailable(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    contexts: dict[str, PluginContext] = {}

    class KeepsContext(RecordingHook):
        def load(self, ctx: PluginContext) -> None:
            contexts[self.name] = ctx

    lifecycle = await boot(
        make_lifecycle(
            make_plugin("user", publishes=UserApi("local"), hook=failing(RaisingHook, "start")),
            make_plugin("inbox", requires={"user": ">=1"}, hook=KeepsContext),
        )
    )

    assert lifecycle.state("peek_plugin_inbox") is PluginState.FAILED
    with pytest.raises(ApiUnavailable, match="peek_plugin_user failed"):
        contexts["peek_plugin_inbox"].api("user")


async def test_api_of_an_unexpected_type_raises_type_error(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}

    await boot(
        make_lifecycle(
            make_plugin("user", publishes="not a UserApi"),
            make_plugin(
                "inbox",
                requires={"user": ">=1"},
                hook=asking_for("user", answers, expected=UserApi),
            ),
        )
    )

    error = answers["peek_plugin_inbox"]
    assert isinstance(error, TypeError)
    assert str(error) == "API 'user' is a str, not a UserApi"


async def test_provider_of_an_api_under_another_name_serves_its_requirers(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory
) -> None:
    answers: dict[str, Any] = {}
    ldap = UserApi("ldap")

    lifecycle = await boot(
        make_lifecycle(
            make_plugin("ldap", provides={"user": "1.0"}, publishes=ldap),
            make_plugin("inbox", requires={"user": ">=1,<2"}, hook=asking_for("user", answers)),
        )
    )

    assert answers["peek_plugin_inbox"] is ldap
    assert lifecycle.state("peek_plugin_inbox") is PluginState.STARTED


async def test_two_enabled_providers_of_one_api_both_fail_with_their_dependents(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, calls: Calls
) -> None:
    lifecycle = await boot(
        make_lifecycle(
            make_plugin("user", publishes=UserApi("local")),
            make_plugin("ldap", provides={"user": "1.0"}, publishes=UserApi("ldap")),
            make_plugin("inbox", requires={"user": ">=1"}),
            make_plugin("ldap_admin", requires={"ldap": ">=1"}),
            make_plugin("other"),
        )
    )

    assert {name for name, _ in calls} == {"peek_plugin_other"}
    errors = {status.name: status for status in lifecycle.status()}
    assert errors["peek_plugin_other"].state is PluginState.STARTED
    for name in ("peek_plugin_user", "peek_plugin_ldap", "peek_plugin_inbox"):
        assert errors[name].state is PluginState.FAILED
        assert errors[name].error is not None
        assert "API 'user' is provided by more than one enabled plugin" in errors[name].error
    assert isinstance(lifecycle.resolution.failed["peek_plugin_user"], ApiConflict)
    assert isinstance(lifecycle.resolution.failed["peek_plugin_ldap_admin"], DependencyFailed)


async def test_context_carries_the_plugins_name_version_config_and_data_dir(
    make_plugin: PluginFactory, make_lifecycle: LifecycleFactory, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    class Inspects(RecordingHook):
        def load(self, ctx: PluginContext) -> None:
            seen.update(
                service=ctx.service,
                name=ctx.name,
                version=ctx.version,
                config=dict(ctx.config),
                data_dir=ctx.data_dir,
                logger=ctx.logger.name,
            )

    await boot(
        make_lifecycle(
            make_plugin("user", version="2.3", hook=Inspects),
            plugin_config={"peek_plugin_user": {"backend": "ldap"}, "peek_plugin_x": {"a": 1}},
        )
    )

    assert seen == {
        "service": "server",
        "name": "peek_plugin_user",
        "version": "2.3",
        "config": {"backend": "ldap"},
        "data_dir": tmp_path / "data" / "peek_plugin_user",
        "logger": "peek_plugin_user",
    }
    # Made before load, so that a plugin need not create it on the loop.
    assert seen["data_dir"].is_dir()


def test_publishing_again_replaces_the_published_object(
    make_plugin: PluginFactory, tmp_path: Path
) -> None:
    ctx = PluginContext(
        service="server",
        manifest=make_plugin("user").manifest,
        config={},
        data_dir=tmp_path,
        lookup=lambda requester, api: None,
    )

    ctx.publish("first")
    ctx.publish("second")

    assert ctx.published == "second"
