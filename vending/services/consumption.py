"""The cost of a meter's metered consumption, for dashboards and low-credit reminders.

Readings are cumulative registers (``meter_readings``, posted through the bank API); two
consecutive readings make an interval ``(start, end, kWh)`` that the tariff engine's
:func:`~vending.tariffs.price_consumption` prices at the time-of-use period and block in force
(docs/tariffs.md, "Consumption pricing"). This is an estimate of what the energy cost, not a
bill: prepaid customers paid at vend time. Rules of this server's side:

* Each interval is priced by the tariff version in force at its start; consecutive intervals
  under one version are priced together, so the engine carries the block counter between them.
* The block counter at the first interval of each version's run starts from the consumption
  already metered in that block period: the first reading of the run minus the latest reading
  at or before the period's start (or the period's earliest reading when there is none).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import pricing
from .. import tariffs as engine
from ..errors import BusinessRuleError, InvalidInputError
from ..models import Meter, MeterReading, Tariff
from ..tariffs.calendar import period_bounds
from ..tariffs.money import decimal_str, round_half_up
from .context import ServiceContext
from .keystate import find_meter, validate_meter_number

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ConsumptionReport:
    """Priced consumption of one meter between two instants (one part per tariff version)."""

    meter_number: str
    start: datetime
    end: datetime
    kwh: Decimal
    exact_amount: Decimal
    amount: Decimal  # rounded half up to the currency's minor unit
    currency: str | None
    minor_unit: int
    parts: tuple[engine.ConsumptionCost, ...]

    def as_json(self) -> dict[str, Any]:
        return {"meter_number": self.meter_number, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "kwh": decimal_str(self.kwh),
                "currency": self.currency,
                "exact_amount": decimal_str(self.exact_amount, self.minor_unit),
                "amount": decimal_str(self.amount, self.minor_unit),
                "parts": [part.to_json() for part in self.parts]}


def _versions(session: Session, code: str, until: datetime) -> list[engine.Tariff]:
    rows = session.scalars(
        select(Tariff).where(Tariff.code == code,
                             Tariff.effective_from <= (until + timedelta(days=1)).date())
    ).all()
    return [pricing.parse_row(row) for row in rows]


def _baseline(session: Session, meter_id: int, period_start: datetime,
              first: MeterReading) -> Decimal:
    """Register value at the start of the block period (see the module doc)."""
    before = session.scalars(
        select(MeterReading).where(MeterReading.meter_id == meter_id,
                                   MeterReading.at <= period_start)
        .order_by(MeterReading.at.desc()).limit(1)
    ).first()
    if before is None:
        before = session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter_id,
                                       MeterReading.at >= period_start)
            .order_by(MeterReading.at).limit(1)
        ).first()
    return first.energy_kwh if before is None else before.energy_kwh


def consumption_cost(session: Session, meter: Meter, start: datetime, end: datetime, *,
                     default_tariff: str) -> ConsumptionReport:
    """Price the intervals between the meter's readings taken from ``start`` to ``end``."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise InvalidInputError("invalid_range", "start and end must be aware, start < end")
    readings = list(session.scalars(
        select(MeterReading).where(MeterReading.meter_id == meter.id,
                                   MeterReading.at >= start, MeterReading.at <= end)
        .order_by(MeterReading.at)
    ))
    code = meter.tariff_code or default_tariff
    versions = _versions(session, code, end)
    runs: list[tuple[engine.Tariff, list[tuple[MeterReading, MeterReading]]]] = []
    for left, right in itertools.pairwise(readings):
        try:
            version = engine.select_version(versions, left.at)
        except engine.TariffNotInForce:
            raise BusinessRuleError("no_tariff", f"no version of tariff {code!r} is in force "
                                                 f"at {left.at.isoformat()}") from None
        if runs and runs[-1][0] is version:
            runs[-1][1].append((left, right))
        else:
            runs.append((version, [(left, right)]))
    parts: list[engine.ConsumptionCost] = []
    for version, pairs in runs:
        first = pairs[0][0]
        before = ZERO
        if version.energy.blocks is not None:
            period_start, _ = period_bounds(version.energy.blocks.period, first.at, version.zone)
            before = max(ZERO, first.energy_kwh - _baseline(session, meter.id, period_start,
                                                            first))
        intervals = [(a.at, b.at, b.energy_kwh - a.energy_kwh) for a, b in pairs]
        parts.append(engine.price_consumption(version, intervals, consumed_before_kwh=before))
    minor = parts[0].minor_unit if parts else 2
    exact = sum((part.exact_amount for part in parts), ZERO)
    return ConsumptionReport(
        meter_number=meter.meter_number, start=start, end=end,
        kwh=sum((part.kwh for part in parts), ZERO), exact_amount=exact,
        amount=round_half_up(exact, minor), currency=parts[0].currency if parts else None,
        minor_unit=minor, parts=tuple(parts))


def meter_consumption_cost(ctx: ServiceContext, *, meter_number: str, start: datetime,
                           end: datetime) -> ConsumptionReport:
    """:func:`consumption_cost` as a read-only service call (dashboards, reminders)."""
    number = validate_meter_number(meter_number)
    try:
        meter = find_meter(ctx.session, number)
        return consumption_cost(ctx.session, meter, start, end,
                                default_tariff=ctx.policy.default_tariff)
    finally:
        ctx.session.rollback()
