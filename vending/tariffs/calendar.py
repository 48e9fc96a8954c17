"""Periods and time-of-use calendars, always read in the tariff's own time zone.

A block counter resets "on the 1st of the month" *where the customer lives*: a vend at 23:30 UTC
on 31 January is already February in Johannesburg (UTC+2). So every period key, boundary and
time-of-use lookup converts the aware instant to the tariff's IANA zone first (``zoneinfo``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

PERIODS = ("month", "year")
"""Periods of block counters, fixed charges and free basic electricity."""

DAY_TYPES = ("all", "weekday", "weekend", "saturday", "sunday", "holiday")

# Which schedule of a season applies to a kind of day, most specific first. A public holiday
# without a schedule of its own is priced like a Sunday, as South African TOU tariffs do.
_DAY_FALLBACK: dict[str, tuple[str, ...]] = {
    "weekday": ("weekday", "all"),
    "saturday": ("saturday", "weekend", "all"),
    "sunday": ("sunday", "weekend", "all"),
    "holiday": ("holiday", "sunday", "weekend", "all"),
}
MINUTES_PER_DAY = 24 * 60


def require_aware(at: datetime, what: str = "at") -> None:
    """Refuse naive datetimes: an instant without an offset cannot be placed in a period."""
    if not isinstance(at, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime (UTC), got naive {at.isoformat()}")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which ``day`` starts in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def period_key(period: str, at: datetime, zone: ZoneInfo) -> str:
    """``"2026-02"`` for a month, ``"2026"`` for a year: the local period containing ``at``."""
    require_aware(at)
    local = at.astimezone(zone)
    if period == "month":
        return f"{local.year:04d}-{local.month:02d}"
    if period == "year":
        return f"{local.year:04d}"
    raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")


def period_bounds(period: str, at: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The local period containing ``at`` as a half-open UTC interval ``[start, end)``."""
    require_aware(at)
    local = at.astimezone(zone)
    if period == "month":
        first = date(local.year, local.month, 1)
        following = date(local.year + local.month // 12, local.month % 12 + 1, 1)
    elif period == "year":
        first, following = date(local.year, 1, 1), date(local.year + 1, 1, 1)
    else:
        raise ValueError(f"unknown period {period!r}; expected one of {PERIODS}")
    return local_midnight(first, zone), local_midnight(following, zone)


@dataclass(frozen=True)
class TouPeriod:
    """A named time-of-use period (``peak``, ``standard``, ``off_peak``...) and its price."""

    name: str
    price: Decimal


@dataclass(frozen=True)
class TimeRange:
    """Minutes ``[start, end)`` of a local day in one period; ``end < start`` wraps midnight."""

    start: int
    end: int
    period: str

    def covers(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


@dataclass(frozen=True)
class DaySchedule:
    """The periods of one kind of day, as time ranges that cover the day exactly once."""

    ranges: tuple[TimeRange, ...]

    def period_at(self, minute: int) -> str:
        for time_range in self.ranges:
            if time_range.covers(minute):
                return time_range.period
        raise LookupError(f"minute {minute} is not covered")  # the parser forbids gaps

    def change_minutes(self) -> frozenset[int]:
        """Minutes of the day at which the period may change (range starts, and midnight)."""
        return frozenset({0, *(r.start for r in self.ranges)})


@dataclass(frozen=True)
class Season:
    """Months of the year sharing the same day schedules."""

    name: str
    months: frozenset[int]
    days: tuple[tuple[str, DaySchedule], ...]

    def schedule(self, day_type: str) -> DaySchedule:
        available = dict(self.days)
        for candidate in _DAY_FALLBACK[day_type]:
            if candidate in available:
                return available[candidate]
        raise LookupError(f"season {self.name!r} has no schedule for {day_type}")


@dataclass(frozen=True)
class TouCalendar:
    """Periods with prices, seasons by month, day types and holidays (local dates)."""

    periods: tuple[TouPeriod, ...]
    seasons: tuple[Season, ...]
    holidays: frozenset[date] = frozenset()

    def day_type(self, day: date) -> str:
        if day in self.holidays:
            return "holiday"
        return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")

    def schedule_for(self, day: date) -> DaySchedule:
        for season in self.seasons:
            if day.month in season.months:
                return season.schedule(self.day_type(day))
        raise LookupError(f"no season covers month {day.month}")  # the parser forbids it

    def period_at(self, at: datetime, zone: ZoneInfo) -> TouPeriod:
        """The period in force at the aware instant ``at``, read in ``zone``."""
        require_aware(at)
        local = at.astimezone(zone)
        name = self.schedule_for(local.date()).period_at(local.hour * 60 + local.minute)
        return self.period(name)

    def period(self, name: str) -> TouPeriod:
        for period in self.periods:
            if period.name == name:
                return period
        raise LookupError(f"no time-of-use period named {name!r}")

    def cut_points(self, start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """UTC instants strictly inside ``(start, end)`` where the period may change."""
        first = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        seen: set[datetime] = set()
        day = first
        while day <= last:
            for minute in self.schedule_for(day).change_minutes():
                wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                instant = wall.astimezone(UTC)
                if start < instant < end:
                    seen.add(instant)
            day += timedelta(days=1)
        yield from sorted(seen)
