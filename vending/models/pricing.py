"""What the tariff engine needs remembered between vends (docs/tariffs.md, "In the server").

The engine is pure: each vend it is told the customer's period so far (a
:class:`~vending.tariffs.PurchaseState`) and answers a quote. These tables are where that state
lives, each written in the vend's own unit of work under the meter's row lock:

* :class:`VendPricing`: one row per priced credit vend (a side table keyed by ``vend_id``, so
  the core ``vends`` table does not change): the block counter (``energy_kwh`` under
  ``block_period_key``), the carry, and what the customer paid.
* :class:`ChargeCollection`: a fixed charge taken in its period; the unique (meter, key) is the
  database guarantee that a monthly charge is never taken twice.
* :class:`Debt` and :class:`DebtPayment`: customer debts and what each vend paid on them.
* :class:`FbeIssue`: free basic electricity issued in a period; unique (meter, period).

A reversal deletes the collection and FBE rows and gives the debt payments back; the
``vend_pricing`` row stays (history) and is excluded from the counter by the vend's status.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .types import ExactDecimal, UTCDateTime


class VendPricing(Base):
    """How the engine priced one credit vend (the full quote is in ``vends.details``)."""

    __tablename__ = "vend_pricing"
    __table_args__ = (
        Index("ix_vend_pricing_meter_period", "meter_id", "block_period_key"),
    )

    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    tariff_code: Mapped[str] = mapped_column(String(32))
    tariff_version: Mapped[str] = mapped_column(String(32))
    # The block counter: units the engine sold (before the token coding's round-up) and the
    # period they count in; None for a tariff without blocks.
    block_period_key: Mapped[str | None] = mapped_column(String(16))
    energy_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
    carried_in: Mapped[Decimal] = mapped_column(ExactDecimal())  # previous vend's remainder
    remainder: Mapped[Decimal] = mapped_column(ExactDecimal())  # carried to the next vend
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())  # entered at the till
    total: Mapped[Decimal] = mapped_column(ExactDecimal())  # paid (amount + tax if exclusive)
    tax: Mapped[Decimal] = mapped_column(ExactDecimal())
    fbe_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())


class ChargeCollection(Base):
    """A fixed charge collected by a vend; ``collected_key`` is ``"name@period"``."""

    __tablename__ = "charge_collections"
    __table_args__ = (UniqueConstraint("meter_id", "collected_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    collected_key: Mapped[str] = mapped_column(String(80))
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())


class Debt(Base):
    """A customer debt recovered as a percentage of each vend (``debt_recovery``).

    ``balance`` only moves through guarded ``UPDATE`` statements (never read-modify-write) and
    the check constraint keeps it from going below zero whatever races."""

    __tablename__ = "debts"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    description: Mapped[str] = mapped_column(String(200))
    original: Mapped[Decimal] = mapped_column(ExactDecimal())
    balance: Mapped[Decimal] = mapped_column(ExactDecimal())
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DebtPayment(Base):
    """Money of one vend applied to one debt (given back when the vend is reversed)."""

    __tablename__ = "debt_payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    debt_id: Mapped[int] = mapped_column(ForeignKey("debts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())


class FbeIssue(Base):
    """Free basic electricity issued to a meter in one FBE period (at most once)."""

    __tablename__ = "fbe_issues"
    __table_args__ = (UniqueConstraint("meter_id", "period_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    period_key: Mapped[str] = mapped_column(String(16))
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    kwh: Mapped[Decimal] = mapped_column(ExactDecimal())
