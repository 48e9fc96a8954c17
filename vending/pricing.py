"""The pricing seam: the pure tariff engine of ``vending/tariffs/`` fed from the database.

The engine (docs/tariffs.md) knows nothing of meters or tables: given one tariff version and a
:class:`~vending.tariffs.PurchaseState` it answers a :class:`~vending.tariffs.Quote`. This module
is the only place that turns database rows into that state and a committed quote back into
rows, so the vend services (vend, trial vend, reversal, FBE on request) all see the same rules:

* :func:`tariff_for` picks the version in force at the vend instant in the *tariff's* time zone
  (a version starting at local midnight in Johannesburg is in force at 22:00 UTC the day
  before, which a comparison with the UTC date would miss).
* :func:`purchase_state` reads the block counter, the charges already collected, the customer's
  debts (locked when pricing a real vend), FBE eligibility and the carry, under the meter's row
  lock that the caller holds.
* :func:`record_vend` writes what the engine says must be remembered; :func:`undo_vend` takes it
  back in a reversal's unit of work.

Nothing here commits: the calling service owns the unit of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from . import tariffs as engine
from .errors import BusinessRuleError, ConflictError, InvalidInputError
from .models import (
    ChargeCollection,
    Customer,
    Debt,
    DebtPayment,
    FbeIssue,
    Meter,
    Tariff,
    Vend,
    VendKind,
    VendPricing,
    VendStatus,
)
from .tariffs.money import quantum

ZERO = Decimal(0)


class TariffRejectedError(InvalidInputError):
    """An invalid tariff document; ``problems`` lists every problem, each with its JSON path,
    so the operator can fix the file in one round trip (400 ``invalid_tariff``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid_tariff", "; ".join(problems) or "invalid tariff document")
        self.problems = list(problems)


def parse_document(document: Any) -> engine.Tariff:
    """The engine's reading of a tariff document, or :class:`TariffRejectedError`."""
    try:
        return engine.parse_tariff(document)
    except engine.TariffError as exc:
        raise TariffRejectedError(exc.problems) from None


@lru_cache(maxsize=256)
def _parse_cached(canonical: str) -> engine.Tariff:
    # Keyed by the document's canonical JSON, not by row id: documents are never edited, and a
    # row id can name another document in another database (tests, restores).
    return engine.parse_tariff(json.loads(canonical))


def parse_row(row: Tariff) -> engine.Tariff:
    """The engine's reading of a stored version (cached: documents are never edited)."""
    try:
        return _parse_cached(json.dumps(row.document, sort_keys=True, separators=(",", ":")))
    except engine.TariffError as exc:
        # Stored documents were validated on load; one that no longer parses (an engine rule
        # tightened since) must stop vending loudly, not be priced by guesswork.
        raise BusinessRuleError(
            "invalid_tariff", f"stored tariff {row.code} version {row.effective_from} is no "
                              f"longer valid: {exc}") from None


def tariff_for(session: Session, code: str, at: datetime) -> engine.Tariff:
    """The version of tariff ``code`` in force at ``at`` (``no_tariff`` if none).

    Only the few newest versions dated up to the day after ``at`` in UTC can be in force: a
    local date is at most one day ahead of the UTC date, and dates of a code are unique."""
    rows = session.scalars(
        select(Tariff)
        .where(Tariff.code == code, Tariff.effective_from <= (at + timedelta(days=1)).date())
        .order_by(Tariff.effective_from.desc())
        .limit(3)
    ).all()
    try:
        return engine.select_version([parse_row(row) for row in rows], at)
    except engine.TariffNotInForce:
        raise BusinessRuleError(
            "no_tariff", f"no version of tariff {code!r} is in force at {at.isoformat()}"
        ) from None


def meter_tariff(session: Session, meter: Meter, at: datetime, *,
                 default_tariff: str) -> engine.Tariff:
    """The tariff version that prices ``meter`` at ``at`` (its own code or the default)."""
    return tariff_for(session, meter.tariff_code or default_tariff, at)


# --------------------------------------------------------------------------- state


def energy_bought(session: Session, meter_id: int, block_period_key: str | None) -> Decimal:
    """The block counter: kWh the engine sold this meter in the block period, whichever
    tariff version priced them; reversed vends do not count, FBE never does."""
    if block_period_key is None:
        return ZERO
    total = session.scalar(
        select(func.sum(VendPricing.energy_kwh))
        .join(Vend, Vend.id == VendPricing.vend_id)
        .where(VendPricing.meter_id == meter_id,
               VendPricing.block_period_key == block_period_key,
               Vend.status == VendStatus.ISSUED)
    )
    return ZERO if total is None else Decimal(total)


def carried_credit(session: Session, meter_id: int) -> Decimal:
    """The remainder of the meter's latest issued credit vend: energy money smaller than
    0.1 kWh that the next vend spends first (what makes split purchases exact)."""
    remainder = session.scalar(
        select(Vend.remainder)
        .where(Vend.meter_id == meter_id, Vend.kind == VendKind.CREDIT,
               Vend.status == VendStatus.ISSUED)
        .order_by(Vend.created_at.desc(), Vend.id.desc())
        .limit(1)
    )
    return ZERO if remainder is None else remainder


def open_debts(session: Session, customer_id: int, *, lock: bool) -> list[Debt]:
    """The customer's debts with a balance, oldest first; ``lock`` holds them ``FOR UPDATE``
    so two meters of one customer vending at once cannot both pay the same balance."""
    stmt = (select(Debt).where(Debt.customer_id == customer_id, Debt.balance > ZERO)
            .order_by(Debt.created_at, Debt.id))
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def fbe_issued(session: Session, meter_id: int, period_key: str | None) -> bool:
    if period_key is None:
        return False
    return session.scalar(
        select(func.count()).select_from(FbeIssue)
        .where(FbeIssue.meter_id == meter_id, FbeIssue.period_key == period_key)
    ) != 0


def fbe_eligible(tariff: engine.Tariff, customer: Customer) -> bool:
    return tariff.free_basic is not None and customer.category == tariff.free_basic.eligible


def purchase_state(session: Session, meter: Meter, tariff: engine.Tariff, at: datetime, *,
                   lock: bool) -> engine.PurchaseState:
    """The engine's view of this meter's period at ``at``. The caller holds the meter's row
    lock for a real vend (``lock=True`` also locks the debts); a trial reads without locks."""
    keys = {tariff.charge_period_key(charge.name, at) for charge in tariff.fixed_charges}
    keys.discard(None)
    collected: frozenset[str] = frozenset()
    if keys:
        collected = frozenset(session.scalars(
            select(ChargeCollection.collected_key)
            .where(ChargeCollection.meter_id == meter.id,
                   ChargeCollection.collected_key.in_(sorted(k for k in keys if k)))
        ))
    debts: tuple[engine.Debt, ...] = ()
    if tariff.debt_recovery is not None:
        # Stored money has 5 places; the engine wants the currency's (a balance never has
        # more, as debts are entered and paid in whole minor units).
        step = quantum(tariff.minor_unit)
        debts = tuple(engine.Debt(str(d.id), d.balance.quantize(step, rounding=ROUND_DOWN))
                      for d in open_debts(session, meter.customer_id, lock=lock))
    return engine.PurchaseState(
        at=at,
        energy_bought_kwh=energy_bought(session, meter.id, tariff.block_period_key(at)),
        charges_collected=collected,
        debts=debts,
        fbe_eligible=fbe_eligible(tariff, meter.customer),
        fbe_issued=fbe_issued(session, meter.id, tariff.fbe_period_key(at)),
        carried_credit=carried_credit(session, meter.id),
    )


# --------------------------------------------------------------------------- quoting


@dataclass(frozen=True, slots=True)
class PricedVend:
    """A quote with the tariff version and state it was computed from."""

    tariff: engine.Tariff
    state: engine.PurchaseState
    quote: engine.Quote

    @property
    def tariff_code(self) -> str:
        return self.quote.tariff_code

    @property
    def tariff_version(self) -> str:
        return self.quote.tariff_version

    @property
    def units_kwh(self) -> Decimal:
        """Energy units sold (0.1 kWh multiples, before the token coding's round-up)."""
        return self.quote.units_kwh

    @property
    def fbe_kwh(self) -> Decimal:
        return self.quote.fbe_kwh

    @property
    def remainder(self) -> Decimal:
        return self.quote.remainder

    @property
    def total(self) -> Decimal:
        """What the customer pays: the amount, plus the tax when the tariff adds it on top."""
        return self.quote.total

    def breakdown(self) -> list[dict[str, Any]]:
        return list(self.quote.to_json()["breakdown"])

    def details(self) -> dict[str, Any]:
        """The whole quote as decimal strings, kept with the vend for reprints and audits."""
        return {"pricing": self.quote.to_json()}


def price_vend(session: Session, meter: Meter, amount: Decimal, at: datetime, *,
               default_tariff: str, lock: bool) -> PricedVend:
    """Price ``amount`` for ``meter`` at ``at``: the version in force, the meter's period so
    far, then the engine. The tariff's refusals become 422 errors with the engine's code."""
    tariff = meter_tariff(session, meter, at, default_tariff=default_tariff)
    state = purchase_state(session, meter, tariff, at, lock=lock)
    try:
        quote = engine.quote_vend(tariff, amount, state)
    except engine.VendLimitError as exc:
        raise BusinessRuleError(exc.code, str(exc)) from None
    except engine.TariffNotInForce as exc:
        raise BusinessRuleError("no_tariff", str(exc)) from None
    return PricedVend(tariff=tariff, state=state, quote=quote)


def vend_limits(session: Session, meter: Meter, at: datetime, *, default_tariff: str,
                low: Decimal, high: Decimal) -> tuple[Decimal, Decimal]:
    """The tighter of the deployment's limits ``low``..``high`` and the tariff's
    ``vend_limits`` (the policy's alone when no tariff is in force)."""
    try:
        tariff = meter_tariff(session, meter, at, default_tariff=default_tariff)
    except BusinessRuleError:
        return low, high
    limits = tariff.vend_limits
    if limits is not None:
        if limits.min is not None:
            low = max(low, limits.min)
        if limits.max is not None:
            high = min(high, limits.max)
    return low, high


# --------------------------------------------------------------------------- recording


def pay_debt(session: Session, debt_id: int, amount: Decimal) -> None:
    """Take ``amount`` off a debt with one guarded ``UPDATE`` (never read-modify-write): if the
    balance no longer covers it, another vend paid it meanwhile and this one must not."""
    done = session.execute(
        update(Debt).where(Debt.id == debt_id, Debt.balance >= amount)
        .values(balance=Debt.balance - amount)
        .execution_options(synchronize_session="fetch")
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("debt_changed", f"debt {debt_id} changed during the vend; retry")


def give_back_debt(session: Session, debt_id: int, amount: Decimal) -> None:
    session.execute(
        update(Debt).where(Debt.id == debt_id).values(balance=Debt.balance + amount)
        .execution_options(synchronize_session="fetch")
    )


def record_vend(session: Session, vend_row: Vend, priced: PricedVend) -> None:
    """Remember what the engine says must be remembered, in the vend's unit of work: the
    block counter and carry, the charges collected (unique per meter and period), the debt
    payments (balances reduced) and the FBE issue (unique per meter and period)."""
    quote = priced.quote
    session.add(VendPricing(
        vend_id=vend_row.id, meter_id=vend_row.meter_id, tariff_code=quote.tariff_code,
        tariff_version=quote.tariff_version, block_period_key=quote.block_period_key,
        energy_kwh=quote.units_kwh, carried_in=quote.carried_in, remainder=quote.remainder,
        amount=quote.amount, total=quote.total, tax=quote.tax, fbe_kwh=quote.fbe_kwh,
    ))
    for charge in quote.charges:
        if charge.collected_key is not None:
            session.add(ChargeCollection(meter_id=vend_row.meter_id,
                                         collected_key=charge.collected_key,
                                         vend_id=vend_row.id, amount=charge.amount))
    for debt_id, amount in quote.debt_payments:
        pay_debt(session, int(debt_id), amount)
        session.add(DebtPayment(vend_id=vend_row.id, debt_id=int(debt_id), amount=amount))
    if quote.fbe_kwh > 0 and quote.fbe_period_key is not None:
        record_fbe(session, vend_row, quote.fbe_period_key, quote.fbe_kwh)
    session.flush()


def record_fbe(session: Session, vend_row: Vend, period_key: str, kwh: Decimal) -> None:
    session.add(FbeIssue(meter_id=vend_row.meter_id, period_key=period_key,
                         vend_id=vend_row.id, kwh=kwh))


def undo_vend(session: Session, vend_row: Vend) -> dict[str, Any]:
    """Take back what :func:`record_vend` recorded for a vend being reversed: the debt payments
    return to their debts (and their rows go), the charges and the FBE may be collected and
    issued again. The ``vend_pricing`` row stays; the vend's status takes it out of the block
    counter and the carry.

    Returns what was undone, for the reversal's audit entry."""
    payments = list(session.scalars(select(DebtPayment).where(DebtPayment.vend_id == vend_row.id)))
    for payment in payments:
        give_back_debt(session, payment.debt_id, payment.amount)
    charges = list(session.scalars(
        select(ChargeCollection.collected_key).where(ChargeCollection.vend_id == vend_row.id)))
    session.execute(delete(DebtPayment).where(DebtPayment.vend_id == vend_row.id))
    session.execute(delete(ChargeCollection).where(ChargeCollection.vend_id == vend_row.id))
    fbe = list(session.scalars(
        select(FbeIssue.period_key).where(FbeIssue.vend_id == vend_row.id)))
    session.execute(delete(FbeIssue).where(FbeIssue.vend_id == vend_row.id))
    session.flush()
    return {"debt_payments": [{"debt_id": p.debt_id, "amount": str(p.amount)}
                              for p in payments],
            "charges": charges, "fbe_periods": fbe}
