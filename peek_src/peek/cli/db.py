"""``peek db``: the schema histories of the platform and the plugins.

- ``peek db upgrade [--plugin NAME]``: apply pending revisions (the platform
  first, then every enabled plugin, or only NAME);
- ``peek db current|history [--plugin NAME]``: where the database is, and the
  revisions there are;
- ``peek db downgrade --plugin NAME REV``: revert NAME to REV (``base``: none);
- ``peek db revision --plugin NAME -m MSG [--empty]``: write a revision script
  into the plugin's ``_private/alembic/versions`` with the operations that take
  its tables (at head) to its models.

``--plugin peek`` names the platform's own history.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from peek.config import PeekConfig

__all__ = ["add_db_commands"]

Command = Callable[..., argparse.ArgumentParser]


def add_db_commands(sub: Any, command: Command) -> None:
    """Add ``peek db ...`` to the subcommands ``sub`` with the CLI's ``command`` helper."""
    db = sub.add_parser(
        "db", help="database migrations of the platform and the plugins"
    ).add_subparsers(metavar="ACTION")
    for name, handler, text in (
        ("upgrade", _upgrade, "apply pending migrations"),
        ("current", _current, "show the revision the database is at"),
        ("history", _history, "list the revisions"),
    ):
        p = command(name, handler, text, db)
        p.add_argument("--plugin", help="one plugin ('peek': the platform); default: all")
    p = command("downgrade", _downgrade, "revert one plugin's schema to a revision", db)
    p.add_argument("--plugin", required=True, help="the plugin ('peek': the platform)")
    p.add_argument("revision", help="revision id, or 'base' to remove every table")
    p = command("revision", _revision, "write a new revision script for a plugin", db)
    p.add_argument("--plugin", required=True, help="the plugin ('peek': the platform)")
    p.add_argument("-m", "--message", required=True, help="what the revision does")
    p.add_argument("--empty", action="store_true", help="no autogenerate (a data migration, say)")


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _histories(config: PeekConfig, plugin: str | None) -> list[Any]:
    from peek.plugin.discovery import discover
    from peek.storage import PLATFORM, NoSuchHistory, platform_history, plugin_history

    if plugin == PLATFORM:
        return [platform_history()]
    wanted = [plugin] if plugin else config.plugins.enabled
    specs, errors = discover(wanted)
    if plugin and errors:
        raise NoSuchHistory(plugin, str(errors[0]))
    data_root = config.data_dir / "plugins" / "server"
    found = [h for s in specs if (h := plugin_history(s, data_root / s.name)) is not None]
    if plugin and not found:
        raise NoSuchHistory(plugin, "it has no _private/alembic/versions directory")
    return found if plugin else [platform_history(), *found]


def _storage(config: PeekConfig) -> Any:
    import logging

    from peek.storage import Storage

    # Alembic announces every extension it sets up; only its revisions matter here.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return Storage.from_config(config)


def _upgrade(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.plugin.discovery import discover
    from peek.storage import Migrator, migrate_installation

    storage = _storage(config)
    try:
        if args.plugin is None:
            specs, _errors = discover(config.plugins.enabled)
            failed = migrate_installation(storage, specs, config.data_dir / "plugins" / "server")
            for error in failed.values():
                _out(f"FAILED {error}")
            histories = _histories(config, None)
        else:
            failed = {}
            histories = _histories(config, args.plugin)
            migrator = Migrator(storage)
            for history in histories:
                migrator.upgrade(history)
        _print_current(storage, histories)
        return 1 if failed else 0
    finally:
        storage.close_blocking()


def _print_current(storage: Any, histories: list[Any]) -> None:
    from peek.storage import Migrator

    migrator = Migrator(storage)
    for history in histories:
        current = migrator.current(history)
        heads = migrator.heads(history)
        state = "up to date" if set(current) == set(heads) else "pending: " + ", ".join(heads)
        _out(f"{history.name}: {', '.join(current) or 'base'} ({state})")


def _current(args: argparse.Namespace, config: PeekConfig) -> int:
    storage = _storage(config)
    try:
        _print_current(storage, _histories(config, args.plugin))
    finally:
        storage.close_blocking()
    return 0


def _history(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.storage import Migrator

    storage = _storage(config)
    try:
        migrator = Migrator(storage)
        for history in _histories(config, args.plugin):
            current = set(migrator.current(history))
            _out(f"{history.name}:")
            for script in migrator.history(history):
                marks = [
                    m
                    for m, on in (("head", script.is_head), ("current", script.revision in current))
                    if on
                ]
                down = script.down_revision or "base"
                tail = f" ({', '.join(marks)})" if marks else ""
                _out(f"  {down} -> {script.revision}{tail}  {script.doc}")
    finally:
        storage.close_blocking()
    return 0


def _downgrade(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.storage import Migrator

    storage = _storage(config)
    try:
        (history,) = _histories(config, args.plugin)
        Migrator(storage).downgrade(history, args.revision)
        _print_current(storage, [history])
    finally:
        storage.close_blocking()
    return 0


def _revision(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.storage import Migrator

    storage = _storage(config)
    try:
        (history,) = _histories(config, args.plugin)
        path = Migrator(storage).revision(history, args.message, autogenerate=not args.empty)
    finally:
        storage.close_blocking()
    _out(f"wrote {path}")
    return 0
