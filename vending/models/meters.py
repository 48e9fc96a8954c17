"""Customers and meters. The meter row is also the meter's *key state*: the key data it holds
(SGC, TI, KRN, KT, EA, DKGA, base date, KEN) and the last TID issued under that key. Vends lock
this row (``SELECT ... FOR UPDATE``) for their whole unit of work."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .keys import SupplyGroup
from .types import ExactDecimal, UTCDateTime


class MeterStatus(enum.StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400), default="")
    account: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    # Tariff category (e.g. "indigent"): free basic electricity goes to the category a tariff's
    # free_basic_kwh.eligible names. None: no category.
    category: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    meters: Mapped[list[Meter]] = relationship(back_populates="customer")


class Meter(Base):
    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_number: Mapped[str] = mapped_column(String(13), unique=True)  # the DRN
    pan: Mapped[str] = mapped_column(String(18), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    supply_group_id: Mapped[int] = mapped_column(ForeignKey("supply_groups.id"))
    ti: Mapped[int]
    krn: Mapped[int]
    kt: Mapped[int]
    ea: Mapped[str] = mapped_column(String(2))
    dkga: Mapped[str] = mapped_column(String(2))
    base_date: Mapped[int]
    ken: Mapped[int] = mapped_column(default=255)
    status: Mapped[MeterStatus] = mapped_column(
        Enum(MeterStatus, native_enum=False, length=16, validate_strings=True,
             values_callable=lambda e: [m.value for m in e]),
        default=MeterStatus.ACTIVE,
    )
    tariff_code: Mapped[str | None] = mapped_column(String(32))  # None: the deployment default
    last_tid: Mapped[int] = mapped_column(default=0)  # last TID issued under the current key
    # The remainder of the latest issued credit vend, spent first by the next one (written
    # by each credit vend, recomputed by a reversal; see vending.pricing.carried_credit).
    carried_credit: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0),
                                                    server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="meters")
    supply_group: Mapped[SupplyGroup] = relationship()

    def key_state(self) -> dict[str, object]:
        """The key data (no key material) as plain values, for audit before/after records."""
        return {"sgc": self.supply_group.sgc, "ti": self.ti, "krn": self.krn, "kt": self.kt,
                "ea": self.ea, "dkga": self.dkga, "base_date": self.base_date, "ken": self.ken,
                "last_tid": self.last_tid}
