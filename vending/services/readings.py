"""Cumulative register readings from meters and gateways: one batch, one unit of work.

Rules (docs/api.md):

* ``(meter, at)`` is unique. The same reading again is a *duplicate*: counted, not an error,
  so a meter that re-sends a batch after a lost answer gets a 2xx and clears its queue.
* The same time with another value is a conflict (``reading_conflict``, 409).
* Readings may arrive in any order, but the register never goes backwards: every reading must
  be >= each earlier-in-time reading and <= each later one, stored or in the batch; otherwise
  ``register_backwards`` (422).
* A batch is atomic: on any refusal nothing of it is written (nothing is half-kept).

The meter row is locked for the batch, so two batches for one meter cannot each pass the
order check against a state the other is changing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from ..errors import BusinessRuleError, ConflictError, InvalidInputError
from ..models import MeterReading
from .context import Actor, ServiceContext
from .keystate import lock_meter, validate_meter_number

MAX_BATCH = 1000
MAX_KWH = Decimal("9999999999999")  # NUMERIC(18, 5) holds 13 integer digits
FUTURE_SKEW = timedelta(minutes=10)  # meter clocks drift; further ahead is a broken clock


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime  # aware
    energy_kwh: Decimal


@dataclass(frozen=True, slots=True)
class ReadingsResult:
    meter_number: str
    accepted: int  # newly stored
    duplicates: int  # already stored with the same value


def _check(reading: Reading, now: datetime) -> None:
    if reading.at.tzinfo is None or reading.at.utcoffset() is None:
        raise InvalidInputError("invalid_reading", "reading times need a UTC offset")
    value = reading.energy_kwh
    if not value.is_finite() or value < 0 or value > MAX_KWH:
        raise InvalidInputError("invalid_reading", "energy_kwh must be 0..9999999999999")
    if value != value.quantize(Decimal("0.00001")):
        raise InvalidInputError("invalid_reading", "energy_kwh has more than 5 decimals")
    if reading.at > now + FUTURE_SKEW:
        raise BusinessRuleError("reading_in_future",
                                f"reading at {reading.at.isoformat()} is in the future")


def record_readings(
    ctx: ServiceContext, *, meter_number: str, readings: Sequence[Reading], actor: Actor
) -> ReadingsResult:
    number = validate_meter_number(meter_number)
    if not readings:
        raise InvalidInputError("invalid_reading", "a batch needs at least one reading")
    if len(readings) > MAX_BATCH:
        raise InvalidInputError("batch_too_large", f"at most {MAX_BATCH} readings per batch")
    now = ctx.now()
    batch: dict[datetime, Decimal] = {}
    duplicates = 0
    for reading in readings:
        _check(reading, now)
        at = reading.at.astimezone(now.tzinfo)
        if at in batch:
            if batch[at] != reading.energy_kwh:
                raise ConflictError("reading_conflict",
                                    f"two different readings for {at.isoformat()}")
            duplicates += 1
            continue
        batch[at] = reading.energy_kwh
    session = ctx.session
    try:
        meter = lock_meter(session, number)
        first, last = min(batch), max(batch)
        stored = {r.at: r.energy_kwh for r in session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter.id,
                                       MeterReading.at >= first, MeterReading.at <= last))}
        before = session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter.id, MeterReading.at < first)
            .order_by(MeterReading.at.desc()).limit(1)).first()
        after = session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter.id, MeterReading.at > last)
            .order_by(MeterReading.at).limit(1)).first()
        new: dict[datetime, Decimal] = {}
        for at, value in batch.items():
            if at in stored:
                if stored[at] != value:
                    raise ConflictError(
                        "reading_conflict",
                        f"a different reading is already stored for {at.isoformat()}")
                duplicates += 1
            else:
                new[at] = value
        timeline = dict(stored) | new
        for neighbour in (before, after):
            if neighbour is not None:
                timeline[neighbour.at] = neighbour.energy_kwh
        ordered = sorted(timeline.items())
        for (t0, v0), (t1, v1) in itertools.pairwise(ordered):
            if v1 < v0 and (t0 in new or t1 in new):
                raise BusinessRuleError(
                    "register_backwards",
                    f"the register goes backwards: {v1:f} kWh at {t1.isoformat()} is below "
                    f"{v0:f} kWh at {t0.isoformat()}")
        session.add_all(MeterReading(meter_id=meter.id, at=at, energy_kwh=value,
                                     client_ref=actor.ref, received_at=now)
                        for at, value in sorted(new.items()))
        session.commit()
        return ReadingsResult(meter_number=number, accepted=len(new), duplicates=duplicates)
    finally:
        session.rollback()


def latest_reading(ctx: ServiceContext, meter_id: int) -> MeterReading | None:
    """The most recent stored reading of a meter (reports, tests)."""
    try:
        return ctx.session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter_id)
            .order_by(MeterReading.at.desc()).limit(1)).first()
    finally:
        ctx.session.rollback()


def count_readings(ctx: ServiceContext, meter_id: int) -> int:
    try:
        return int(ctx.session.scalar(select(func.count()).select_from(MeterReading)
                                      .where(MeterReading.meter_id == meter_id)) or 0)
    finally:
        ctx.session.rollback()
