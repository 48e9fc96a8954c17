"""The pricing seam: money to energy for one vend.

:func:`quote` is the single entry point the vend services call. Today it prices with the flat
rate of the meter's tariff document (``{"energy": {"flat": "2.25"}}``); the tariff engine of
``vending/tariffs/`` plugs in here later, keeping :class:`Quote` as the contract.

Energy is floored to the 0.1 kWh unit (nothing is issued that was not paid for, SPEC decision
3); ``remainder`` is the money the flooring left over. The token later carries
``tokens.round_up_units`` of these units, which the vend records as what the meter adds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import BusinessRuleError, InvalidInputError
from .models import Meter, Tariff

KWH_STEP = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class BreakdownLine:
    """One deduction or tariff block of a quote."""

    kind: str  # "energy", later also "fixed", "debt", "tax", ...
    label: str
    amount: Decimal
    kwh: Decimal | None = None
    rate: Decimal | None = None

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "amount": str(self.amount),
                "kwh": None if self.kwh is None else str(self.kwh),
                "rate": None if self.rate is None else str(self.rate)}


@dataclass(frozen=True, slots=True)
class Quote:
    amount: Decimal
    units_kwh: Decimal  # floored to 0.1 kWh
    breakdown: list[BreakdownLine] = field(default_factory=list)
    tariff_code: str = ""
    tariff_version: str = ""
    remainder: Decimal = Decimal(0)


def tariff_in_force(session: Session, code: str, at: datetime) -> Tariff:
    """The newest document of ``code`` effective on ``at``'s UTC date."""
    tariff = session.scalars(
        select(Tariff)
        .where(Tariff.code == code, Tariff.effective_from <= at.date())
        .order_by(Tariff.effective_from.desc())
        .limit(1)
    ).first()
    if tariff is None:
        raise BusinessRuleError("no_tariff", f"no tariff {code!r} is in force on {at.date()}")
    return tariff


def flat_rate(document: dict[str, Any]) -> Decimal:
    """The flat energy price (currency per kWh) of a flat-rate tariff document."""
    try:
        rate = Decimal(str(document["energy"]["flat"]))
    except (KeyError, TypeError, InvalidOperation):
        raise InvalidInputError(
            "invalid_tariff", "tariff document needs energy.flat, a decimal string"
        ) from None
    if not rate.is_finite() or rate <= 0:
        raise InvalidInputError("invalid_tariff", "energy.flat must be a positive price")
    if rate != rate.quantize(Decimal("0.0001")):
        # price x 0.1 kWh must fit the 5 decimal places money is stored with
        raise InvalidInputError("invalid_tariff", "energy.flat has more than 4 decimal places")
    return rate


def quote(
    session: Session, meter: Meter, amount: Decimal, at: datetime, *, default_tariff: str
) -> Quote:
    """Price ``amount`` for ``meter`` at ``at`` with the meter's tariff (or the default)."""
    code = meter.tariff_code or default_tariff
    tariff = tariff_in_force(session, code, at)
    rate = flat_rate(tariff.document)
    kwh = (amount / rate).quantize(KWH_STEP, rounding=ROUND_FLOOR)
    cost = kwh * rate
    line = BreakdownLine(kind="energy", label="Energy (flat rate)", amount=cost, kwh=kwh,
                         rate=rate)
    return Quote(amount=amount, units_kwh=kwh, breakdown=[line], tariff_code=code,
                 tariff_version=tariff.effective_from.isoformat(), remainder=amount - cost)
