"""Tariff documents: JSON in, a frozen :class:`Tariff` out, or every problem at once.

The document format is specified in ``docs/tariffs.md``. Parsing is strict because a tariff
turns money into units: unknown fields, JSON numbers where a decimal string is expected, prices
finer than a millionth, block bounds off the 0.1 kWh grid and time-of-use days with gaps are all
refused, each problem reported with its JSON path so an administrator can fix them in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vending.tariffs.calendar import (
    DAY_TYPES,
    MINUTES_PER_DAY,
    PERIODS,
    DaySchedule,
    Season,
    TimeRange,
    TouCalendar,
    TouPeriod,
    local_midnight,
    period_key,
    require_aware,
)
from vending.tariffs.errors import TariffError
from vending.tariffs.money import MINOR_UNITS, places

MAX_PRICE_PLACES = 4
"""Prices and adders have at most four decimals, so kWh (0.1) × price has at most five: the
scale of the vending database's money columns, which store the remainder."""

CHARGE_PERIODS = (*PERIODS, "vend")

_DECIMAL_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_TIME_RE = re.compile(r"^([0-9]{2}):([0-9]{2})$")
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


# --------------------------------------------------------------------------- the parsed model


@dataclass(frozen=True)
class Tax:
    """A sales tax on the whole vend; ``inclusive`` says whether the vend amount contains it."""

    name: str
    rate: Decimal
    inclusive: bool


@dataclass(frozen=True)
class BlockStep:
    """A block up to a cumulative kWh bound (``None``: unbounded) at a price, or an adder."""

    up_to_kwh: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class Blocks:
    """Inclining (or any) blocks counted on the kWh bought in a month or a year.

    With ``adders`` true the step prices are added to the time-of-use price in force (the
    Chinese tier scheme: tier 2 pays the TOU price + 0.05, tier 3 + 0.30).
    """

    period: str
    steps: tuple[BlockStep, ...]
    adders: bool = False


@dataclass(frozen=True)
class Energy:
    """How energy is priced: exactly one of flat, blocks, time of use, or blocks + time of use."""

    flat: Decimal | None = None
    blocks: Blocks | None = None
    time_of_use: TouCalendar | None = None

    @property
    def kind(self) -> str:
        if self.flat is not None:
            return "flat"
        if self.blocks is not None and self.time_of_use is not None:
            return "blocks+time_of_use"
        return "blocks" if self.blocks is not None else "time_of_use"


@dataclass(frozen=True)
class FixedCharge:
    """A charge collected once per period (or on every vend), net of tax."""

    name: str
    amount: Decimal
    period: str


@dataclass(frozen=True)
class FreeBasic:
    """Free basic electricity: ``kwh`` per period for customers of category ``eligible``."""

    kwh: Decimal
    period: str
    eligible: str


@dataclass(frozen=True)
class DebtRecovery:
    """The share of each vend (after tax and fixed charges) that pays down debts."""

    percent: Decimal


@dataclass(frozen=True)
class VendLimits:
    """Smallest and largest vend amount (as entered at the till), either may be absent."""

    min: Decimal | None = None
    max: Decimal | None = None


@dataclass(frozen=True)
class PriceSegment:
    """One piece of the kWh → price curve in force at an instant: ``[lower, upper)`` kWh.

    ``kind`` and ``label`` become the receipt line of the energy bought in this segment.
    """

    lower: Decimal
    upper: Decimal | None
    price: Decimal
    kind: str
    label: str


