"""Resolving a plugin set: providers, versions, cycles, and who fails because of whom."""

from __future__ import annotations

from peek.plugin import (
    ApiConflict,
    CircularDependency,
    DependencyFailed,
    MissingRequirement,
    RequirementVersionMismatch,
    UnsupportedPeekVersion,
)
from peek.plugin.resolve import resolve

from .conftest import PluginFactory
from .fakes import PEEK_VERSION


def test_providers_are_ordered_before_their_users(make_plugin: PluginFactory) -> None:
    specs = [
        make_plugin("app", requires={"inbox": ">=1", "user": ">=1"}),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("user"),
        make_plugin("zeta"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    assert resolution.failed == {}
    order = resolution.order
    assert order.index("peek_plugin_user") < order.index("peek_plugin_inbox")
    assert order.index("peek_plugin_inbox") < order.index("peek_plugin_app")
    assert set(order) == {spec.name for spec in specs}
    assert resolution.requires["peek_plugin_app"] == {"peek_plugin_inbox", "peek_plugin_user"}


def test_resolution_order_does_not_depend_on_input_order(make_plugin: PluginFactory) -> None:
    specs = [
        make_plugin("c", requires={"a": ">=1"}),
        make_plugin("b"),
        make_plugin("a"),
        make_plugin("d", requires={"b": ">=1"}),
    ]

    assert resolve(specs, PEEK_VERSION).order == resolve(specs[::-1], PEEK_VERSION).order


def test_missing_requirement_fails_the_plugin_and_its_dependents_only(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("app", requires={"inbox": ">=1"}),
        make_plugin("other"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    error = resolution.failed["peek_plugin_inbox"]
    assert isinstance(error, MissingRequirement)
    assert error.api == "user"
    assert str(error) == (
        "plugin peek_plugin_inbox requires 'user', which no enabled plugin provides"
    )
    dependent = resolution.failed["peek_plugin_app"]
    assert isinstance(dependent, DependencyFailed)
    assert (dependent.api, dependent.provider) == ("inbox", "peek_plugin_inbox")
    assert "its provider peek_plugin_inbox failed" in str(dependent)
    assert resolution.order == ("peek_plugin_other",)


def test_requirement_version_out_of_range_names_wanted_and_found_versions(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("user", version="1.5"),
        make_plugin("inbox", requires={"peek_plugin_user": ">=2,<3"}),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    error = resolution.failed["peek_plugin_inbox"]
    assert isinstance(error, RequirementVersionMismatch)
    assert (error.api, error.wanted, error.provider, error.found) == (
        "user",
        "<3,>=2",
        "peek_plugin_user",
        "1.5",
    )
    assert str(error) == (
        "plugin peek_plugin_inbox requires 'user' <3,>=2, but peek_plugin_user provides version 1.5"
    )
    assert resolution.order == ("peek_plugin_user",)


def test_requirement_version_is_checked_against_provides_version(
    make_plugin: PluginFactory,
) -> None:
    # The provider's own version (3.0) would satisfy the range; the API version does not.
    specs = [
        make_plugin("ldap", version="3.0", provides={"user": "1.0"}),
        make_plugin("inbox", requires={"user": ">=2"}),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    error = resolution.failed["peek_plugin_inbox"]
    assert isinstance(error, RequirementVersionMismatch)
    assert (error.provider, error.found) == ("peek_plugin_ldap", "1.0")


def test_requirement_within_range_of_provides_version_is_satisfied(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("ldap", version="0.3", provides={"user": "1.0"}),
        make_plugin("inbox", requires={"user": ">=1.0,<2"}),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    assert resolution.failed == {}
    assert resolution.providers["user"] == "peek_plugin_ldap"
    assert resolution.order == ("peek_plugin_ldap", "peek_plugin_inbox")


def test_dependency_cycle_fails_its_members_naming_the_cycle(make_plugin: PluginFactory) -> None:
    specs = [
        make_plugin("a", requires={"b": ">=1"}),
        make_plugin("b", requires={"c": ">=1"}),
        make_plugin("c", requires={"a": ">=1"}),
        make_plugin("user_of_a", requires={"a": ">=1"}),
        make_plugin("bystander"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    members = {"peek_plugin_a", "peek_plugin_b", "peek_plugin_c"}
    for name in members:
        error = resolution.failed[name]
        assert isinstance(error, CircularDependency)
        assert error.plugin == name
        assert set(error.cycle) == members
        assert error.cycle[0] == error.cycle[-1]
        assert " -> ".join(error.cycle) in str(error)
    assert isinstance(resolution.failed["peek_plugin_user_of_a"], DependencyFailed)
    assert resolution.order == ("peek_plugin_bystander",)


def test_unsupported_peek_version_fails_the_plugin_and_its_dependents(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("future", peek=">=2"),
        make_plugin("app", requires={"future": ">=1"}),
        make_plugin("other"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    error = resolution.failed["peek_plugin_future"]
    assert isinstance(error, UnsupportedPeekVersion)
    assert (error.supported, error.running) == (">=2", PEEK_VERSION)
    assert str(error) == "plugin peek_plugin_future supports Peek >=2, but this is Peek 0.1.0"
    dependent = resolution.failed["peek_plugin_app"]
    assert isinstance(dependent, DependencyFailed)
    assert dependent.provider == "peek_plugin_future"
    assert resolution.order == ("peek_plugin_other",)


def test_prerelease_of_peek_counts_as_in_range(make_plugin: PluginFactory) -> None:
    resolution = resolve([make_plugin("a", peek=">=0.1,<1")], "0.2.0rc1")

    assert resolution.failed == {}


def test_two_providers_of_one_api_conflict_and_their_users_fail(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("user"),
        make_plugin("ldap", provides={"user": "1.0"}),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("ldap_admin", requires={"ldap": ">=1"}),
        make_plugin("other"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    for name in ("peek_plugin_user", "peek_plugin_ldap"):
        error = resolution.failed[name]
        assert isinstance(error, ApiConflict)
        assert error.api == "user"
        assert set(error.providers) == {"peek_plugin_user", "peek_plugin_ldap"}
        assert "enable only one of them" in str(error)
    # The user of the contested API is told about the conflict, not that nothing provides it.
    contested = resolution.failed["peek_plugin_inbox"]
    assert isinstance(contested, ApiConflict)
    assert contested.plugin == "peek_plugin_inbox"
    assert set(contested.providers) == {"peek_plugin_user", "peek_plugin_ldap"}
    dependent = resolution.failed["peek_plugin_ldap_admin"]
    assert isinstance(dependent, DependencyFailed)
    assert dependent.provider == "peek_plugin_ldap"
    assert resolution.order == ("peek_plugin_other",)


def test_dependents_lists_direct_and_indirect_users_in_load_order(
    make_plugin: PluginFactory,
) -> None:
    specs = [
        make_plugin("user"),
        make_plugin("inbox", requires={"user": ">=1"}),
        make_plugin("app", requires={"inbox": ">=1"}),
        make_plugin("other"),
    ]

    resolution = resolve(specs, PEEK_VERSION)

    assert resolution.dependents("peek_plugin_user") == ["peek_plugin_inbox", "peek_plugin_app"]
    assert resolution.dependents("peek_plugin_other") == []
