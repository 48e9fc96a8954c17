"""Metering: exact pulses, credit never below zero, relay, power limit, currency, estimates."""

from __future__ import annotations

from decimal import Decimal

import pytest
from meter_fixtures import KEY, T0, Clock, credit, new_meter, tid_at

import tokens
from keypad_meter.metering import MeteringError

TID = tid_at(T0)


def test_pulses_are_counted_exactly_with_a_remainder() -> None:
    meter = new_meter(imp_per_kwh=3200)
    meter.enter(credit(TID, "10"), T0)
    total = 0
    for _ in range(7):
        total += meter.consume_pulses(1, T0).wh
    assert total == 2  # 7 pulses at 3200 imp/kWh = 2.1875 Wh
    total += meter.consume_pulses(3200 * 3 - 7, T0).wh
    assert total == 3000  # nothing lost to rounding: 3 kWh of pulses are 3000 Wh
    assert meter.state.pulse_remainder == 0
    assert meter.state.energy_kwh == Decimal(3)
    assert meter.state.credit_kwh == Decimal(7)


def test_credit_stops_at_zero_and_relay_opens_then_closes_on_new_credit() -> None:
    meter = new_meter()
    meter.enter(credit(TID, "0.5"), T0)
    assert meter.state.relay == "closed"
    done = meter.consume_kwh(Decimal("0.7"), T0)
    assert done.events == ("relay_open:no_credit",)
    assert meter.state.credit_wh == 0
    assert meter.state.energy_wh == 700
    assert meter.enter(credit(TID + 1, "1"), T0).accepted
    assert meter.state.relay == "closed"


def test_power_limit_trips_the_relay_until_reconnected() -> None:
    meter = new_meter()
    meter.enter(credit(TID, "10"), T0)
    limit = tokens.encode(tokens.SetMaximumPowerLimit(tid=TID + 1, watts=1000), KEY)
    assert meter.enter(limit, T0).accepted
    ok = meter.consume_kwh(Decimal("0.016"), T0, seconds=Decimal(60))  # 960 W
    assert (ok.power_w, meter.state.relay) == (960, "closed")
    over = meter.consume_kwh(Decimal("0.017"), T0, seconds=Decimal(60))  # 1020 W
    assert over.power_w == 1020
    assert over.events == ("relay_open:power_limit",)
    assert meter.status(T0)["relay_reason"] == "power_limit"
    assert meter.reconnect() == ("relay_closed",)


def test_tamper_opens_relay() -> None:
    meter = new_meter()
    meter.enter(credit(TID, "1"), T0)
    assert meter.signal_tamper() == ("relay_open:tamper",)
    assert meter.status(T0)["tamper"] is True


def test_currency_credit_is_spent_at_the_tariff_rate_after_kwh_credit() -> None:
    meter = new_meter()
    rate = tokens.encode(tokens.SetTariffRate(tid=TID, rate=200), KEY)  # 2.00 per kWh
    money = tokens.encode(tokens.CurrencyCredit(kind=tokens.CurrencyKind.ELECTRICITY,
                                                tid=TID + 1, amount=Decimal("0.1")), KEY)
    assert meter.enter(rate, T0).accepted and meter.enter(money, T0).accepted
    assert meter.enter(credit(TID + 2, "0.1"), T0).accepted
    meter.consume_kwh(Decimal("0.120"), T0)  # 100 Wh from kWh credit, 20 Wh at 2.00/kWh
    assert meter.state.credit_wh == 0
    assert meter.state.credit_currency == Decimal("0.06")
    assert meter.state.relay == "closed"
    done = meter.consume_kwh(Decimal("0.031"), T0)  # 0.06 buys 30 Wh: credit is exhausted
    assert meter.state.currency == 0
    assert done.events == ("relay_open:no_credit",)


def test_currency_without_a_tariff_cannot_be_spent() -> None:
    meter = new_meter()
    money = tokens.encode(tokens.CurrencyCredit(kind=tokens.CurrencyKind.ELECTRICITY,
                                                tid=TID, amount=Decimal("0.1")), KEY)
    assert meter.enter(money, T0).accepted
    assert meter.state.relay == "open"


def test_low_credit_alarm_and_time_to_zero_estimate() -> None:
    clock = Clock()
    meter = new_meter(low_credit_wh=2000)
    meter.enter(credit(TID, "10"), clock())
    for _ in range(24):  # 24 h at 250 W
        clock.advance(hours=1)
        done = meter.consume_kwh(Decimal("0.25"), clock())
    status = meter.status(clock())
    assert status["average_power_w"] == "250.0"
    assert status["hours_to_zero"] == "16.0"  # 4 kWh left at 250 W
    assert status["low_credit"] is False
    done = meter.consume_kwh(Decimal("2.1"), clock())
    assert done.events == ("low_credit",)
    assert meter.status(clock())["low_credit"] is True


def test_average_uses_only_the_last_24_hours() -> None:
    clock = Clock()
    meter = new_meter()
    meter.enter(credit(TID, "100"), clock())
    meter.consume_kwh(Decimal("50"), clock())
    clock.advance(hours=30)
    meter.consume_kwh(Decimal("2.4"), clock())
    assert meter.status(clock())["average_power_w"] == "100.0"


@pytest.mark.parametrize("kwh", ["-1", "0.0001", "NaN"])
def test_bad_energy_is_refused(kwh: str) -> None:
    meter = new_meter()
    with pytest.raises(MeteringError):
        meter.consume_kwh(Decimal(kwh), T0)
    assert meter.state.energy_wh == 0


def test_negative_pulses_refused() -> None:
    with pytest.raises(MeteringError):
        new_meter().consume_pulses(-1, T0)
