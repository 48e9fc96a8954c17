"""The pure tariff engine: a payment in, units and an explained breakdown out.

Order of a vend (docs/tariffs.md, "How a vend is priced"): tax, the fixed charges not yet
collected in their period, debt recovery, then energy along the price curve starting at the kWh
already bought in the block period. Energy is converted *exactly*: the units are the whole
tenths of a kWh the money affords at the marginal prices, their cost is the exact sum of
kWh × price, and what is left is the ``remainder``. Passing that remainder back as the next
vend's ``carried_credit`` makes the units bought in a period independent of how the payments
were split (the key property of the issue), because cost along the curve is additive.

Nothing here touches a clock, a database or a float.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal, Inexact, localcontext
from typing import Any

from vending.tariffs.calendar import period_bounds, require_aware
from vending.tariffs.document import PriceSegment, Tariff
from vending.tariffs.errors import TariffNotInForce, VendLimitError
from vending.tariffs.money import (
    UNIT_STEP,
    decimal_str,
    places,
    quantum,
    round_half_up,
)

ZERO = Decimal(0)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Debt:
    """A customer debt with its outstanding balance; the caller passes them oldest first."""

    id: str
    balance: Decimal


@dataclass(frozen=True)
class PurchaseState:
    """What the engine needs to know about the customer's period so far.

    ``energy_bought_kwh`` is the sum of ``units_kwh`` of the vends whose ``block_period_key``
    equals ``tariff.block_period_key(at)`` (free basic electricity is not counted).
    ``charges_collected`` holds the ``collected_key`` of the charges already paid.
    ``carried_credit`` is the previous vend's ``remainder`` (energy money, already taxed), which
    the caller may carry into this vend; doing so is what makes split purchases exact.
    """

    at: datetime
    energy_bought_kwh: Decimal = ZERO
    charges_collected: frozenset[str] = frozenset()
    debts: tuple[Debt, ...] = ()
    fbe_eligible: bool = False
    fbe_issued: bool = False
    carried_credit: Decimal = ZERO


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class BreakdownLine:
    """One receipt line. ``kind`` is one of tax, fixed_charge, debt, carried_credit,
    energy_block, energy_tou, energy_flat, rounding, fbe."""

    kind: str
    label: str
    amount: Decimal
    kwh: Decimal | None = None
    rate: Decimal | None = None

    def to_json(self, minor_unit: int) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "amount": decimal_str(self.amount, minor_unit),
            "kwh": None if self.kwh is None else decimal_str(self.kwh, 1),
            "rate": None if self.rate is None else decimal_str(self.rate),
        }


@dataclass(frozen=True)
class ChargeLine:
    """A fixed charge taken by this vend; record ``collected_key`` when the vend commits."""

    name: str
    amount: Decimal
    collected_key: str | None


@dataclass(frozen=True)
class DebtPayment:
    """Money of this vend applied to one debt. Unpacks as ``(debt_id, amount)``."""

    debt_id: str
    amount: Decimal

    def __iter__(self) -> Iterator[Any]:
        return iter((self.debt_id, self.amount))


@dataclass(frozen=True)
class Quote:
    """The priced vend. Money in balances exactly::

        total + carried_in == tax + Σ charges + Σ debt_payments + energy_amount + remainder

    ``amount`` is what was entered at the till; ``total`` is what the customer pays (they differ
    only for a tax-exclusive tariff, where tax is added on top). ``energy_amount`` and
    ``remainder`` are exact and may be finer than the minor unit (kWh × price); the other money
    is in the currency's minor unit.
    """

    at: datetime
    amount: Decimal
    total: Decimal
    tax: Decimal
    charges: tuple[ChargeLine, ...]
    debt_payments: tuple[DebtPayment, ...]
    carried_in: Decimal
    energy_amount: Decimal
    units_kwh: Decimal
    remainder: Decimal
    fbe_kwh: Decimal
    block_period_key: str | None
    fbe_period_key: str | None
    breakdown: tuple[BreakdownLine, ...]
    tariff_code: str
    tariff_version: str
    currency: str
    minor_unit: int

    @property
    def energy_money(self) -> Decimal:
        """All the money this vend has for energy (``energy_amount + remainder``): what a
        currency meter's credit token would carry, the meter pricing it at ``rate_at``."""
        return self.energy_amount + self.remainder

    @property
    def charges_total(self) -> Decimal:
        return sum((charge.amount for charge in self.charges), ZERO)

    @property
    def debt_total(self) -> Decimal:
        return sum((payment.amount for payment in self.debt_payments), ZERO)

    def to_json(self) -> dict[str, Any]:
        """The quote with every number as a decimal string (never a float)."""
        money = self.minor_unit
        return {
            "at": self.at.isoformat(),
            "tariff_code": self.tariff_code,
            "tariff_version": self.tariff_version,
            "currency": self.currency,
            "amount": decimal_str(self.amount, money),
            "total": decimal_str(self.total, money),
            "tax": decimal_str(self.tax, money),
            "charges": [
                {"name": c.name, "amount": decimal_str(c.amount, money),
                 "collected_key": c.collected_key}
                for c in self.charges
            ],
            "debt_payments": [
                {"debt_id": d.debt_id, "amount": decimal_str(d.amount, money)}
                for d in self.debt_payments
            ],
            "carried_in": decimal_str(self.carried_in, money),
            "energy_amount": decimal_str(self.energy_amount, money),
            "units_kwh": decimal_str(self.units_kwh, 1),
            "remainder": decimal_str(self.remainder, money),
            "fbe_kwh": decimal_str(self.fbe_kwh, 1),
            "block_period_key": self.block_period_key,
            "fbe_period_key": self.fbe_period_key,
            "breakdown": [line.to_json(money) for line in self.breakdown],
        }


