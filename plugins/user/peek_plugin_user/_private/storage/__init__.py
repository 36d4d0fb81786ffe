"""user's tables, in its own namespace (``peek_plugin_user``)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from peek.plugin.storage import plugin_metadata

__all__ = ["Base", "UserAccount", "metadata"]


class Base(DeclarativeBase):
    metadata = plugin_metadata("peek_plugin_user")


metadata = Base.metadata


class UserAccount(Base):
    """One account; ``username`` is stored folded to lower case."""

    __tablename__ = "user_account"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    password_hash: Mapped[str] = mapped_column(String(512))
