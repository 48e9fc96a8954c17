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
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from . import tariffs as engine
from .errors import BusinessRuleError, ConflictError, InvalidInputError
from .models import (
    ChargeCollection,
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

if TYPE_CHECKING:
    from .services.keystate import MeterState

ZERO = Decimal(0)
_T, _V, _VP = Tariff.__table__, Vend.__table__, VendPricing.__table__
_M = Meter.__table__
_LOCK_METER = select(_M.c.id).where(_M.c.id == bindparam("meter_id")).with_for_update()
_CC, _DEBT, _DP, _FBE = (ChargeCollection.__table__, Debt.__table__, DebtPayment.__table__,
                         FbeIssue.__table__)


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


def parse_row(row: Any) -> engine.Tariff:
    """The engine's reading of a stored version (cached: documents are never edited)."""
    try:
        return _parse_cached(json.dumps(row.document, sort_keys=True, separators=(",", ":")))
    except engine.TariffError as exc:
        # Stored documents were validated on load; one that no longer parses (an engine rule
        # tightened since) must stop vending loudly, not be priced by guesswork.
        raise BusinessRuleError(
            "invalid_tariff", f"stored tariff {row.code} version {row.effective_from} is no "
                              f"longer valid: {exc}") from None


class _VersionCache:
    """Parsed tariff versions by (row id, created_at), per process. Stored documents are never
    edited (an edit is a new version, a new row), so a row's parse never goes stale; the
    creation instant in the key keeps a row id of another database (a test, a restore of
    other data) from ever naming the wrong document. Bounded, least recently used first out."""

    def __init__(self, size: int = 512) -> None:
        self._items: OrderedDict[tuple[int, datetime], engine.Tariff] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[int, datetime]) -> engine.Tariff | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[int, datetime], tariff: engine.Tariff) -> None:
        with self._lock:
            self._items[key] = tariff
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_VERSIONS = _VersionCache()
_CANDIDATES = (select(_T.c.id, _T.c.created_at)
               .where(_T.c.code == bindparam("code"), _T.c.effective_from <= bindparam("until"))
               .order_by(_T.c.effective_from.desc()).limit(3))
_DOCUMENTS = select(_T).where(_T.c.id.in_(bindparam("ids", expanding=True)))


def tariff_for(connection: Connection, code: str, at: datetime, *,
               generation: tuple[int, datetime] | None = None) -> engine.Tariff:
    """The version of tariff ``code`` in force at ``at`` (``no_tariff`` if none).

    Only the few newest versions dated up to the day after ``at`` in UTC can be in force: a
    local date is at most one day ahead of the UTC date, and dates of a code are unique.

    Which rows those are is read from the database or, when the caller knows the tariff
    ``generation`` (the newest tariff row's id and creation instant, read in the same
    transaction), remembered per database connection: versions are only ever added, never
    edited or deleted, so while the generation is unchanged so are the candidates (a version
    loaded a second ago changes the generation and applies at once, in every worker).
    Documents are parsed once per process."""
    until: date = (at + timedelta(days=1)).date()
    remembered: dict[tuple[str, date, tuple[int, datetime]], list[tuple[int, datetime]]] = \
        connection.info.setdefault("stsvend.tariff_candidates", {})
    keys = remembered.get((code, until, generation)) if generation is not None else None
    if keys is None:
        keys = [(row.id, row.created_at)
                for row in connection.execute(_CANDIDATES, {"code": code, "until": until})]
        if generation is not None:
            if len(remembered) > 256:
                remembered.clear()
            remembered[(code, until, generation)] = keys
    versions = {key: _VERSIONS.get(key) for key in keys}
    missing = [key[0] for key, version in versions.items() if version is None]
    if missing:
        for row in connection.execute(_DOCUMENTS, {"ids": missing}):
            key = (row.id, row.created_at)
            versions[key] = parse_row(row)
            _VERSIONS.put(key, versions[key])  # type: ignore[arg-type]
    try:
        return engine.select_version([versions[key] for key in keys], at)  # type: ignore[misc]
    except engine.TariffNotInForce:
        raise BusinessRuleError(
            "no_tariff", f"no version of tariff {code!r} is in force at {at.isoformat()}"
        ) from None


def meter_tariff(connection: Connection, meter: MeterState, at: datetime, *,
                 default_tariff: str) -> engine.Tariff:
    """The tariff version that prices ``meter`` at ``at`` (its own code or the default)."""
    return tariff_for(connection, meter.tariff_code or default_tariff, at,
                      generation=meter.tariff_generation)


# --------------------------------------------------------------------------- state


_ENERGY_BOUGHT = (
    select(func.sum(_VP.c.energy_kwh)).select_from(_VP.join(_V, _V.c.id == _VP.c.vend_id))
    .where(_VP.c.meter_id == bindparam("meter_id"),
           _VP.c.block_period_key == bindparam("period"), _V.c.status == VendStatus.ISSUED))
_CARRIED = (
    select(_V.c.remainder)
    .where(_V.c.meter_id == bindparam("meter_id"), _V.c.kind == VendKind.CREDIT,
           _V.c.status == VendStatus.ISSUED)
    .order_by(_V.c.created_at.desc(), _V.c.id.desc()).limit(1))
