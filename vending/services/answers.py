"""Immutable results of the vend services and their JSON form (the vend answer of CONTRACT
§3: decimal strings for money and units, never floats)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..models import Vend


def decimal_text(value: Decimal, places: int | None = None) -> str:
    """A plain decimal string (no exponent), optionally fixed to ``places`` decimals."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return format(value, "f")


def kwh_text(value: Decimal) -> str:
    return decimal_text(value, 1)


@dataclass(frozen=True, slots=True)
class TokenLine:
    type: str
    token: str  # 20 digits
    units_kwh: Decimal  # 0 for tokens that carry no credit
    tid: int | None

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "token": self.token, "units": kwh_text(self.units_kwh),
                "tid": self.tid}


@dataclass(frozen=True, slots=True)
class VendAnswer:
    """A vend (or trial vend, engineering issue, key change) as the caller sees it."""

    vend_id: int | None
    receipt_no: int | None
    kind: str
    meter_number: str
    amount: Decimal
    units_kwh: Decimal
    status: str
    created_at: datetime
    tokens: tuple[TokenLine, ...]
    breakdown: tuple[dict[str, Any], ...]
    tariff_code: str | None
    tariff_version: str | None
    remainder: Decimal
    key_change: bool
    details: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False  # the same request again: the first answer (API: 200, not 201)

    @classmethod
    def from_vend(cls, vend: Vend, *, replayed: bool = False) -> VendAnswer:
        return cls(
            vend_id=vend.id, receipt_no=vend.receipt_no, kind=vend.kind.value,
            meter_number=vend.meter.meter_number, amount=vend.amount, units_kwh=vend.units_kwh,
            status=vend.status.value, created_at=vend.created_at,
            tokens=tuple(TokenLine(type=t.type.value, token=t.token,
                                   units_kwh=t.units_kwh or Decimal(0), tid=t.tid)
                         for t in vend.tokens),
            breakdown=tuple(vend.breakdown or ()), tariff_code=vend.tariff_code,
            tariff_version=vend.tariff_version, remainder=vend.remainder,
            key_change=any(t.type.value == "key_change" for t in vend.tokens),
            details=dict(vend.details or {}), replayed=replayed,
        )

    def as_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "vend_id": self.vend_id,
            "receipt_no": None if self.receipt_no is None else str(self.receipt_no),
            "kind": self.kind,
            "meter_number": self.meter_number,
            "amount": decimal_text(self.amount, 2),
            "units": kwh_text(self.units_kwh),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "key_change": self.key_change,
            "tokens": [t.as_json() for t in self.tokens],
            "breakdown": list(self.breakdown),
            "tariff": {"code": self.tariff_code, "version": self.tariff_version},
            "remainder": decimal_text(self.remainder, 5),
        }
        if self.details:
            answer["details"] = self.details
        return answer


@dataclass(frozen=True, slots=True)
class MeterConfirmation:
    """Customer confirmation before a vend (XMLVend ConfirmCustomer)."""

    meter_number: str
    customer_name: str
    address: str
    account: str
    status: str
    can_vend: bool
    min_amount: Decimal
    max_amount: Decimal
    key_change_due: bool
    key_change_reasons: tuple[str, ...]
    sgc: str
    krn: int
    ti: int
    tariff_code: str

    def as_json(self) -> dict[str, Any]:
        return {
            "meter_number": self.meter_number,
            "customer": {"name": self.customer_name, "address": self.address,
                         "account": self.account},
            "status": self.status,
            "can_vend": self.can_vend,
            "min_amount": decimal_text(self.min_amount, 2),
            "max_amount": decimal_text(self.max_amount, 2),
            "key_change_due": self.key_change_due,
            "sgc": self.sgc, "krn": self.krn, "ti": self.ti, "tariff": self.tariff_code,
        }
