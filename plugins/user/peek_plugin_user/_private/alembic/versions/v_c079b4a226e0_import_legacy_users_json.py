"""Import the users of the JSON file user kept before it had tables.

Revision ID: c079b4a226e0
Revises: 72bce251b60c
Create Date: 2026-11-25 18:06:08.395698

A data migration: ``users.json`` in the plugin's data directory (format 1),
if there is one, is copied into ``user_account`` in the same transaction as
the rest of the upgrade. A file that is not such a document fails the
upgrade, which rolls back; the file is never changed, and may be deleted once
the upgrade has succeeded.
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from peek.plugin.storage import migration_data_dir
from peek_plugin_user._private.validate import fold_username

revision: str = "c079b4a226e0"
down_revision: str | Sequence[str] | None = "72bce251b60c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_FILE = "users.json"
LEGACY_FORMAT = 1

# The table as this revision knows it, not as the models may say later.
user_account = sa.table(
    "user_account",
    sa.column("username", sa.String),
    sa.column("display_name", sa.String),
    sa.column("is_admin", sa.Boolean),
    sa.column("password_hash", sa.String),
    schema="peek_plugin_user",
)


class LegacyFileInvalid(ValueError):
    """``users.json`` is not a document this plugin wrote."""


def upgrade() -> None:
    data_dir = migration_data_dir()
    if data_dir is None:
        return
    path = data_dir / LEGACY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    rows = _rows(path.name, text)
    if rows:
        op.bulk_insert(user_account, rows)


def downgrade() -> None:
    # The imported users stay until the table itself goes (the previous revision).
    pass


def _rows(name: str, text: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LegacyFileInvalid(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != LEGACY_FORMAT:
        raise LegacyFileInvalid(f"{name} is not a format {LEGACY_FORMAT} users file")
    rows: dict[str, dict[str, Any]] = {}
    for entry in document.get("users", []):
        try:
            username = fold_username(entry["username"])
            password_hash = entry["password_hash"]
            if not isinstance(password_hash, str):
                raise TypeError("password_hash must be a string")
            rows[username] = {
                "username": username,
                "display_name": str(entry["display_name"]),
                "is_admin": bool(entry["is_admin"]),
                "password_hash": password_hash,
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise LegacyFileInvalid(f"{name}: bad user entry: {exc!r}") from None
    return list(rows.values())
