"""POS-side state of an operator account, kept beside the core ``users`` row: the language
the UI speaks to that user, and the failed-login counter behind the lockout.

The lockout lives in the database (not in the session or process memory) so it holds across
gunicorn workers and restarts, and an attacker cannot reset it by dropping the cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .types import UTCDateTime


class PosAccount(Base):
    __tablename__ = "pos_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), default="en")
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