@dataclass(frozen=True)
class Tariff:
    """One version of a tariff, valid from ``effective_from`` (local midnight in ``timezone``)."""

    code: str
    currency: str
    minor_unit: int
    timezone: str
    effective_from: date
    energy: Energy
    tax: Tax | None = None
    fixed_charges: tuple[FixedCharge, ...] = ()
    free_basic: FreeBasic | None = None
    debt_recovery: DebtRecovery | None = None
    vend_limits: VendLimits | None = None
    name: str | None = None

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def version(self) -> str:
        """The version named on receipts: the ISO effective date."""
        return self.effective_from.isoformat()

    @property
    def effective_at(self) -> datetime:
        """The UTC instant from which this version is in force."""
        return local_midnight(self.effective_from, self.zone)

    def local(self, at: datetime) -> datetime:
        require_aware(at)
        return at.astimezone(self.zone)

    def block_period_key(self, at: datetime) -> str | None:
        """Key of the block counter's period at ``at`` (``None`` without blocks)."""
        if self.energy.blocks is None:
            require_aware(at)
            return None
        return period_key(self.energy.blocks.period, at, self.zone)

    def fbe_period_key(self, at: datetime) -> str | None:
        if self.free_basic is None:
            require_aware(at)
            return None
        return period_key(self.free_basic.period, at, self.zone)

    def charge_period_key(self, name: str, at: datetime) -> str | None:
        """``"Service fee@2026-02"``: what the caller records once the charge is collected.

        ``None`` for a per-vend charge, which is collected on every vend.
        """
        for charge in self.fixed_charges:
            if charge.name == name:
                if charge.period == "vend":
                    require_aware(at)
                    return None
                return f"{name}@{period_key(charge.period, at, self.zone)}"
        raise KeyError(f"tariff {self.code} has no fixed charge named {name!r}")

    def tou_period_at(self, at: datetime) -> TouPeriod | None:
        if self.energy.time_of_use is None:
            require_aware(at)
            return None
        return self.energy.time_of_use.period_at(at, self.zone)

    def energy_curve(self, at: datetime) -> tuple[PriceSegment, ...]:
        """The kWh → price curve in force at ``at``, from 0 kWh bought in the period."""
        energy = self.energy
        tou = self.tou_period_at(at)
        if energy.flat is not None:
            return (PriceSegment(Decimal(0), None, energy.flat, "energy_flat", "Energy"),)
        if energy.blocks is None:
            assert tou is not None
            label = f"Energy ({tou.name})"
            return (PriceSegment(Decimal(0), None, tou.price, "energy_tou", label),)
        segments = []
        lower = Decimal(0)
        for number, step in enumerate(energy.blocks.steps, start=1):
            span = f"{lower}-{step.up_to_kwh} kWh" if step.up_to_kwh else f"over {lower} kWh"
            label = f"Block {number} ({span})"
            price = step.price
            if tou is not None:
                label = f"{label}, {tou.name}"
                price = tou.price + step.price
            segments.append(PriceSegment(lower, step.up_to_kwh, price, "energy_block", label))
            lower = step.up_to_kwh if step.up_to_kwh is not None else lower
        return tuple(segments)

    def rate_at(self, at: datetime, bought_kwh: Decimal = Decimal(0)) -> Decimal:
        """Energy price (net of tax) in force at ``at`` for the next kWh after ``bought_kwh``.

        This is the rate a currency meter is given with a SetTariffRate token.
        """
        for segment in self.energy_curve(at):
            if segment.upper is None or bought_kwh < segment.upper:
                return segment.price
        raise AssertionError("the last segment is unbounded")  # the parser guarantees it


# --------------------------------------------------------------------------- parsing


