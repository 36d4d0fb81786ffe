"""``peek admin set-password``: the admin site's password, set on the server host."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from peek.config import PeekConfig

__all__ = ["add_admin_commands"]


def add_admin_commands(sub: Any, command: Callable[..., argparse.ArgumentParser]) -> None:
    admin = sub.add_parser("admin", help="the admin site").add_subparsers(metavar="ACTION")
    p = command(
        "set-password",
        _cmd_set_password,
        "set the admin site's password (asked twice; read from stdin when piped)",
        admin,
    )
    p.add_argument(
        "--stdin", action="store_true", help="read the password from the first line of stdin"
    )


def _cmd_set_password(args: argparse.Namespace, config: PeekConfig) -> int:
    from peek.services.admin_auth import AdminAuthError, set_admin_password

    if args.stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("New admin password: ")
        if getpass.getpass("Again: ") != password:
            sys.stderr.write("peek: the passwords differ; nothing changed\n")
            return 1
    try:
        set_admin_password(config, password)
    except AdminAuthError as exc:
        sys.stderr.write(f"peek: {exc}\n")
        return 1
    sys.stderr.write("admin password set; it counts from the next login\n")
    return 0
