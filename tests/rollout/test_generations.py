"""``peek.rollout.generations``: immutable manifests, their canonical form and their states."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from peek.plugin.resolve import resolve
from peek.rollout.errors import GenerationError, InvalidTransition
from peek.rollout.generations import (
    Generation,
    GenerationPlugin,
    GenerationState,
    changed_plugins,
)

WHEN = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def plugin(
    short: str, version: str = "1.0.0", *, requires: dict[str, str] | None = None, fill: str = "a"
) -> GenerationPlugin:
    name = f"peek_plugin_{short}"
    return GenerationPlugin(
        name=name,
        version=version,
        sha256=fill * 64,
        wheel=f"{name}-{version}-py3-none-any.whl",
        manifest={
            "title": short.title(),
            "peek": ">=0.1,<1",
            "hooks": {"server": f"{name}._private.server:ServerHook"},
            "requires": requires or {},
        },
        requires_dist=("peek-platform>=0.1",),
    )


def first(**plugins: GenerationPlugin) -> Generation:
    return Generation(
        number=1,
        parent=None,
        created_by="admin",
        reason="initial plugin set",
        created_at=WHEN,
        plugins={p.name: p for p in plugins.values()},
    )


def test_canonical_json_is_sorted_compact_and_round_trips() -> None:
    gen = first(b=plugin("user"), a=plugin("weather", requires={"user": ">=1"}))

    text = gen.canonical_json()

    assert b" " not in text.replace(b"initial plugin set", b"")
    assert list(json.loads(text)["plugins"]) == ["peek_plugin_user", "peek_plugin_weather"]
    assert Generation.from_json(text) == gen
    assert Generation.from_json(text).canonical_json() == text


def test_the_digest_is_stable_whatever_order_plugins_were_given_in() -> None:
    one = first(a=plugin("user"), b=plugin("weather"))
    two = first(b=plugin("weather"), a=plugin("user"))

    assert one.digest() == two.digest()
    assert len(one.digest()) == 64


def test_the_digest_changes_with_any_field() -> None:
    gen = first(a=plugin("user"))
    variants = [
        gen.derive(2, created_by="admin", reason="initial plugin set", created_at=WHEN),
        Generation(1, None, "someone", gen.reason, WHEN, gen.plugins),
        Generation(1, None, gen.created_by, "other reason", WHEN, gen.plugins),
        Generation(
            1, None, gen.created_by, gen.reason, WHEN + timedelta(microseconds=1), gen.plugins
        ),
        first(a=plugin("user", fill="b")),
        first(a=plugin("user", "1.0.1")),
    ]

    assert len({gen.digest(), *(v.digest() for v in variants)}) == len(variants) + 1


def test_the_plugin_set_digest_ignores_who_when_and_why() -> None:
    gen = first(a=plugin("user"))
    same_set = gen.derive(2, created_by="robot", reason="rollback to 1")

    assert same_set.plugin_set_digest() == gen.plugin_set_digest()
    assert same_set.digest() != gen.digest()


def test_created_at_is_kept_in_utc() -> None:
    local = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))

    gen = Generation(1, None, "admin", "x", local)

    assert gen.created_at == WHEN and gen.created_at.tzinfo == UTC
    assert json.loads(gen.canonical_json())["created_at"] == "2024-05-01T12:30:15.123456+00:00"


def test_a_generation_cannot_be_changed_after_it_is_made() -> None:
    gen = first(a=plugin("user", requires={"x": ">=1"}))

    with pytest.raises(AttributeError):
        gen.number = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        gen.plugins["peek_plugin_other"] = plugin("other")  # type: ignore[index]
    with pytest.raises(TypeError):
        gen.plugins["peek_plugin_user"].manifest["title"] = "Changed"  # type: ignore[index]


def test_derive_adds_replaces_and_removes_plugins_and_records_the_parent() -> None:
    gen = first(a=plugin("user"), b=plugin("weather"))

    nxt = gen.derive(
        2,
        created_by="admin",
        reason="update user, drop weather, add station",
        add=[plugin("user", "1.1.0", fill="b"), plugin("station")],
        remove=["peek_plugin_weather"],
    )

    assert (nxt.number, nxt.parent) == (2, 1)
    assert {n: p.version for n, p in nxt.plugins.items()} == {
        "peek_plugin_station": "1.0.0",
        "peek_plugin_user": "1.1.0",
    }
    assert changed_plugins(gen, nxt) == {
        "peek_plugin_user",
        "peek_plugin_weather",
        "peek_plugin_station",
    }
    assert gen.plugins["peek_plugin_user"].version == "1.0.0"


def test_removing_a_plugin_that_is_not_there_is_an_error() -> None:
    with pytest.raises(GenerationError, match="has no plugin peek_plugin_nope"):
        first().derive(2, created_by="a", reason="b", remove=["peek_plugin_nope"])


def test_unchanged_plugins_are_not_reported_as_changed() -> None:
    gen = first(a=plugin("user"), b=plugin("weather"))
    nxt = gen.derive(2, created_by="a", reason="b", add=[plugin("weather", "2.0.0", fill="c")])

    assert changed_plugins(gen, nxt) == {"peek_plugin_weather"}
    assert changed_plugins(None, gen) == {"peek_plugin_user", "peek_plugin_weather"}


def test_specs_rebuild_the_plugin_set_for_resolution() -> None:
    gen = first(
        a=plugin("user", "0.3.0"), b=plugin("weather", requires={"user": ">=0.2"}), c=plugin("x")
    )

    result = resolve(gen.specs(), "0.1.0")

    assert result.failed == {}
    assert result.order.index("peek_plugin_user") < result.order.index("peek_plugin_weather")
    assert gen.plugins["peek_plugin_weather"].requires == {"user": ">=0.2"}
    assert gen.artifacts() == {"a" * 64}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"number": 0}, "positive integer"),
        ({"number": True}, "positive integer"),
        ({"parent": 5}, "must be an earlier generation"),
        ({"created_at": datetime(2024, 1, 1)}, "timezone-aware"),
    ],
)
def test_invalid_generations_are_refused(change: dict[str, Any], problem: str) -> None:
    fields: dict[str, Any] = {
        "number": 3,
        "parent": 2,
        "created_by": "a",
        "reason": "b",
        "created_at": WHEN,
    }
    with pytest.raises(GenerationError, match=problem):
        Generation(**{**fields, **change})


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "weather"}, "not a plugin name"),
        ({"version": "one"}, "not a version"),
        ({"sha256": "ABC"}, "not lowercase hex"),
        ({"wheel": "../x.whl"}, "not a wheel file name"),
        ({"manifest": {"when": datetime(2024, 1, 1, tzinfo=UTC)}}, "not JSON data"),
    ],
)
def test_invalid_plugin_entries_are_refused(change: dict[str, Any], problem: str) -> None:
    good = plugin("user")
    fields = {
        "name": good.name,
        "version": good.version,
        "sha256": good.sha256,
        "wheel": good.wheel,
        "manifest": {},
    }
    with pytest.raises(GenerationError, match=problem):
        GenerationPlugin(**{**fields, **change})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"format": 2}', "unknown generation manifest format 2"),
        (b'{"format": 1, "number": 1}', "invalid generation manifest"),
    ],
)
def test_unreadable_manifests_are_refused(text: bytes, problem: str) -> None:
    with pytest.raises(GenerationError, match=problem):
        Generation.from_json(text)


def test_a_manifest_whose_requires_contradicts_its_plugin_toml_is_refused() -> None:
    data = json.loads(first(a=plugin("user")).canonical_json())
    data["plugins"]["peek_plugin_user"]["requires"] = {"forged": ">=1"}

    with pytest.raises(GenerationError, match="requires does not match its manifest"):
        Generation.from_json(json.dumps(data))


# -- states ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("proposed", "prepared"),
        ("proposed", "failed"),
        ("prepared", "active"),
        ("prepared", "failed"),
        ("active", "rolled_back"),
        ("active", "failed"),
    ],
)
def test_allowed_state_transitions(start: str, end: str) -> None:
    assert GenerationState(start).transition(GenerationState(end)) == GenerationState(end)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("proposed", "active"),
        ("prepared", "rolled_back"),
        ("failed", "proposed"),
        ("failed", "active"),
        ("rolled_back", "active"),
        ("active", "proposed"),
    ],
)
def test_forbidden_state_transitions_are_refused(start: str, end: str) -> None:
    with pytest.raises(InvalidTransition, match=f"from {start} to {end}"):
        GenerationState(start).transition(GenerationState(end))


def test_states_are_their_database_strings() -> None:
    assert [s.value for s in GenerationState] == [
        "proposed",
        "prepared",
        "active",
        "failed",
        "rolled_back",
    ]
