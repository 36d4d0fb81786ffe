"""``peek.rollout.history``: the rollout pointer through a server restart into a generation,
and :mod:`peek.rollout.restart`'s record of who takes part (SQLite)."""

from __future__ import annotations

import concurrent.futures
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from peek.rollout.errors import GenerationError
from peek.rollout.generations import Generation, GenerationState
from peek.rollout.history import GenerationHistory
from peek.rollout.restart import PendingRestart
from peek.storage import DatabaseSettings, Migrator, Storage, platform_history

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def made(number: int) -> Generation:
    return Generation(number, number - 1 or None, "admin", f"test {number}", WHEN, {})


@pytest.fixture
def history(tmp_path: Path) -> Iterator[GenerationHistory]:
    storage = Storage(DatabaseSettings.from_url(f"sqlite:///{tmp_path / 'peek.sqlite'}"))
    Migrator(storage).upgrade(platform_history())
    found = GenerationHistory(storage)
    found.ensure_initial(made)
    found.propose(made(2))
    yield found
    storage.close_blocking()


def test_a_commit_with_a_restart_says_so_and_makes_the_target_active(
    history: GenerationHistory,
) -> None:
    history.commit(2, restart=True)

    pointer = history.pointer()
    assert (pointer.phase, pointer.active, pointer.target, pointer.previous) == (
        "restarting",
        2,
        2,
        1,
    )
    record = history.get(2)
    assert record is not None and record.state is GenerationState.PREPARED


def test_resuming_after_the_restart_keeps_the_schema_and_is_a_plain_commit(
    history: GenerationHistory,
) -> None:
    history.commit(2, restart=True)

    history.resume({"peek_plugin_probe": ("a1a1a1a1a1a1",)})

    pointer = history.pointer()
    assert pointer.phase == "committed"
    assert pointer.schema_before == {"peek_plugin_probe": ("a1a1a1a1a1a1",)}


def test_resuming_without_a_restart_pending_is_refused(history: GenerationHistory) -> None:
    history.commit(2)

    with pytest.raises(GenerationError, match="no server restart is pending"):
        history.resume({})


def test_a_revert_through_a_restart_keeps_the_reasons_and_the_schema(
    history: GenerationHistory,
) -> None:
    history.commit(2, restart=True)
    history.resume({"peek_plugin_probe": ()})

    history.revert_pending(2, ["server: the probe failed"])

    pointer = history.pointer()
    assert (pointer.phase, pointer.target, pointer.previous) == ("reverting", 2, 1)
    assert pointer.schema_before == {"peek_plugin_probe": ()}
    record = history.get(2)
    assert record is not None
    assert record.problems == ("server: the probe failed",)
    assert record.state is GenerationState.PREPARED


def test_a_change_waits_for_another_writer_of_the_database_instead_of_failing(
    history: GenerationHistory, tmp_path: Path
) -> None:
    history.commit(2)
    other = sqlite3.connect(tmp_path / "peek.sqlite", isolation_level=None)
    other.execute("BEGIN")
    other.execute(
        "INSERT INTO known_service (kind, name, last_seen) VALUES ('agent', 'a', '2026-01-01')"
    )
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        succeeding = pool.submit(history.succeed, 2)
        # Let it start its transaction while the other connection still holds the lock:
        # had it read first, the other's commit would leave it a stale snapshot to write from.
        time.sleep(0.3)
        other.execute("COMMIT")
        succeeding.result()
    other.close()

    assert history.pointer().active == 2
    record = history.get(2)
    assert record is not None and record.state is GenerationState.ACTIVE


def test_the_restart_record_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "server" / "rollout-restart.json"
    record = PendingRestart(3, 2, None, (("agent", "remote-agent"), ("client", "local-client")))

    record.write(path)

    assert PendingRestart.read(path) == record
    PendingRestart.clear(path)
    assert PendingRestart.read(path) is None


def test_an_unreadable_restart_record_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "rollout-restart.json"
    path.write_text("{not json", encoding="utf-8")

    assert PendingRestart.read(path) is None
