"""Periods and time-of-use calendars in the tariff's time zone; consumption pricing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tariff_documents import BEIJING_TOU, ESKOM, SEASONAL_TOU, utc, variant

from vending.tariffs import TariffNotInForce, parse_tariff, price_consumption
from vending.tariffs.calendar import period_bounds, period_key

D = Decimal
JOBURG = ZoneInfo("Africa/Johannesburg")
NEW_YORK = ZoneInfo("America/New_York")


# ----------------------------------------------------------------------------- periods


def test_month_key_and_bounds_in_johannesburg():
    # UTC+2 all year: February starts at 2026-01-31 22:00 UTC and ends at 2026-02-28 22:00 UTC.
    assert period_key("month", utc(2026, 1, 31, 21, 59), JOBURG) == "2026-01"
    assert period_key("month", utc(2026, 1, 31, 22, 0), JOBURG) == "2026-02"
    assert period_bounds("month", utc(2026, 2, 10), JOBURG) == (
        utc(2026, 1, 31, 22), utc(2026, 2, 28, 22))


def test_december_bounds_roll_into_the_next_year():
    assert period_bounds("month", utc(2026, 12, 15), JOBURG) == (
        utc(2026, 11, 30, 22), utc(2026, 12, 31, 22))
    assert period_bounds("year", utc(2026, 12, 31, 21, 59), JOBURG) == (
        utc(2025, 12, 31, 22), utc(2026, 12, 31, 22))
    assert period_key("year", utc(2026, 12, 31, 22), JOBURG) == "2027"


def test_month_bounds_follow_daylight_saving_time():
    # New York: March 2026 starts in EST (UTC-5) and April starts in EDT (UTC-4), so March is
    # one hour shorter than 31 days.
    start, end = period_bounds("month", utc(2026, 3, 15), NEW_YORK)
    assert (start, end) == (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))
    assert (end - start).total_seconds() == 31 * 86400 - 3600


def test_unknown_period_and_naive_instants_are_refused():
    with pytest.raises(ValueError, match="unknown period"):
        period_key("week", utc(2026, 1, 1), JOBURG)
    with pytest.raises(ValueError, match="aware"):
        period_bounds("month", datetime(2026, 1, 1), JOBURG)  # noqa: DTZ001


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),  # noqa: DTZ001
                    timezones=st.just(ZoneInfo("UTC"))),
       st.sampled_from(["month", "year"]),
       st.sampled_from(["Africa/Johannesburg", "America/New_York", "Asia/Shanghai",
                        "Pacific/Chatham", "UTC"]))
def test_an_instant_lies_in_its_period_and_the_bounds_share_its_key(moment, period, zone_name):
    zone = ZoneInfo(zone_name)
    start, end = period_bounds(period, moment, zone)
    assert start <= moment < end
    assert period_key(period, start, zone) == period_key(period, moment, zone)
    assert period_key(period, end, zone) != period_key(period, moment, zone)


# ----------------------------------------------------------------------------- time of use


@pytest.mark.parametrize(("moment", "expected"), [
    # Johannesburg is UTC+2. January is low season.
    (utc(2026, 1, 5, 4, 59), "off_peak"),   # Monday 06:59
    (utc(2026, 1, 5, 5, 0), "peak"),        # Monday 07:00
    (utc(2026, 1, 5, 8, 0), "standard"),    # Monday 10:00
    (utc(2026, 1, 5, 16, 30), "peak"),      # Monday 18:30
    (utc(2026, 1, 5, 21, 59), "off_peak"),  # Monday 23:59
    (utc(2026, 1, 10, 6, 0), "standard"),   # Saturday 08:00
    (utc(2026, 1, 10, 11, 0), "off_peak"),  # Saturday 13:00
    (utc(2026, 1, 10, 3, 0), "off_peak"),   # Saturday 05:00 (wraps from 12:00 to 07:00)
    (utc(2026, 1, 11, 6, 0), "off_peak"),   # Sunday 08:00
    (utc(2026, 3, 21, 6, 0), "off_peak"),   # Saturday 21 March, a holiday: like a Sunday
    (utc(2026, 7, 7, 5, 0), "winter_peak"),  # Tuesday 07:00 in the high season
    (utc(2026, 6, 16, 5, 0), "off_peak"),   # Tuesday 16 June, a holiday: the weekend schedule
    (utc(2026, 1, 4, 22, 30), "off_peak"),  # Sunday 22:30 UTC is Monday 00:30 local
])
def test_seasonal_tou_period_in_force(moment, expected):
    tariff = parse_tariff(SEASONAL_TOU)
    period = tariff.tou_period_at(moment)
    assert period is not None and period.name == expected
    assert tariff.rate_at(moment) == period.price


def test_rate_at_flat_and_blocks():
    assert parse_tariff(variant(ESKOM, energy={"flat": "2.3456"})).rate_at(utc(2026, 1, 1)) == (
        D("2.3456"))
    eskom = parse_tariff(ESKOM)
    assert eskom.rate_at(utc(2022, 5, 1)) == D("1.76")
    assert eskom.rate_at(utc(2022, 5, 1), D("349.9")) == D("1.76")
    assert eskom.rate_at(utc(2022, 5, 1), D(350)) == D("1.99")
    assert eskom.tou_period_at(utc(2022, 5, 1)) is None


# ----------------------------------------------------------------------------- consumption


def test_consumption_split_at_a_tou_boundary_in_proportion_to_time():
    # Monday 06:30-07:50 local (04:30-05:50 UTC), 8 kWh: 30 of 80 minutes off-peak = 3 kWh at
    # 1.00, 50 minutes peak = 5 kWh at 6.00 → 3.00 + 30.00 = 33.00.
    tariff = parse_tariff(SEASONAL_TOU)
    cost = price_consumption(tariff, [(utc(2026, 1, 5, 4, 30), utc(2026, 1, 5, 5, 50), D(8))])
    assert {(line.label, line.kwh, line.amount) for line in cost.lines} == {
        ("Energy (off_peak)", D(3), D("3.00")), ("Energy (peak)", D(5), D("30.00"))}
    assert (cost.kwh, cost.exact_amount, cost.amount) == (D(8), D("33.00"), D("33.00"))


def test_consumption_shares_that_do_not_divide_evenly_still_add_up():
    # Monday 06:00-07:30 local, 1 kWh: off-peak share 60/90 = 0.666… → 0.666666 (rounded down
    # to a millionth), peak takes the rest 0.333334. Cost 0.666666 + 0.333334 × 6.00 = 2.66667
    # → 2.67.
    tariff = parse_tariff(SEASONAL_TOU)
    cost = price_consumption(tariff, [(utc(2026, 1, 5, 4), utc(2026, 1, 5, 5, 30), D(1))])
    assert sorted(line.kwh for line in cost.lines) == [D("0.333334"), D("0.666666")]
    assert cost.exact_amount == D("2.666670")
    assert cost.amount == D("2.67")


def test_consumption_block_counter_restarts_with_the_month():
    # Eskom, 340 kWh consumed in May before the first interval (Johannesburg, UTC+2).
    # 31 May 22:00-23:00 local, 20 kWh: 10 at 1.76 and 10 at 1.99 = 17.60 + 19.90.
    # 31 May 23:00 - 1 June 01:00 local, 4 kWh: 2 kWh in May at 1.99 = 3.98, 2 kWh in June
    # with the counter back at 0, at 1.76 = 3.52. Total 12 kWh at 1.76 (21.12) and 12 at 1.99
    # (23.88): 45.00.
    tariff = parse_tariff(ESKOM)
    cost = price_consumption(tariff, [
        (utc(2022, 5, 31, 20), utc(2022, 5, 31, 21), D(20)),
        (utc(2022, 5, 31, 21), utc(2022, 5, 31, 23), D(4)),
    ], consumed_before_kwh=D(340))
    assert sorted((line.rate, line.kwh, line.amount) for line in cost.lines) == [
        (D("1.76"), D(12), D("21.12")), (D("1.99"), D(12), D("23.88"))]
    assert cost.amount == D("45.00")
    assert cost.to_json()["amount"] == "45.00"


def test_consumption_of_a_flat_tariff_is_kwh_times_price():
    tariff = parse_tariff(variant(ESKOM, energy={"flat": "2.5"}))
    start = utc(2026, 1, 1)
    intervals = [(start + timedelta(hours=hour), start + timedelta(hours=hour + 1), D("0.333"))
                 for hour in range(24)]
    cost = price_consumption(tariff, intervals)
    # 24 × 0.333 = 7.992 kWh × 2.5 = 19.98.
    assert (cost.kwh, cost.amount) == (D("7.992"), D("19.98"))


def test_beijing_consumption_over_a_day_against_tou_and_tiers():
    # One whole day (Beijing = UTC+8), 24 kWh evenly, 230 kWh already consumed this month.
    # Peak 07:00-23:00 = 16 kWh, valley = 8 kWh. In time order: 00:00-07:00 valley 7 kWh
    # (tier 1, 230 → 237) at 0.30 = 2.10; 07:00-23:00 peak 16 kWh: 3 kWh tier 1 at 0.4883 =
    # 1.4649 and 13 kWh tier 2 at 0.5383 = 6.9979; 23:00-24:00 valley tier 2 1 kWh at 0.35.
    # Total 2.10 + 1.4649 + 6.9979 + 0.35 = 10.9128 → 10.91.
    tariff = parse_tariff(BEIJING_TOU)
    cost = price_consumption(tariff, [(utc(2026, 3, 9, 16), utc(2026, 3, 10, 16), D(24))],
                             consumed_before_kwh=D(230))
    assert cost.exact_amount == D("10.9128")
    assert cost.amount == D("10.91")


@pytest.mark.parametrize(("intervals", "message"), [
    ([(utc(2026, 1, 1, 1), utc(2026, 1, 1, 1), D(1))], "does not end after"),
    ([(utc(2026, 1, 1, 1), utc(2026, 1, 1, 3), D(1)),
      (utc(2026, 1, 1, 2), utc(2026, 1, 1, 4), D(1))], "overlaps"),
    ([(utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), D(-1))], "non-negative"),
    ([(datetime(2026, 1, 1, 1), utc(2026, 1, 1, 2), D(1))], "aware"),  # noqa: DTZ001
])
def test_bad_intervals_are_refused(intervals, message):
    with pytest.raises(ValueError, match=message):
        price_consumption(parse_tariff(SEASONAL_TOU), intervals)


def test_consumption_before_the_version_is_refused():
    with pytest.raises(TariffNotInForce):
        price_consumption(parse_tariff(SEASONAL_TOU),
                          [(utc(2025, 12, 31, 12), utc(2025, 12, 31, 13), D(1))])


def test_tou_consumption_across_a_daylight_saving_change():
    # London, 29 March 2026: clocks go from 01:00 GMT to 02:00 BST. Night is 00:00-07:00 local.
    # The interval 00:00-03:00 UTC is local 00:00 GMT to 04:00 BST: all night, 3 kWh at 0.10.
    # The interval 05:00-08:00 UTC is local 06:00-09:00 BST: 1 hour night (0.10), 2 hours day
    # (0.30): 0.10 + 0.60 = 0.70.
    document = {
        "code": "UK-E7", "currency": "GBP", "effective_from": "2026-01-01",
        "timezone": "Europe/London",
        "energy": {"time_of_use": {
            "periods": [{"name": "night", "price": "0.10"}, {"name": "day", "price": "0.30"}],
            "calendar": {"seasons": [{"name": "all", "months": list(range(1, 13)), "days": {
                "all": [{"from": "00:00", "to": "07:00", "period": "night"},
                        {"from": "07:00", "to": "24:00", "period": "day"}]}}]}}},
    }
    tariff = parse_tariff(document)
    night = price_consumption(tariff, [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 3), D(3))])
    assert night.exact_amount == D("0.30")
    morning = price_consumption(tariff, [(utc(2026, 3, 29, 5), utc(2026, 3, 29, 8), D(3))])
    assert sorted((line.rate, line.kwh) for line in morning.lines) == [
        (D("0.10"), D(1)), (D("0.30"), D(2))]
    assert morning.amount == D("0.70")
