"""Energy measurement: pulses become Wh, Wh are paid from credit, the load switch follows.

The meter counts energy exactly: ``pulses × 1000 / imp_per_kwh`` Wh, with the part of a Wh not
yet complete carried over in ``pulse_remainder``, so no pulse is ever lost to rounding.
Electricity credit (Wh) is spent first, then currency credit at the tariff rate the meter holds
(``tariff_rate`` hundredths per kWh cost exactly ``tariff_rate`` 10⁻⁵ units per Wh). Credit
never goes below zero: at zero the relay opens, and a new credit token closes it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .state import MeterState, parse_utc

HOUR_S = 3600
WINDOW = timedelta(hours=24)
MIN_WINDOW = timedelta(hours=1)  # a few minutes of history say nothing about the day


class MeteringError(ValueError):
    """A measurement the meter cannot take (negative, not a whole Wh, no interval)."""


@dataclass(frozen=True, slots=True)
class Consumption:
    """What one batch of energy did: Wh measured, power drawn, relay and alarm changes."""

    wh: int
    power_w: int | None
    events: tuple[str, ...]


def wh_from_kwh(kwh: Decimal) -> int:
    """Exact Wh in ``kwh``; the meter's resolution is 1 Wh, so finer values are refused."""
    if not isinstance(kwh, Decimal) or not kwh.is_finite() or kwh < 0:
        raise MeteringError(f"energy must be a non-negative decimal kWh, got {kwh!r}")
    wh = kwh.scaleb(3)
    if wh != wh.to_integral_value():
        raise MeteringError("energy is measured in whole Wh (at most 3 decimals of kWh)")
    return int(wh)


def wh_from_pulses(state: MeterState, pulses: int) -> int:
    """Whole Wh in ``pulses`` plus the carried remainder; updates the remainder."""
    if isinstance(pulses, bool) or not isinstance(pulses, int) or pulses < 0:
        raise MeteringError(f"pulses must be a non-negative integer, got {pulses!r}")
    total = pulses * 1000 + state.pulse_remainder
    wh, state.pulse_remainder = divmod(total, state.imp_per_kwh)
    return wh


def consume(state: MeterState, wh: int, now: datetime, seconds: Decimal | None = None
            ) -> Consumption:
    """Meter ``wh`` drawn over ``seconds`` (when known) at ``now``; mutates ``state``."""
    if seconds is not None and (not seconds.is_finite() or seconds <= 0):
        raise MeteringError("the interval must be a positive number of seconds")
    relay_before, low_before = state.relay_reason, is_low_credit(state)
    state.energy_wh += wh
    _record(state, wh, now)
    from_credit = min(wh, state.credit_wh)
    state.credit_wh -= from_credit
    rest = wh - from_credit
    if rest and state.tariff_rate:
        state.currency = max(0, state.currency - rest * state.tariff_rate)
    power: int | None = None
    if seconds is not None:
        power = int((Decimal(wh) * HOUR_S / seconds).to_integral_value(ROUND_HALF_UP))
        state.last_power_w = power
        if state.max_power_w is not None and power > state.max_power_w:
            state.overload = True
    return Consumption(wh=wh, power_w=power, events=relay_events(state, relay_before, low_before))


def relay_events(state: MeterState, relay_before: str | None, low_before: bool
                 ) -> tuple[str, ...]:
    """Event names for what changed since ``relay_before``/``low_before`` were taken."""
    events: list[str] = []
    if state.relay_reason != relay_before:
        reason = state.relay_reason
        events.append("relay_closed" if reason is None else f"relay_open:{reason}")
    if is_low_credit(state) and not low_before:
        events.append("low_credit")
    return tuple(events)


def _record(state: MeterState, wh: int, now: datetime) -> None:
    """Add ``wh`` to this hour's bucket and drop buckets older than 24 h."""
    hour = int(now.timestamp()) // HOUR_S
    buckets = [b for b in state.consumption if b[0] > hour - 24]
    if buckets and buckets[-1][0] == hour:
        buckets[-1][1] += wh
    else:
        buckets.append([hour, wh])
    state.consumption = buckets


def credit_equivalent_wh(state: MeterState) -> int:
    """Wh the meter can still supply from both registers."""
    extra = state.currency // state.tariff_rate if state.tariff_rate else 0
    return state.credit_wh + extra


def is_low_credit(state: MeterState) -> bool:
    return credit_equivalent_wh(state) <= state.low_credit_wh


def average_power_w(state: MeterState, now: datetime) -> Decimal | None:
    """Mean power over the last 24 h (or since metering began, if shorter, but at least 1 h)."""
    hour = int(now.timestamp()) // HOUR_S
    wh = sum(b[1] for b in state.consumption if b[0] > hour - 24)
    covered = WINDOW
    if state.metering_since:
        covered = max(MIN_WINDOW, min(WINDOW, now - parse_utc(state.metering_since)))
    seconds = Decimal(int(covered.total_seconds()))
    if seconds <= 0:
        return None
    return (Decimal(wh) * HOUR_S / seconds).quantize(Decimal("0.1"))


def hours_to_zero(state: MeterState, now: datetime) -> Decimal | None:
    """Estimated hours until the credit runs out at the last 24 h's average power."""
    average = average_power_w(state, now)
    if not average:
        return None
    return (Decimal(credit_equivalent_wh(state)) / average).quantize(Decimal("0.1"))
