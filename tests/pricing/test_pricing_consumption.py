"""Consumption pricing of metered readings (dashboards, reminders) on SQLite and PostgreSQL:
block counters from the readings of the period, version runs, time-of-use cuts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pricing_world import PricingWorld, block_tariff
from vending_fixtures import ADMIN

from vending.errors import InvalidInputError
from vending.models import MeterReading
from vending.services import ServiceContext, load_tariff
from vending.services.consumption import consumption_cost, meter_consumption_cost


def _readings(ctx: ServiceContext, world: PricingWorld, name: str,
              values: list[tuple[datetime, str]]) -> None:
    meter = world.meter(name)
    for at, kwh in values:
        ctx.session.add(MeterReading(meter_id=meter.id, at=at, energy_kwh=Decimal(kwh),
                                     client_ref="test"))
    ctx.session.commit()


MARCH_START = datetime(2026, 2, 28, 22, tzinfo=UTC)  # midnight 1 March in Johannesburg


def test_blocks_count_from_the_consumption_of_the_period(ctx: ServiceContext,
                                                         world: PricingWorld) -> None:
    _readings(ctx, world, "block", [(MARCH_START, "1000"),
                                    (datetime(2026, 3, 10, 22, tzinfo=UTC), "1040"),
                                    (datetime(2026, 3, 20, 22, tzinfo=UTC), "1100")])
    report = meter_consumption_cost(ctx, meter_number=world.meters["block"],
                                    start=datetime(2026, 3, 5, tzinfo=UTC),
                                    end=datetime(2026, 3, 31, tzinfo=UTC))
    # 60 kWh after 40 already used this month: 10 at 1.73 and 50 at 2.11
    assert report.kwh == Decimal("60") and report.amount == Decimal("122.80")
    assert [(line.kwh, line.rate) for line in report.parts[0].lines] == [
        (Decimal("10"), Decimal("1.7300")), (Decimal("50"), Decimal("2.1100"))]
    assert report.as_json()["amount"] == "122.80" and report.currency == "ZAR"


def test_each_interval_is_priced_by_the_version_in_force(ctx: ServiceContext,
                                                         world: PricingWorld) -> None:
    load_tariff(ctx, block_tariff("2026-03-15", ("1.9000", "2.5000", "3.5000")), actor=ADMIN)
    _readings(ctx, world, "block", [(MARCH_START, "1000"),
                                    (datetime(2026, 3, 10, 22, tzinfo=UTC), "1040"),
                                    (datetime(2026, 3, 20, 22, tzinfo=UTC), "1100"),
                                    (datetime(2026, 3, 25, 22, tzinfo=UTC), "1110")])
    report = consumption_cost(ctx.session, world.meter("block"),
                              datetime(2026, 3, 5, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC),
                              default_tariff="RES")
    assert [part.tariff_version for part in report.parts] == ["2026-01-01", "2026-03-15"]
    # the second run starts at 100 kWh used this month: block 2 of the new version
    assert report.parts[1].amount == Decimal("25.00")
    assert report.amount == Decimal("147.80") and report.kwh == Decimal("70")


def test_time_of_use_cuts_an_interval_at_the_period_change(ctx: ServiceContext,
                                                           world: PricingWorld) -> None:
    day = [{"from": "07:00", "to": "19:00", "period": "peak"},
           {"from": "19:00", "to": "07:00", "period": "off_peak"}]
    load_tariff(ctx, {"code": "TOU", "currency": "ZAR", "effective_from": "2026-01-01",
                      "energy": {"time_of_use": {
                          "periods": [{"name": "peak", "price": "3.0000"},
                                      {"name": "off_peak", "price": "1.0000"}],
                          "calendar": {"seasons": [{"name": "all", "months": list(range(1, 13)),
                                                    "days": {"all": day}}]}}}}, actor=ADMIN)
    meter = world.meter("block2")
    meter.tariff_code = "TOU"
    ctx.session.commit()
    _readings(ctx, world, "block2", [(datetime(2026, 3, 3, 6, tzinfo=UTC), "500"),
                                     (datetime(2026, 3, 3, 8, tzinfo=UTC), "510")])
    report = meter_consumption_cost(ctx, meter_number=world.meters["block2"],
                                    start=datetime(2026, 3, 3, tzinfo=UTC),
                                    end=datetime(2026, 3, 4, tzinfo=UTC))
    assert report.amount == Decimal("20.00")  # 5 kWh off-peak at 1.00, 5 kWh peak at 3.00
    assert {line.label for line in report.parts[0].lines} == {"Energy (peak)",
                                                              "Energy (off_peak)"}


def test_no_readings_cost_nothing_and_bad_ranges_are_refused(ctx: ServiceContext,
                                                             world: PricingWorld) -> None:
    report = meter_consumption_cost(ctx, meter_number=world.meters["charge"],
                                    start=datetime(2026, 3, 1, tzinfo=UTC),
                                    end=datetime(2026, 3, 2, tzinfo=UTC))
    assert report.kwh == 0 and report.amount == 0 and report.parts == ()
    with pytest.raises(InvalidInputError):
        meter_consumption_cost(ctx, meter_number=world.meters["charge"],
                               start=datetime(2026, 3, 2, tzinfo=UTC),
                               end=datetime(2026, 3, 1, tzinfo=UTC))
