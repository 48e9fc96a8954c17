"""Till shifts of the POS: a clerk opens a shift with a cash float, every sale the clerk makes
while it is open counts to it, and closing it freezes the cash-up (what was counted against
what was expected).

Which vends belong to a shift is recorded on the vend itself (``Vend.details["shift_id"]``,
with the payment type), written in the vend's own unit of work, so a sale can never be issued
without being counted to its shift."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .types import ExactDecimal, UTCDateTime
from .users import User


class ShiftStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Shift(Base):
    __tablename__ = "shifts"
    # At most one open shift per user (a partial unique index on both databases).
    __table_args__ = (
        Index("uq_shifts_one_open_per_user", "user_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[ShiftStatus] = mapped_column(
        Enum(ShiftStatus, native_enum=False, length=16, validate_strings=True,
             values_callable=lambda e: [m.value for m in e]),
        default=ShiftStatus.OPEN,
    )
    opening_float: Mapped[Decimal] = mapped_column(ExactDecimal())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The cash the clerk counted at close, by payment type ({"cash": "512.50", ...}).
    counted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The frozen cash-up report (decimal strings), so a reprint shows what was signed off.
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    user: Mapped[User] = relationship()