_OPEN_DEBTS = (select(_DEBT.c.id, _DEBT.c.balance)
               .where(_DEBT.c.customer_id == bindparam("customer_id"), _DEBT.c.balance > ZERO)
               .order_by(_DEBT.c.created_at, _DEBT.c.id))
_OPEN_DEBTS_LOCKED = _OPEN_DEBTS.with_for_update()
_FBE_ISSUED = (select(func.count()).select_from(_FBE)
               .where(_FBE.c.meter_id == bindparam("meter_id"),
                      _FBE.c.period_key == bindparam("period")))
_COLLECTED = (select(_CC.c.collected_key)
              .where(_CC.c.meter_id == bindparam("meter_id"),
                     _CC.c.collected_key.in_(bindparam("keys", expanding=True))))


def energy_bought(connection: Connection, meter_id: int, block_period_key: str | None) -> Decimal:
    """The block counter: kWh the engine sold this meter in the block period, whichever
    tariff version priced them; reversed vends do not count, FBE never does."""
    if block_period_key is None:
        return ZERO
    total = connection.execute(
        _ENERGY_BOUGHT, {"meter_id": meter_id, "period": block_period_key}).scalar()
    return ZERO if total is None else Decimal(total)


def carried_credit(connection: Connection, meter_id: int) -> Decimal:
    """The remainder of the meter's latest issued credit vend: energy money smaller than
    0.1 kWh that the next vend spends first (what makes split purchases exact). Each credit
    vend keeps it on the meter row (``meters.carried_credit``); this recomputes it from the
    vends, for a reversal."""
    remainder = connection.execute(_CARRIED, {"meter_id": meter_id}).scalar()
    return ZERO if remainder is None else remainder


def open_debts(connection: Connection, customer_id: int, *,
               lock: bool) -> list[tuple[int, Decimal]]:
    """The customer's debts with a balance as (id, balance), oldest first; ``lock`` holds
    them ``FOR UPDATE`` so two meters of one customer vending at once cannot both pay the
    same balance."""
    rows = connection.execute(_OPEN_DEBTS_LOCKED if lock else _OPEN_DEBTS,
                                        {"customer_id": customer_id})
    return [(row.id, row.balance) for row in rows]


def fbe_issued(connection: Connection, meter_id: int, period_key: str | None) -> bool:
    if period_key is None:
        return False
    return connection.execute(
        _FBE_ISSUED, {"meter_id": meter_id, "period": period_key}).scalar() != 0


def fbe_eligible(tariff: engine.Tariff, category: str | None) -> bool:
    """Whether a customer of ``category`` receives the tariff's free basic electricity."""
    return tariff.free_basic is not None and category == tariff.free_basic.eligible


def purchase_state(connection: Connection, meter: MeterState, tariff: engine.Tariff, at: datetime,
                   *, lock: bool) -> engine.PurchaseState:
    """The engine's view of this meter's period at ``at``. The caller holds the meter's row
    lock for a real vend (``lock=True`` also locks the debts); a trial reads without locks.
    Only what the tariff uses is read: a flat tariff costs one query (the carry)."""
    keys = sorted(key for charge in tariff.fixed_charges
                  if (key := tariff.charge_period_key(charge.name, at)))
    collected: frozenset[str] = frozenset()
    if keys:
        collected = frozenset(connection.execute(
            _COLLECTED, {"meter_id": meter.id, "keys": keys}).scalars())
    debts: tuple[engine.Debt, ...] = ()
    if tariff.debt_recovery is not None:
        # Stored money has 5 places; the engine wants the currency's (a balance never has
        # more, as debts are entered and paid in whole minor units).
        step = quantum(tariff.minor_unit)
        debts = tuple(engine.Debt(str(debt_id), balance.quantize(step, rounding=ROUND_DOWN))
                      for debt_id, balance in open_debts(connection, meter.customer_id,
                                                         lock=lock))
    eligible = fbe_eligible(tariff, meter.category)
    return engine.PurchaseState(
        at=at,
        energy_bought_kwh=energy_bought(connection, meter.id, tariff.block_period_key(at)),
        charges_collected=collected,
        debts=debts,
        fbe_eligible=eligible,
        fbe_issued=eligible and fbe_issued(connection, meter.id, tariff.fbe_period_key(at)),
        carried_credit=meter.carried_credit,  # kept on the locked meter row
    )


# --------------------------------------------------------------------------- quoting


@dataclass(frozen=True, slots=True)
class PricedVend:
    """A quote with the tariff version and state it was computed from."""

    tariff: engine.Tariff
    state: engine.PurchaseState
    quote: engine.Quote
    # The quote as decimal strings, made once: the vend stores its breakdown and the whole.
    quote_json: dict[str, Any]

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
        return list(self.quote_json["breakdown"])

    def details(self) -> dict[str, Any]:
        """The whole quote as decimal strings, kept with the vend for reprints and audits."""
        return {"pricing": self.quote_json}


