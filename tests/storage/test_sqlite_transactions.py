"""On SQLite a blocking transaction that reads and then writes waits for another writer instead
of failing with "database is locked", for the platform and for a plugin's worker tasks alike."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.storage import DatabaseSettings, Storage

PROBE = "peek_plugin_probe"


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    made = Storage(DatabaseSettings.from_url(f"sqlite:///{tmp_path / 'peek.sqlite'}"))
    made.prepare_files((PROBE,))
    yield made
    made.close_blocking()


@pytest.mark.parametrize("namespace", [None, PROBE], ids=["platform", "plugin"])
def test_a_read_then_write_transaction_waits_for_a_concurrent_writer(
    storage: Storage, namespace: str | None
) -> None:
    engine = storage.engine(namespace)
    table = f"{namespace}.counter" if namespace else "counter"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE {table} (n INTEGER NOT NULL)")
        conn.exec_driver_sql(f"INSERT INTO {table} (n) VALUES (0)")
    other_done = threading.Event()

    def add_ten_elsewhere() -> None:
        with engine.begin() as other:
            other.exec_driver_sql(f"UPDATE {table} SET n = n + 10")
        other_done.set()

    with engine.begin() as conn:
        seen = conn.exec_driver_sql(f"SELECT n FROM {table}").scalar_one()
        writer = threading.Thread(target=add_ten_elsewhere)
        writer.start()
        # Had this transaction not taken the write lock when it began, the other
        # writer would commit now and the update below would fail at once.
        assert not other_done.wait(1.0), "the other writer did not wait for this transaction"
        conn.exec_driver_sql(f"UPDATE {table} SET n = ?", (seen + 1,))
    writer.join()

    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT n FROM {table}").scalar_one() == 11
