"""Vends and the tokens they issued.

Every issue of tokens is a :class:`Vend` row, whatever its kind (a credit sale, an engineering
token, an explicit key change, a re-key campaign move), so one idempotency rule, one receipt
sequence, one reprint and one audit trail cover them all. Each token is an
:class:`IssuedToken`; the unique (meter, base date, TID) constraint is the database guarantee
that no decoder key ever gets one TID twice (TIDs restart only when the base date moves).
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .meters import Meter
from .types import ExactDecimal, UTCDateTime


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, validate_strings=True,
                values_callable=lambda e: [m.value for m in e])


class VendKind(enum.StrEnum):
    CREDIT = "credit"
    ENGINEERING = "engineering"
    KEY_CHANGE = "key_change"
    REKEY = "rekey"
    FBE = "fbe"  # free basic electricity on request (no payment)


class VendStatus(enum.StrEnum):
    ISSUED = "issued"
    REVERSED = "reversed"


class TokenType(enum.StrEnum):
    CREDIT = "credit"
    FBE = "fbe"  # a credit token of free basic electricity (CONTRACT §3)
    KEY_CHANGE = "key_change"
    CLEAR_CREDIT = "clear_credit"
    CLEAR_TAMPER = "clear_tamper"
    SET_POWER_LIMIT = "set_power_limit"
    SET_PHASE_UNBALANCE = "set_phase_unbalance"
    METER_TEST = "meter_test"


class Vend(Base):
    __tablename__ = "vends"
    __table_args__ = (UniqueConstraint("client_ref", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[VendKind] = mapped_column(_enum(VendKind))
    status: Mapped[VendStatus] = mapped_column(_enum(VendStatus), default=VendStatus.ISSUED)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"), index=True)
    receipt_no: Mapped[int] = mapped_column(BigInteger, unique=True)
    # Idempotency: who asked (an API client, a POS user, the CLI) and their request id.
    client_ref: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str] = mapped_column(String(80))
    request_hash: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(80))
    amount: Mapped[Decimal] = mapped_column(ExactDecimal())
    units_kwh: Mapped[Decimal] = mapped_column(ExactDecimal())  # what the meter will add
    tariff_code: Mapped[str | None] = mapped_column(String(32))
    tariff_version: Mapped[str | None] = mapped_column(String(32))
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    remainder: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_by: Mapped[str | None] = mapped_column(String(80))
    reversal_reason: Mapped[str | None] = mapped_column(String(400))

    meter: Mapped[Meter] = relationship()
    tokens: Mapped[list[IssuedToken]] = relationship(
        back_populates="vend", order_by="IssuedToken.position"
    )


class IssuedToken(Base):
    __tablename__ = "issued_tokens"
    __table_args__ = (UniqueConstraint("meter_id", "base_date", "tid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vend_id: Mapped[int] = mapped_column(ForeignKey("vends.id"), index=True)
    position: Mapped[int]
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    type: Mapped[TokenType] = mapped_column(_enum(TokenType))
    token: Mapped[str] = mapped_column(String(20))
    units_kwh: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    tid: Mapped[int | None]
    # The key the token was made under (no key material): KRN and base date of that moment.
    krn: Mapped[int]
    base_date: Mapped[int]

    vend: Mapped[Vend] = relationship(back_populates="tokens")


class Counter(Base):
    """Named counters for databases without sequences (SQLite): bumped with one
    ``UPDATE ... RETURNING`` inside the vend's own transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