@dataclass(frozen=True)
class ConsumptionCost:
    """The cost of metered consumption (dashboards, reminders): exact, and rounded half up."""

    tariff_code: str
    tariff_version: str
    currency: str
    kwh: Decimal
    exact_amount: Decimal
    amount: Decimal
    lines: tuple[BreakdownLine, ...]
    minor_unit: int

    def to_json(self) -> dict[str, Any]:
        return {
            "tariff_code": self.tariff_code,
            "tariff_version": self.tariff_version,
            "currency": self.currency,
            "kwh": decimal_str(self.kwh, 1),
            "exact_amount": decimal_str(self.exact_amount, self.minor_unit),
            "amount": decimal_str(self.amount, self.minor_unit),
            "lines": [line.to_json(self.minor_unit) for line in self.lines],
        }


# --------------------------------------------------------------------------- versions


def select_version(versions: Sequence[Tariff], at: datetime) -> Tariff:
    """The version in force at ``at``: the latest whose local effective midnight has passed."""
    require_aware(at)
    codes = {version.code for version in versions}
    if len(codes) > 1:
        raise ValueError(f"versions of several tariffs given: {sorted(codes)}")
    dates = [version.effective_from for version in versions]
    if len(set(dates)) != len(dates):
        raise ValueError("two versions share an effective_from date")
    in_force = [version for version in versions if version.effective_at <= at]
    if not in_force:
        raise TariffNotInForce([f"no version of the tariff is in force at {at.isoformat()}"])
    return max(in_force, key=lambda version: version.effective_from)


# --------------------------------------------------------------------------- the vend


def fbe_due(tariff: Tariff, state: PurchaseState) -> Decimal:
    """kWh of free basic electricity due now (0 if not eligible or already issued)."""
    require_aware(state.at)
    if tariff.free_basic is None or not state.fbe_eligible or state.fbe_issued:
        return ZERO
    return tariff.free_basic.kwh