def price_vend(connection: Connection, meter: MeterState, amount: Decimal, at: datetime, *,
               default_tariff: str, lock: bool) -> PricedVend:
    """Price ``amount`` for ``meter`` at ``at``: the version in force, the meter's period so
    far, then the engine. The tariff's refusals become 422 errors with the engine's code."""
    tariff = meter_tariff(connection, meter, at, default_tariff=default_tariff)
    state = purchase_state(connection, meter, tariff, at, lock=lock)
    try:
        quote = engine.quote_vend(tariff, amount, state)
    except engine.VendLimitError as exc:
        raise BusinessRuleError(exc.code, str(exc)) from None
    except engine.TariffNotInForce as exc:
        raise BusinessRuleError("no_tariff", str(exc)) from None
    return PricedVend(tariff=tariff, state=state, quote=quote, quote_json=quote.to_json())


def vend_limits(connection: Connection, meter: MeterState, at: datetime, *, default_tariff: str,
                low: Decimal, high: Decimal) -> tuple[Decimal, Decimal]:
    """The tighter of the deployment's limits ``low``..``high`` and the tariff's
    ``vend_limits`` (the policy's alone when no tariff is in force)."""
    try:
        tariff = meter_tariff(connection, meter, at, default_tariff=default_tariff)
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


_PAY_DEBT = (update(_DEBT)
             .where(_DEBT.c.id == bindparam("debt_id"), _DEBT.c.balance >= bindparam("amount"))
             .values(balance=_DEBT.c.balance - bindparam("amount")))


def pay_debt(connection: Connection, debt_id: int, amount: Decimal) -> None:
    """Take ``amount`` off a debt with one guarded ``UPDATE`` (never read-modify-write): if the
    balance no longer covers it, another vend paid it meanwhile and this one must not."""
    done = connection.execute(_PAY_DEBT, {"debt_id": debt_id, "amount": amount})
    if done.rowcount != 1:
        raise ConflictError("debt_changed", f"debt {debt_id} changed during the vend; retry")


def give_back_debt(session: Session, debt_id: int, amount: Decimal) -> None:
    session.execute(
        update(Debt).where(Debt.id == debt_id).values(balance=Debt.balance + amount)
        .execution_options(synchronize_session="fetch")
    )


_INSERT_COLLECTION, _INSERT_PAYMENT, _INSERT_FBE = insert(_CC), insert(_DP), insert(_FBE)


def pricing_row(priced: PricedVend) -> dict[str, Any]:
    """The ``vend_pricing`` row of a priced vend (without its ids): the block counter and the
    carry. It is written with the vend itself (``Issue.pricing``)."""
    quote = priced.quote
    return {"tariff_code": quote.tariff_code, "tariff_version": quote.tariff_version,
            "block_period_key": quote.block_period_key, "energy_kwh": quote.units_kwh,
            "carried_in": quote.carried_in, "remainder": quote.remainder,
            "amount": quote.amount, "total": quote.total, "tax": quote.tax,
            "fbe_kwh": quote.fbe_kwh}


def record_vend(connection: Connection, vend_id: int, meter_id: int, priced: PricedVend) -> None:
    """Remember the rest of what the engine says must be remembered, in the vend's unit of
    work (the pricing row itself is written with the vend): the charges collected (unique
    per meter and period), the debt payments (balances reduced) and the FBE issue (unique per
    meter and period). A flat tariff writes nothing here."""
    quote = priced.quote
    collections = [{"meter_id": meter_id, "collected_key": charge.collected_key,
                    "vend_id": vend_id, "amount": charge.amount}
                   for charge in quote.charges if charge.collected_key is not None]
    if collections:
        connection.execute(_INSERT_COLLECTION, collections)
    for debt_id, amount in quote.debt_payments:
        pay_debt(connection, int(debt_id), amount)
        connection.execute(_INSERT_PAYMENT, {"vend_id": vend_id, "debt_id": int(debt_id),
                                             "amount": amount})
    if quote.fbe_kwh > 0 and quote.fbe_period_key is not None:
        record_fbe(connection, vend_id, meter_id, quote.fbe_period_key, quote.fbe_kwh)


def record_fbe(connection: Connection, vend_id: int, meter_id: int, period_key: str,
               kwh: Decimal) -> None:
    connection.execute(_INSERT_FBE, {"meter_id": meter_id, "period_key": period_key,
                                               "vend_id": vend_id, "kwh": kwh})


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
    session.flush()  # the reversed status first: the carry is recomputed without this vend
    # Lock the meter row before reading the vends, as a vend does: a vend committing
    # meanwhile on this meter is then seen, and its carry is not overwritten with an old one.
    connection = session.connection()
    connection.execute(_LOCK_METER, {"meter_id": vend_row.meter_id}).scalar_one()
    connection.execute(update(_M).where(_M.c.id == vend_row.meter_id),
                       {"carried_credit": carried_credit(connection, vend_row.meter_id)})
    return {"debt_payments": [{"debt_id": p.debt_id, "amount": str(p.amount)}
                              for p in payments],
            "charges": charges, "fbe_periods": fbe}
