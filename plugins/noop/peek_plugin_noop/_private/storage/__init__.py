"""noop's one table, in its own namespace: every ping the server answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from peek.plugin.storage import plugin_metadata

__all__ = ["Base", "Ping", "metadata"]


class Base(DeclarativeBase):
    metadata = plugin_metadata("peek_plugin_noop")


metadata = Base.metadata


class Ping(Base):
    __tablename__ = "ping"

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str] = mapped_column(String(32))
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