def quote_vend(tariff: Tariff, amount: Decimal, state: PurchaseState) -> Quote:
    """Price a vend of ``amount`` (as entered at the till) for a customer in ``state``.

    Pure: the same inputs always give the same quote, and nothing is recorded. Raises
    :class:`VendLimitError` for an amount the tariff refuses, :class:`TariffNotInForce` if
    ``state.at`` is before the version's effective date, ``ValueError`` for an inconsistent
    state.
    """
    _check_state(tariff, state)
    money = tariff.minor_unit
    _check_amount(tariff, amount)
    lines: list[BreakdownLine] = []

    # 1. Tax on the whole vend.
    tax = ZERO
    total, net = amount, amount
    if tariff.tax is not None:
        rate = tariff.tax.rate
        if tariff.tax.inclusive:
            tax = round_half_up(amount * rate / (1 + rate), money)
            net = amount - tax
        else:
            tax = round_half_up(amount * rate, money)
            total = amount + tax
        how = "included" if tariff.tax.inclusive else "added"
        label = f"{tariff.tax.name} {decimal_str((rate * 100).normalize())}% ({how})"
        lines.append(BreakdownLine("tax", label, tax, rate=rate))

    # 2. Fixed charges not yet collected in their period.
    charges: list[ChargeLine] = []
    for charge in tariff.fixed_charges:
        key = tariff.charge_period_key(charge.name, state.at)
        if key is not None and key in state.charges_collected:
            continue
        charges.append(ChargeLine(charge.name, charge.amount, key))
        label = charge.name if key is None else f"{charge.name} ({key.split('@', 1)[1]})"
        lines.append(BreakdownLine("fixed_charge", label, charge.amount))
    charges_total = sum((charge.amount for charge in charges), ZERO)
    if charges_total > net:
        needed = _smallest_amount_covering(tariff, charges_total)
        raise VendLimitError(
            "amount_below_charges",
            f"the amount {amount} does not cover the fixed charges due ({charges_total} net of "
            f"tax); the smallest vend is {needed}",
            limit=needed,
        )
    available = net - charges_total

    # 3. Debt recovery: a share of what is left, oldest debt first, never above the balances.
    payments: list[DebtPayment] = []
    if tariff.debt_recovery is not None and state.debts:
        owed = sum((debt.balance for debt in state.debts if debt.balance > 0), ZERO)
        target = min(round_half_up(available * tariff.debt_recovery.percent, money), owed)
        for debt in state.debts:
            if target <= 0:
                break
            if debt.balance <= 0:
                continue
            paid = min(debt.balance, target)
            target -= paid
            payments.append(DebtPayment(debt.id, paid))
            lines.append(BreakdownLine("debt", f"Debt {debt.id}", paid))
    energy_money = available - sum((payment.amount for payment in payments), ZERO)

    # 4. Energy along the curve, from the kWh already bought in the block period.
    if state.carried_credit > 0:
        lines.append(BreakdownLine("carried_credit", "Credit from previous purchase",
                                   state.carried_credit))
    purchase = _buy(tariff.energy_curve(state.at), state.energy_bought_kwh,
                    energy_money + state.carried_credit)
    lines.extend(purchase.lines)
    lines.append(BreakdownLine("rounding", "Carried to next purchase (below 0.1 kWh)",
                               purchase.remainder))

    # 5. Free basic electricity rides along with the first vend of its period.
    fbe_kwh = fbe_due(tariff, state)
    if fbe_kwh > 0:
        lines.append(BreakdownLine("fbe", "Free basic electricity", ZERO, kwh=fbe_kwh))

    return Quote(
        at=state.at,
        amount=amount,
        total=total,
        tax=tax,
        charges=tuple(charges),
        debt_payments=tuple(payments),
        carried_in=state.carried_credit,
        energy_amount=purchase.cost,
        units_kwh=purchase.units,
        remainder=purchase.remainder,
        fbe_kwh=fbe_kwh,
        block_period_key=tariff.block_period_key(state.at),
        fbe_period_key=tariff.fbe_period_key(state.at),
        breakdown=tuple(lines),
        tariff_code=tariff.code,
        tariff_version=tariff.version,
        currency=tariff.currency,
        minor_unit=money,
    )


def _check_state(tariff: Tariff, state: PurchaseState) -> None:
    require_aware(state.at, "state.at")
    if state.at < tariff.effective_at:
        raise TariffNotInForce([
            f"tariff {tariff.code} version {tariff.version} is not in force at "
            f"{state.at.isoformat()}"
        ])
    for name, value in (("energy_bought_kwh", state.energy_bought_kwh),
                        ("carried_credit", state.carried_credit)):
        if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
            raise ValueError(f"state.{name} must be a non-negative Decimal, got {value!r}")
    if state.energy_bought_kwh % UNIT_STEP != 0:
        raise ValueError("state.energy_bought_kwh must be a multiple of 0.1 kWh (a sum of units)")
    for debt in state.debts:
        if not isinstance(debt.balance, Decimal) or not debt.balance.is_finite():
            raise ValueError(f"debt {debt.id} balance must be a Decimal, got {debt.balance!r}")
        if places(debt.balance) > tariff.minor_unit:
            raise ValueError(f"debt {debt.id} balance {debt.balance} is finer than the minor unit")


