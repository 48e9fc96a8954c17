"""Readings, as a property: a non-decreasing register series posted in any batching and any
order, with batches re-sent, is stored exactly once and exactly as read; one reading that goes
backwards refuses its batch and stores nothing of it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from api_helpers import OPERATOR, ApiWorld
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from vending.errors import BusinessRuleError
from vending.models import Meter, MeterReading
from vending.services import ServiceContext
from vending.services.readings import Reading, record_readings

STEPS = st.lists(st.decimals(min_value=0, max_value=50, places=3), min_size=1, max_size=25)


def stored(ctx: ServiceContext, number: str, since: datetime) -> list[tuple[datetime, Decimal]]:
    try:
        meter_id = ctx.session.scalar(select(Meter.id).where(Meter.meter_number == number))
        return [(r.at, r.energy_kwh) for r in ctx.session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter_id,
                                       MeterReading.at >= since).order_by(MeterReading.at))]
    finally:
        ctx.session.rollback()


def test_any_batching_and_order_stores_the_series_once(ctx: ServiceContext,
                                                       world: ApiWorld) -> None:
    number = world.meters["current"]
    rounds = itertools.count()

    @given(steps=STEPS, data=st.data())
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(steps: list[Decimal], data: st.DataObject) -> None:
        n = next(rounds)  # each example on its own day, above the previous example's values
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n)
        base = Decimal(10_000 * n)
        series = [(start + timedelta(minutes=15 * i), base + sum(steps[: i + 1]))
                  for i in range(len(steps))]
        order = data.draw(st.permutations(series))
        cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=4)))
        batches = [order[a:b] for a, b in itertools.pairwise([0, *cuts, len(order)]) if a < b]
        resend = data.draw(st.sampled_from(batches))
        accepted = duplicates = 0
        for batch in [*batches, resend]:
            result = record_readings(ctx, meter_number=number, actor=OPERATOR,
                                     readings=[Reading(at, kwh) for at, kwh in batch])
            accepted += result.accepted
            duplicates += result.duplicates
        assert accepted == len(series) and duplicates == len(resend)
        assert stored(ctx, number, start) == series

    check()


def test_a_backwards_reading_refuses_its_whole_batch(ctx: ServiceContext,
                                                     world: ApiWorld) -> None:
    number = world.meters["second"]
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    record_readings(ctx, meter_number=number, actor=OPERATOR,
                    readings=[Reading(t0, Decimal("10")), Reading(t0 + timedelta(hours=2),
                                                                  Decimal("12"))])
    with pytest.raises(BusinessRuleError) as refused:
        record_readings(ctx, meter_number=number, actor=OPERATOR,
                        readings=[Reading(t0 + timedelta(hours=3), Decimal("13")),
                                  Reading(t0 + timedelta(hours=1), Decimal("12.5"))])
    assert refused.value.code == "register_backwards"
    assert [kwh for _, kwh in stored(ctx, number, t0)] == [Decimal("10"), Decimal("12")]
