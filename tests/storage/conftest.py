"""Fixtures for the storage tests: a database on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from peek.storage import DatabaseSettings, Storage
from peek.testing.storage import postgres_database


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.real_service)],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped after."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'peek.sqlite'}"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    made = Storage(DatabaseSettings.from_url(database_url))
    yield made
    made.close_blocking()