def _check_amount(tariff: Tariff, amount: Decimal) -> None:
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, got {type(amount).__name__}")
    if not amount.is_finite() or amount <= 0 or places(amount) > tariff.minor_unit:
        raise VendLimitError(
            "amount_invalid",
            f"the amount {amount} must be positive and in whole {quantum(tariff.minor_unit)} "
            f"{tariff.currency}",
        )
    limits = tariff.vend_limits
    if limits is not None and limits.min is not None and amount < limits.min:
        raise VendLimitError("amount_below_minimum",
                             f"the smallest vend is {limits.min} {tariff.currency}", limits.min)
    if limits is not None and limits.max is not None and amount > limits.max:
        raise VendLimitError("amount_above_maximum",
                             f"the largest vend is {limits.max} {tariff.currency}", limits.max)


def _net_of(tariff: Tariff, amount: Decimal) -> Decimal:
    if tariff.tax is None or not tariff.tax.inclusive:
        return amount
    rate = tariff.tax.rate
    return amount - round_half_up(amount * rate / (1 + rate), tariff.minor_unit)


def _smallest_amount_covering(tariff: Tariff, charges: Decimal) -> Decimal:
    """The smallest till amount whose net of tax covers ``charges`` (for the error message)."""
    step = quantum(tariff.minor_unit)
    rate = tariff.tax.rate if tariff.tax is not None and tariff.tax.inclusive else ZERO
    candidate = (charges * (1 + rate)).quantize(step, rounding=ROUND_DOWN) - step
    candidate = max(candidate, step)
    while _net_of(tariff, candidate) < charges:
        candidate += step
    return candidate


@dataclass(frozen=True)
class _Purchase:
    lines: tuple[BreakdownLine, ...]
    units: Decimal
    cost: Decimal
    remainder: Decimal


