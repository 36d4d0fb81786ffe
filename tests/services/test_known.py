"""The known services in the platform database (``peek.services.known``), and the registry
that keeps them across server restarts (``peek.services.registry``), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from peek.rollout.generations import Generation
from peek.rollout.history import GenerationHistory
from peek.services.known import KnownService, KnownServiceStore
from peek.services.registry import ServiceRegistry
from peek.storage import DatabaseSettings, Migrator, Storage, platform_history
from peek.storage.models import known_service
from peek.testing.storage import postgres_database

# The platform revision before the known services were kept.
BEFORE_KNOWN_SERVICES = "3f1c2a7d9b10"
SEEN = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
HELLO = {"version": "1.4.0", "generation": 3, "plugins": []}


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.real_service)],
)
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """A fresh database: a SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        made = Storage(DatabaseSettings.from_url(f"sqlite:///{tmp_path / 'peek.sqlite'}"))
        yield made
        made.close_blocking()
        return
    with postgres_database() as url:
        made = Storage(DatabaseSettings.from_url(url))
        yield made
        made.close_blocking()


@pytest.fixture
def store(storage: Storage) -> KnownServiceStore:
    Migrator(storage).upgrade(platform_history())
    return KnownServiceStore(storage)


def agent(**changes: object) -> KnownService:
    values: dict[str, object] = {
        "kind": "agent",
        "name": "plant-agent",
        "last_seen": SEEN,
        "generation": 3,
        "version": "1.4.0",
        "remote": "10.0.0.7",
    }
    values.update(changes)
    return KnownService(**values)  # type: ignore[arg-type]


# -- the store -----------------------------------------------------------------


def test_a_saved_service_reads_back_with_everything_it_reported(
    store: KnownServiceStore,
) -> None:
    store.save(agent())

    assert store.all() == [agent()]


def test_saving_a_known_service_again_replaces_its_row(store: KnownServiceStore) -> None:
    store.save(agent())
    later = agent(last_seen=datetime(2026, 11, 21, tzinfo=UTC), generation=4, remote="10.0.0.8")

    store.save(later)

    assert store.all() == [later]


def test_services_are_told_apart_by_kind_and_name(store: KnownServiceStore) -> None:
    store.save(agent())
    store.save(agent(kind="worker"))
    store.save(agent(name="other-agent"))

    assert [(s.kind, s.name) for s in store.all()] == [
        ("agent", "other-agent"),
        ("agent", "plant-agent"),
        ("worker", "plant-agent"),
    ]


def test_a_deleted_service_is_no_longer_known_and_the_others_stay(
    store: KnownServiceStore,
) -> None:
    store.save(agent())
    store.save(agent(kind="worker"))

    store.delete("agent", "plant-agent")
    store.delete("agent", "never-known")

    assert [(s.kind, s.name) for s in store.all()] == [("worker", "plant-agent")]


# -- the platform migration ------------------------------------------------------


def test_an_existing_database_upgrades_to_an_empty_table_and_keeps_its_generations(
    storage: Storage,
) -> None:
    migrator = Migrator(storage)
    history = platform_history()
    migrator.upgrade(history, BEFORE_KNOWN_SERVICES)
    generations = GenerationHistory(storage)
    generations.ensure_initial(lambda n: Generation(n, None, "peek", "initial", SEEN, {}))

    migrator.upgrade(history)

    assert migrator.current(history) == migrator.heads(history)
    assert KnownServiceStore(storage).all() == []
    active = generations.active()
    assert active is not None and active.number == 1


def test_downgrading_the_platform_past_it_drops_the_known_services(storage: Storage) -> None:
    migrator = Migrator(storage)
    history = platform_history()
    migrator.upgrade(history)
    KnownServiceStore(storage).save(agent())

    migrator.downgrade(history, BEFORE_KNOWN_SERVICES)

    with storage.engine().connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert "known_service" not in names
    assert "plugin_generation" in names


# -- the registry over the store ---------------------------------------------------


def test_a_registry_loads_every_known_service_as_down_since_it_was_last_seen(
    store: KnownServiceStore,
) -> None:
    store.save(agent())
    registry = ServiceRegistry(store)

    registry.load()

    [record] = registry.records()
    assert (record.kind, record.name, record.state) == ("agent", "plant-agent", "down")
    assert (record.generation, record.version, record.remote) == (3, "1.4.0", "10.0.0.7")
    assert record.since == SEEN.timestamp()
    assert registry.down() == [("agent", "plant-agent")]


async def test_a_service_that_connects_is_recorded_and_running(
    store: KnownServiceStore,
) -> None:
    registry = ServiceRegistry(store)
    registry.open()

    registry.connected("agent", "plant-agent", "10.0.0.9", HELLO)
    await registry.close()

    [known] = await asyncio.to_thread(store.all)
    assert (known.kind, known.name, known.remote, known.version, known.generation) == (
        "agent",
        "plant-agent",
        "10.0.0.9",
        "1.4.0",
        3,
    )
    assert registry.down() == []


async def test_a_new_reported_generation_and_a_disconnect_are_recorded(
    store: KnownServiceStore,
) -> None:
    registry = ServiceRegistry(store)
    registry.open()
    registry.connected("agent", "plant-agent", "10.0.0.9", HELLO)
    await registry.flush()
    [connected] = await asyncio.to_thread(store.all)

    registry.update("agent", "plant-agent", {"generation": 4, "plugins": []})
    registry.disconnected("agent", "plant-agent")
    await registry.close()

    [known] = await asyncio.to_thread(store.all)
    assert known.generation == 4
    assert known.last_seen > connected.last_seen
    reloaded = ServiceRegistry(store)
    await asyncio.to_thread(reloaded.load)
    assert reloaded.down() == [("agent", "plant-agent")]


async def test_a_forgotten_service_is_deleted_once_flushed(store: KnownServiceStore) -> None:
    await asyncio.to_thread(store.save, agent())
    registry = ServiceRegistry(store)
    await asyncio.to_thread(registry.load)
    registry.open()

    registry.forget("agent", "plant-agent")
    await registry.flush()

    assert await asyncio.to_thread(store.all) == []
    assert registry.records() == []
    await registry.close()


async def test_a_failed_write_is_logged_and_later_changes_are_still_written(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    store = KnownServiceStore(storage)  # no platform schema yet: writes fail
    registry = ServiceRegistry(store)
    registry.open()
    registry.connected("agent", "plant-agent", "10.0.0.9", HELLO)
    await registry.flush()
    assert "cannot record a change of the known services" in caplog.text

    await asyncio.to_thread(Migrator(storage).upgrade, platform_history())
    registry.disconnected("agent", "plant-agent")
    await registry.close()

    assert await asyncio.to_thread(names, storage) == ["plant-agent"]


def names(storage: Storage) -> list[str]:
    with storage.engine().connect() as conn:
        return list(conn.execute(select(known_service.c.name)).scalars())
