"""Schema histories through Alembic: the platform's and the plugins', on SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from tests.storage.fakes import make_plugin, revision, table_revision

from peek.storage import (
    DatabaseSettings,
    InvalidNamespace,
    MigrationFailed,
    Migrator,
    RevisionFailed,
    Storage,
    UnsupportedDatabase,
    platform_history,
    plugin_history,
)
from peek.storage.migrate import namespaces
from peek.testing import installed_specs


def tables(storage: Storage, schema: str | None) -> set[str]:
    with storage.engine(schema).connect() as conn:
        return set(inspect(conn).get_table_names(schema=schema))


def test_platform_history_goes_up_and_down(storage: Storage) -> None:
    migrator = Migrator(storage)
    history = platform_history()

    migrator.upgrade(history)
    assert migrator.current(history) == migrator.heads(history)
    assert {"plugin_namespace", "alembic_version"} <= tables(storage, None)

    migrator.downgrade(history, "base")
    assert migrator.current(history) == ()
    assert "plugin_namespace" not in tables(storage, None)


@pytest.mark.parametrize("plugin", ["peek_plugin_noop", "peek_plugin_user"])
def test_plugin_history_goes_up_and_down_with_its_version_table_in_its_namespace(
    storage: Storage, plugin: str
) -> None:
    (spec,) = installed_specs([plugin])
    history = plugin_history(spec)
    assert history is not None
    migrator = Migrator(storage)

    migrator.upgrade(history)

    assert migrator.current(history) == migrator.heads(history)
    assert "alembic_version" in tables(storage, plugin)
    assert "alembic_version" not in tables(storage, None)
    migrator.downgrade(history, "base")
    assert tables(storage, plugin) == {"alembic_version"}
    assert migrator.current(history) == ()


def test_a_failing_revision_rolls_back_the_whole_upgrade(storage: Storage, tmp_path: Path) -> None:
    name = "peek_plugin_broken"
    spec = make_plugin(
        tmp_path,
        name,
        {
            "v_a1_first.py": table_revision(name, "a1", None, "kept_only_if_all_pass"),
            "v_b2_second.py": revision(
                "b2",
                "a1",
                f"""
                op.create_table('half', sa.Column('id', sa.Integer), schema={name!r})
                op.execute('SELECT * FROM no_such_table_anywhere')
                """,
            ),
        },
    )
    history = plugin_history(spec)
    assert history is not None
    migrator = Migrator(storage)

    with pytest.raises(MigrationFailed) as info:
        migrator.upgrade(history)

    assert info.value.plugin == name
    assert "no_such_table_anywhere" in str(info.value)
    assert migrator.current(history) == ()
    assert tables(storage, name) == set()


def test_a_revision_whose_table_exists_already_fails_without_touching_it(
    storage: Storage, tmp_path: Path
) -> None:
    name = "peek_plugin_twice"
    spec = make_plugin(
        tmp_path,
        name,
        {
            "v_a1.py": table_revision(name, "a1", None, "thing"),
            "v_b2.py": table_revision(name, "b2", "a1", "thing"),
        },
    )
    history = plugin_history(spec)
    assert history is not None
    migrator = Migrator(storage)
    migrator.upgrade(history, "a1")

    with pytest.raises(MigrationFailed):
        migrator.upgrade(history)

    assert migrator.current(history) == ("a1",)
    assert tables(storage, name) == {"thing", "alembic_version"}


def test_migrate_installation_records_each_plugin_revision(
    storage: Storage, tmp_path: Path
) -> None:
    from peek.storage import migrate_installation

    specs = installed_specs(["peek_plugin_noop", "peek_plugin_user"])

    failed = migrate_installation(storage, specs, tmp_path / "plugins")

    assert failed == {}
    recorded = namespaces(storage)
    for spec in specs:
        history = plugin_history(spec)
        assert history is not None
        assert recorded[spec.name] == Migrator(storage).heads(history)[0]


def test_revision_autogenerates_the_operations_for_new_models(
    storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "peek_plugin_autogen_fake"
    spec = make_plugin(tmp_path, name)
    (spec.package_dir / "__init__.py").write_text("", encoding="utf-8")
    (spec.package_dir / "_private" / "__init__.py").write_text("", encoding="utf-8")
    (spec.package_dir / "_private" / "storage.py").write_text(
        "import sqlalchemy as sa\n"
        "from peek.plugin.storage import plugin_metadata\n"
        f"metadata = plugin_metadata({name!r})\n"
        "reading = sa.Table('reading', metadata, sa.Column('id', sa.Integer, primary_key=True),"
        " sa.Column('value', sa.Float))\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    history = plugin_history(spec)
    assert history is not None
    migrator = Migrator(storage)

    path = migrator.revision(history, "readings")
    text = path.read_text(encoding="utf-8")

    assert path.parent == spec.package_dir / "_private" / "alembic" / "versions"
    assert "op.create_table" in text and f"schema='{name}'" in text
    assert "alembic_version" not in text
    migrator.upgrade(history)
    assert tables(storage, name) == {"reading", "alembic_version"}
    # At head and matching the models: a second revision has nothing to do.
    again = migrator.revision(history, "nothing").read_text(encoding="utf-8")
    assert "op.create_table" not in again


def test_revision_is_refused_while_the_database_is_behind(storage: Storage) -> None:
    (spec,) = installed_specs(["peek_plugin_noop"])
    history = plugin_history(spec)
    assert history is not None
    before = sorted(history.versions.iterdir())

    with pytest.raises(RevisionFailed, match="peek db upgrade --plugin peek_plugin_noop"):
        Migrator(storage).revision(history, "too early")
    assert sorted(history.versions.iterdir()) == before


def test_revision_without_importable_models_is_refused(storage: Storage, tmp_path: Path) -> None:
    spec = make_plugin(tmp_path, "peek_plugin_no_models")
    history = plugin_history(spec)
    assert history is not None

    with pytest.raises(RevisionFailed, match=r"peek_plugin_no_models\._private\.storage"):
        Migrator(storage).revision(history, "models?")


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/peek", "sqlite://", "sqlite:///:memory:", "not a url"],
)
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        DatabaseSettings.from_url(url)


@pytest.mark.parametrize("name", ["Peek_Plugin", "peek-plugin-x", "x;drop", "a" * 64, ""])
def test_names_that_cannot_be_a_namespace_are_refused(tmp_path: Path, name: str) -> None:
    storage = Storage(DatabaseSettings.from_url(f"sqlite:///{tmp_path / 'peek.sqlite'}"))
    with pytest.raises(InvalidNamespace):
        storage.for_plugin(name)
