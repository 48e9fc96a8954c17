"""Cumulative energy register readings posted by meters and gateways (``readings`` scope).

One row per (meter, time): the unique constraint makes a re-sent batch idempotent and is the
database guarantee behind it, whatever order batches arrive in.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .types import ExactDecimal, UTCDateTime


class MeterReading(Base):
    __tablename__ = "meter_readings"
    __table_args__ = (UniqueConstraint("meter_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    energy_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())  # cumulative register
    client_ref: Mapped[str] = mapped_column(String(80))  # who posted it
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
