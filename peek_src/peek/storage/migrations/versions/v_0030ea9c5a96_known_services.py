"""known services

Revision ID: 0030ea9c5a96
Revises: 3f1c2a7d9b10
Create Date: 2026-11-25 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030ea9c5a96"
down_revision: str | Sequence[str] | None = "3f1c2a7d9b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Starts empty: an existing installation learns its services as they connect
    # after the upgrade (before it, the server kept them only in memory).
    op.create_table(
        "known_service",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(length=255), nullable=True),
        sa.Column("remote", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("kind", "name", name=op.f("pk_known_service")),
    )


def downgrade() -> None:
    op.drop_table("known_service")