class _Problems:
    """Collects problems with their JSON paths instead of stopping at the first."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.missing: set[str] = set()

    def add(self, path: str, message: str) -> None:
        if path not in self.missing:  # "is required" says it all for an absent field
            self.items.append(f"{path}: {message}")

    def object(self, value: Any, path: str, allowed: set[str], required: set[str]) -> bool:
        if not isinstance(value, Mapping):
            self.add(path, f"must be a JSON object, got {_json_type(value)}")
            return False
        for key in value:
            if key not in allowed:
                self.add(f"{path}.{key}", "unknown field")
        for key in sorted(required - set(value)):
            self.add(f"{path}.{key}", "is required")
            self.missing.add(f"{path}.{key}")
        return True

    def decimal(
        self,
        value: Any,
        path: str,
        *,
        max_places: int,
        positive: bool = False,
        at_most: Decimal | None = None,
    ) -> Decimal | None:
        if not isinstance(value, str):
            self.add(path, f'must be a decimal string such as "12.50", got {_json_type(value)}')
            return None
        if not _DECIMAL_RE.match(value):
            self.add(path, f"{value!r} is not a non-negative decimal string (digits, one '.')")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the regex only lets decimals through
            self.add(path, f"{value!r} is not a decimal")
            return None
        ok = True
        if places(number) > max_places:
            self.add(path, f"{value!r} has more than {max_places} decimal places")
            ok = False
        if positive and number <= 0:
            self.add(path, f"{value!r} must be greater than zero")
            ok = False
        if at_most is not None and number > at_most:
            self.add(path, f"{value!r} must be at most {at_most}")
            ok = False
        return number if ok else None

    def string(
        self, value: Any, path: str, pattern: re.Pattern[str] | None = None, form: str = ""
    ) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"must be a non-empty string, got {_json_type(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.add(path, f"{value!r} is not {form}")
            return None
        return value

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str | None:
        if value not in choices or not isinstance(value, str):
            self.add(path, f"must be one of {', '.join(choices)}, got {value!r}")
            return None
        return value

    def iso_date(self, value: Any, path: str) -> date | None:
        if not isinstance(value, str) or not _DATE_RE.match(value):
            self.add(path, f"must be an ISO date string YYYY-MM-DD, got {value!r}")
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.add(path, f"{value!r} is not a calendar date")
            return None

    def array(self, value: Any, path: str, *, non_empty: bool = True) -> list[Any] | None:
        if not isinstance(value, list):
            self.add(path, f"must be a JSON array, got {_json_type(value)}")
            return None
        if non_empty and not value:
            self.add(path, "must not be empty")
            return None
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a JSON number ({value!r})"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


_TOP_FIELDS = {
    "code", "name", "currency", "minor_unit", "timezone", "effective_from", "tax", "energy",
    "fixed_charges", "free_basic_kwh", "debt_recovery", "vend_limits",
}


def parse_tariff(document: Any) -> Tariff:
    """Parse and validate a tariff document (the JSON object of ``docs/tariffs.md``).

    Raises :class:`TariffError` whose ``problems`` lists every problem, each with its JSON path.
    """
    p = _Problems()
    if not p.object(document, "$", _TOP_FIELDS, {"code", "currency", "effective_from", "energy"}):
        raise TariffError(p.items)
    doc: Mapping[str, Any] = document

    code = (
        p.string(doc["code"], "$.code", _CODE_RE,
                 "a code of letters, digits, '_', '.', '-' (at most 32)")
        if "code" in doc else None
    )
    name = p.string(doc["name"], "$.name") if "name" in doc else None
    currency = (
        p.string(doc["currency"], "$.currency", _CURRENCY_RE, "an ISO 4217 code such as ZAR")
        if "currency" in doc else None
    )
    minor_unit = _parse_minor_unit(p, doc, currency)
    money_places = minor_unit if minor_unit is not None else 0
    timezone = _parse_timezone(p, doc.get("timezone", "UTC"))
    effective_from = (
        p.iso_date(doc["effective_from"], "$.effective_from") if "effective_from" in doc else None
    )
    tax = _parse_tax(p, doc["tax"]) if "tax" in doc else None
    energy = _parse_energy(p, doc["energy"]) if "energy" in doc else None
    charges = _parse_charges(p, doc.get("fixed_charges", []), money_places)
    free_basic = _parse_free_basic(p, doc["free_basic_kwh"]) if "free_basic_kwh" in doc else None
    debt = _parse_debt(p, doc["debt_recovery"]) if "debt_recovery" in doc else None
    limits = _parse_limits(p, doc["vend_limits"], money_places) if "vend_limits" in doc else None

    if p.items:
        raise TariffError(p.items)
    assert code and currency and minor_unit is not None and timezone and effective_from
    assert energy is not None
    return Tariff(
        code=code, currency=currency, minor_unit=minor_unit, timezone=timezone,
        effective_from=effective_from, energy=energy, tax=tax, fixed_charges=charges,
        free_basic=free_basic, debt_recovery=debt, vend_limits=limits, name=name,
    )


def _parse_minor_unit(p: _Problems, doc: Mapping[str, Any], currency: str | None) -> int | None:
    if "minor_unit" in doc:
        value = doc["minor_unit"]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 4:
            p.add("$.minor_unit", f"must be an integer from 0 to 4, got {_json_type(value)}")
            return None
        return value
    if currency is None:
        return None
    if currency not in MINOR_UNITS:
        p.add("$.minor_unit", f"is required: the minor unit of {currency} is not known")
        return None
    return MINOR_UNITS[currency]


def _parse_timezone(p: _Problems, value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        p.add("$.timezone", f"must be an IANA time zone name, got {_json_type(value)}")
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        p.add("$.timezone", f"{value!r} is not a known IANA time zone")
        return None
    return value


def _parse_tax(p: _Problems, value: Any) -> Tax | None:
    if not p.object(value, "$.tax", {"name", "rate", "inclusive"}, {"name", "rate", "inclusive"}):
        return None
    name = p.string(value.get("name"), "$.tax.name") if "name" in value else None
    rate = (
        p.decimal(value["rate"], "$.tax.rate", max_places=6, at_most=Decimal(1))
        if "rate" in value else None
    )
    inclusive = value.get("inclusive")
    if "inclusive" in value and not isinstance(inclusive, bool):
        p.add("$.tax.inclusive", f"must be true or false, got {_json_type(inclusive)}")
        return None
    if name is None or rate is None or inclusive is None:
        return None
    return Tax(name=name, rate=rate, inclusive=inclusive)


def _parse_energy(p: _Problems, value: Any) -> Energy | None:
    path = "$.energy"
    if not p.object(value, path, {"flat", "blocks", "time_of_use"}, set()):
        return None
    kinds = set(value) & {"flat", "blocks", "time_of_use"}
    if not kinds:
        p.add(path, "needs one of flat, blocks, time_of_use (or blocks with time_of_use)")
        return None
    if "flat" in kinds and len(kinds) > 1:
        p.add(path, "flat cannot be combined with blocks or time_of_use")
        return None
    if "flat" in kinds:
        flat = p.decimal(value["flat"], f"{path}.flat", max_places=MAX_PRICE_PLACES,
                         positive=True)
        return Energy(flat=flat) if flat is not None else None
    tou = _parse_tou(p, value["time_of_use"]) if "time_of_use" in value else None
    blocks = (
        _parse_blocks(p, value["blocks"], adders="time_of_use" in value)
        if "blocks" in value else None
    )
    if ("blocks" in value and blocks is None) or ("time_of_use" in value and tou is None):
        return None
    return Energy(blocks=blocks, time_of_use=tou)


def _parse_blocks(p: _Problems, value: Any, *, adders: bool) -> Blocks | None:
    path = "$.energy.blocks"
    if not p.object(value, path, {"period", "steps"}, {"period", "steps"}):
        return None
    period = p.choice(value.get("period"), f"{path}.period", PERIODS) if "period" in value \
        else None
    raw_steps = p.array(value["steps"], f"{path}.steps") if "steps" in value else None
    if raw_steps is None:
        return None
    price_key, other_key = ("adder", "price") if adders else ("price", "adder")
    steps: list[BlockStep] = []
    ok = True
    previous: Decimal | None = Decimal(0)
    for index, raw in enumerate(raw_steps):
        step_path = f"{path}.steps[{index}]"
        if not p.object(raw, step_path, {"up_to_kwh", price_key}, {"up_to_kwh", price_key}):
            if isinstance(raw, Mapping) and other_key in raw:
                p.add(f"{step_path}.{other_key}",
                      f"use {price_key!r}: " + ("with time_of_use the blocks give adders to the "
                                                "TOU price" if adders else
                                                "adders need energy.time_of_use"))
            ok = False
            continue
        last = index == len(raw_steps) - 1
        bound_raw = raw.get("up_to_kwh")
        bound: Decimal | None = None
        if bound_raw is None:
            if not last:
                p.add(f"{step_path}.up_to_kwh", "only the last step may be unbounded (null)")
                ok = False
        else:
            bound = p.decimal(bound_raw, f"{step_path}.up_to_kwh", max_places=1, positive=True)
            if bound is None:
                ok = False
            elif last:
                p.add(f"{step_path}.up_to_kwh", "the last step must be unbounded (null)")
                ok = False
            elif previous is not None and bound <= previous:
                p.add(f"{step_path}.up_to_kwh",
                      f"{bound} must be greater than the previous bound {previous}")
                ok = False
        previous = bound
        price = p.decimal(raw.get(price_key), f"{step_path}.{price_key}",
                          max_places=MAX_PRICE_PLACES, positive=not adders)
        if price is None:
            ok = False
            continue
        steps.append(BlockStep(up_to_kwh=bound, price=price))
    if not ok or period is None:
        return None
    return Blocks(period=period, steps=tuple(steps), adders=adders)


def _parse_tou(p: _Problems, value: Any) -> TouCalendar | None:
    path = "$.energy.time_of_use"
    if not p.object(value, path, {"periods", "calendar"}, {"periods", "calendar"}):
        return None
    periods: list[TouPeriod] = []
    ok = True
    raw_periods = p.array(value["periods"], f"{path}.periods") if "periods" in value else None
    if raw_periods is None:
        ok = False
    for index, raw in enumerate(raw_periods or []):
        period_path = f"{path}.periods[{index}]"
        if not p.object(raw, period_path, {"name", "price"}, {"name", "price"}):
            ok = False
            continue
        name = p.string(raw.get("name"), f"{period_path}.name")
        price = p.decimal(raw.get("price"), f"{period_path}.price",
                          max_places=MAX_PRICE_PLACES, positive=True)
        if name is not None and any(existing.name == name for existing in periods):
            p.add(f"{period_path}.name", f"duplicate period name {name!r}")
            ok = False
        elif name is not None and price is not None:
            periods.append(TouPeriod(name=name, price=price))
        else:
            ok = False
    names = {period.name for period in periods}

    calendar_path = f"{path}.calendar"
    calendar = value.get("calendar")
    if "calendar" not in value or not p.object(
        calendar, calendar_path, {"seasons", "holidays"}, {"seasons"}
    ):
        return None
    holidays: set[date] = set()
    raw_holidays = p.array(calendar.get("holidays", []), f"{calendar_path}.holidays",
                           non_empty=False)
    for index, raw in enumerate(raw_holidays or []):
        holiday = p.iso_date(raw, f"{calendar_path}.holidays[{index}]")
        if holiday is None:
            ok = False
        elif holiday in holidays:
            p.add(f"{calendar_path}.holidays[{index}]", f"duplicate holiday {raw}")
            ok = False
        else:
            holidays.add(holiday)
    if raw_holidays is None:
        ok = False

    seasons: list[Season] = []
    month_owner: dict[int, str] = {}
    raw_seasons = (
        p.array(calendar["seasons"], f"{calendar_path}.seasons") if "seasons" in calendar
        else None
    )
    if raw_seasons is None:
        return None
    for index, raw in enumerate(raw_seasons):
        season = _parse_season(p, raw, f"{calendar_path}.seasons[{index}]", names, month_owner)
        if season is None:
            ok = False
        else:
            seasons.append(season)
    missing = sorted(set(range(1, 13)) - set(month_owner))
    if missing:
        p.add(f"{calendar_path}.seasons", f"months {missing} are in no season")
        ok = False
    if not ok:
        return None
    return TouCalendar(periods=tuple(periods), seasons=tuple(seasons),
                       holidays=frozenset(holidays))


def _parse_season(
    p: _Problems, raw: Any, path: str, names: set[str], month_owner: dict[int, str]
) -> Season | None:
    if not p.object(raw, path, {"name", "months", "days"}, {"name", "months", "days"}):
        return None
    ok = True
    name = p.string(raw.get("name"), f"{path}.name")
    months: set[int] = set()
    raw_months = p.array(raw.get("months"), f"{path}.months")
    for index, month in enumerate(raw_months or []):
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            p.add(f"{path}.months[{index}]", f"must be a month number 1-12, got "
                  f"{_json_type(month)}")
            ok = False
        elif month in month_owner:
            p.add(f"{path}.months[{index}]",
                  f"month {month} is already in season {month_owner[month]!r}")
            ok = False
        else:
            months.add(month)
            month_owner[month] = name or path
    if raw_months is None:
        ok = False
    days_path = f"{path}.days"
    raw_days = raw.get("days")
    days: list[tuple[str, DaySchedule]] = []
    if p.object(raw_days, days_path, set(DAY_TYPES), set()):
        for day_type, ranges in raw_days.items():
            if day_type not in DAY_TYPES:
                continue  # already reported as an unknown field
            schedule = _parse_day(p, ranges, f"{days_path}.{day_type}", names)
            if schedule is None:
                ok = False
            else:
                days.append((day_type, schedule))
        present = set(raw_days)
        if not present & {"weekday", "all"}:
            p.add(days_path, "needs a weekday (or all) schedule")
            ok = False
        if not present & {"saturday", "weekend", "all"}:
            p.add(days_path, "needs a saturday, weekend or all schedule")
            ok = False
        if not present & {"sunday", "weekend", "all"}:
            p.add(days_path, "needs a sunday, weekend or all schedule")
            ok = False
    else:
        ok = False
    if not ok or name is None:
        return None
    return Season(name=name, months=frozenset(months), days=tuple(days))


def _parse_day(p: _Problems, raw: Any, path: str, names: set[str]) -> DaySchedule | None:
    ranges = p.array(raw, path)
    if ranges is None:
        return None
    parsed: list[TimeRange] = []
    ok = True
    for index, item in enumerate(ranges):
        item_path = f"{path}[{index}]"
        if not p.object(item, item_path, {"from", "to", "period"}, {"from", "to", "period"}):
            ok = False
            continue
        start = _parse_clock(p, item.get("from"), f"{item_path}.from", allow_24=False)
        end = _parse_clock(p, item.get("to"), f"{item_path}.to", allow_24=True)
        period = p.string(item.get("period"), f"{item_path}.period")
        if period is not None and period not in names:
            p.add(f"{item_path}.period", f"{period!r} is not one of the periods")
            period = None
        if start is not None and end is not None and start == end:
            p.add(item_path, "from and to must differ (use 00:00 to 24:00 for the whole day)")
            start = None
        if start is None or end is None or period is None:
            ok = False
            continue
        parsed.append(TimeRange(start=start, end=end, period=period))
    if not ok:
        return None
    schedule = DaySchedule(ranges=tuple(parsed))
    cover = [0] * MINUTES_PER_DAY
    for time_range in parsed:
        if time_range.start < time_range.end:
            minutes = range(time_range.start, time_range.end)
        else:
            minutes = [*range(time_range.start, MINUTES_PER_DAY), *range(time_range.end)]
        for minute in minutes:
            cover[minute] += 1
    gaps = [minute for minute, count in enumerate(cover) if count == 0]
    overlaps = [minute for minute, count in enumerate(cover) if count > 1]
    if gaps:
        p.add(path, f"leaves {len(gaps)} minutes uncovered, the first at {_clock(gaps[0])}")
    if overlaps:
        p.add(path, f"covers {len(overlaps)} minutes twice, the first at {_clock(overlaps[0])}")
    return None if gaps or overlaps else schedule


def _parse_clock(p: _Problems, value: Any, path: str, *, allow_24: bool) -> int | None:
    match = _TIME_RE.match(value) if isinstance(value, str) else None
    if match is None:
        p.add(path, f'must be a local time "HH:MM", got {_json_type(value)}')
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    if (hours, minutes) == (24, 0) and allow_24:
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        p.add(path, f"{value!r} is not a time of day" + (" (24:00 only as 'to')" if hours == 24
                                                         else ""))
        return None
    return hours * 60 + minutes


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_charges(p: _Problems, value: Any, money_places: int) -> tuple[FixedCharge, ...]:
    raw_charges = p.array(value, "$.fixed_charges", non_empty=False)
    charges: list[FixedCharge] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_charges or []):
        path = f"$.fixed_charges[{index}]"
        if not p.object(raw, path, {"name", "amount", "period"}, {"name", "amount", "period"}):
            continue
        name = p.string(raw.get("name"), f"{path}.name")
        if name is not None and "@" in name:
            p.add(f"{path}.name", "must not contain '@' (it separates the collected key)")
            name = None
        if name is not None and name in seen:
            p.add(f"{path}.name", f"duplicate charge name {name!r}")
            name = None
        elif name is not None:
            seen.add(name)
        amount = p.decimal(raw.get("amount"), f"{path}.amount", max_places=money_places,
                           positive=True)
        period = p.choice(raw.get("period"), f"{path}.period", CHARGE_PERIODS)
        if name is not None and amount is not None and period is not None:
            charges.append(FixedCharge(name=name, amount=amount, period=period))
    return tuple(charges)


def _parse_free_basic(p: _Problems, value: Any) -> FreeBasic | None:
    path = "$.free_basic_kwh"
    fields = {"kwh", "period", "eligible"}
    if not p.object(value, path, fields, fields):
        return None
    kwh = p.decimal(value.get("kwh"), f"{path}.kwh", max_places=1, positive=True)
    period = p.choice(value.get("period"), f"{path}.period", PERIODS)
    eligible = p.string(value.get("eligible"), f"{path}.eligible")
    if kwh is None or period is None or eligible is None:
        return None
    return FreeBasic(kwh=kwh, period=period, eligible=eligible)


def _parse_debt(p: _Problems, value: Any) -> DebtRecovery | None:
    if not p.object(value, "$.debt_recovery", {"percent"}, {"percent"}):
        return None
    percent = p.decimal(value.get("percent"), "$.debt_recovery.percent", max_places=6,
                        positive=True, at_most=Decimal(1))
    return DebtRecovery(percent=percent) if percent is not None else None


def _parse_limits(p: _Problems, value: Any, money_places: int) -> VendLimits | None:
    path = "$.vend_limits"
    if not p.object(value, path, {"min", "max"}, set()):
        return None
    def parse(key: str) -> Decimal | None:
        if key not in value:
            return None
        return p.decimal(value[key], f"{path}.{key}", max_places=money_places, positive=True)

    low, high = parse("min"), parse("max")
    if low is not None and high is not None and low > high:
        p.add(path, f"min {low} is greater than max {high}")
        return None
    return VendLimits(min=low, max=high)