def _buy(curve: Sequence[PriceSegment], start_kwh: Decimal, money: Decimal) -> _Purchase:
    """Whole tenths of a kWh that ``money`` buys from ``start_kwh`` on; exact arithmetic.

    The ``Inexact`` trap proves no rounding happens here: products of prices (≤ 6 places) and
    tenths of kWh are exact, and ``//`` is exact integer division.
    """
    lines: list[BreakdownLine] = []
    position, left, units, cost = start_kwh, money, ZERO, ZERO
    with localcontext() as context:
        context.prec = 60
        context.traps[Inexact] = True
        for segment in curve:
            if segment.upper is not None and position >= segment.upper:
                continue
            if left <= 0:
                break
            room = None if segment.upper is None else segment.upper - position
            if room is not None and left >= room * segment.price:
                take, whole = room, True
            else:
                take, whole = Decimal(int((left * 10) // segment.price)).scaleb(-1), False
            spent = take * segment.price
            if take > 0:
                lines.append(BreakdownLine(segment.kind, segment.label, spent, kwh=take,
                                           rate=segment.price))
            position, left, units, cost = position + take, left - spent, units + take, cost + spent
            if not whole:
                break
    return _Purchase(tuple(lines), units.quantize(UNIT_STEP), cost, left)


# --------------------------------------------------------------------------- consumption


def price_consumption(
    tariff: Tariff,
    intervals: Iterable[tuple[datetime, datetime, Decimal]],
    *,
    consumed_before_kwh: Decimal = ZERO,
) -> ConsumptionCost:
    """Cost of metered consumption, for dashboards and low-credit reminders.

    Each interval ``(start, end, kwh)`` (aware, in order, not overlapping) is cut where the
    time-of-use period or the block period changes, its kWh shared between the pieces in
    proportion to their duration; each piece is priced at the period in force and, under
    blocks, along the curve from the kWh already consumed in the block period
    (``consumed_before_kwh`` at the first interval; the counter restarts at each new period).
    """
    if not isinstance(consumed_before_kwh, Decimal) or consumed_before_kwh < 0:
        raise ValueError("consumed_before_kwh must be a non-negative Decimal")
    totals: dict[tuple[str, str, Decimal], list[Decimal]] = {}
    counter_key: str | None = None
    counter = consumed_before_kwh
    first = True
    previous_end: datetime | None = None
    total_kwh = ZERO
    for start, end, kwh in intervals:
        require_aware(start, "interval start")
        require_aware(end, "interval end")
        if end <= start:
            raise ValueError(f"interval ending {end.isoformat()} does not end after its start")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"interval starting {start.isoformat()} overlaps the previous one")
        if not isinstance(kwh, Decimal) or not kwh.is_finite() or kwh < 0:
            raise ValueError(f"interval kWh must be a non-negative Decimal, got {kwh!r}")
        if start < tariff.effective_at:
            raise TariffNotInForce([f"tariff {tariff.code} version {tariff.version} is not in "
                                    f"force at {start.isoformat()}"])
        previous_end = end
        total_kwh += kwh
        for piece_start, piece_end, piece_kwh in _pieces(tariff, start, end, kwh):
            middle = piece_start + (piece_end - piece_start) / 2
            key = tariff.block_period_key(middle)
            if not first and key != counter_key:
                counter = ZERO
            first, counter_key = False, key
            for segment, used in _consume(tariff.energy_curve(middle), counter, piece_kwh):
                slot = totals.setdefault((segment.kind, segment.label, segment.price),
                                         [ZERO, ZERO])
                slot[0] += used
                slot[1] += used * segment.price
            counter += piece_kwh
    lines = tuple(
        BreakdownLine(kind, label, amount, kwh=used, rate=rate)
        for (kind, label, rate), (used, amount) in totals.items()
    )
    exact = sum((line.amount for line in lines), ZERO)
    return ConsumptionCost(
        tariff_code=tariff.code,
        tariff_version=tariff.version,
        currency=tariff.currency,
        kwh=total_kwh,
        exact_amount=exact,
        amount=round_half_up(exact, tariff.minor_unit),
        lines=lines,
        minor_unit=tariff.minor_unit,
    )


_SHARE_QUANTUM = Decimal("0.000001")


def _pieces(
    tariff: Tariff, start: datetime, end: datetime, kwh: Decimal
) -> Iterator[tuple[datetime, datetime, Decimal]]:
    """Cut an interval where the price may change; shares are rounded down to 10⁻⁶ kWh and the
    last piece takes what is left, so the pieces always add up to ``kwh`` exactly."""
    cuts: set[datetime] = set()
    if tariff.energy.time_of_use is not None:
        cuts.update(tariff.energy.time_of_use.cut_points(start, end, tariff.zone))
    if tariff.energy.blocks is not None:
        probe = start
        while True:
            _, period_end = period_bounds(tariff.energy.blocks.period, probe, tariff.zone)
            if period_end >= end:
                break
            cuts.add(period_end)
            probe = period_end
    edges = [start, *sorted(cuts), end]
    whole = (end - start) // timedelta(microseconds=1)
    given = ZERO
    for index, (left, right) in enumerate(itertools.pairwise(edges)):
        if index == len(edges) - 2:
            share = kwh - given
        else:
            part = (right - left) // timedelta(microseconds=1)
            share = (kwh * part / whole).quantize(_SHARE_QUANTUM, rounding=ROUND_DOWN)
        given += share
        yield left, right, share


def _consume(
    curve: Sequence[PriceSegment], start_kwh: Decimal, kwh: Decimal
) -> Iterator[tuple[PriceSegment, Decimal]]:
    """Spread ``kwh`` consumed from ``start_kwh`` on over the segments of the curve."""
    position, left = start_kwh, kwh
    for segment in curve:
        if left <= 0:
            return
        if segment.upper is not None and position >= segment.upper:
            continue
        used = left if segment.upper is None else min(left, segment.upper - position)
        yield segment, used
        position, left = position + used, left - used

