"""Till shifts: open with a float, sell within the shift, close with a cash-up.

A POS sale goes through :func:`sell`, which calls the core :func:`vends.vend` and, inside the
vend's own transaction (its ``on_issue`` hook), checks the shift is still open and writes the
shift and payment type on the vend (``Vend.details``). A sale is therefore counted to its shift
exactly when it is issued. The cash-up sums those vends: reversed ones are listed apart and
not expected in the drawer (the core's reversal marks the vend; a token cannot be recalled).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import BusinessRuleError, ConflictError, InvalidInputError, NotFoundError
from ..models import Shift, ShiftStatus, Vend, VendKind, VendStatus
from . import audit
from .answers import VendAnswer, decimal_text
from .context import Actor, ServiceContext
from .vends import parse_amount, vend

PAYMENT_TYPES = ("cash", "card", "mobile")


@dataclass(frozen=True, slots=True)
class ShiftInfo:
    id: int
    user_id: int
    username: str
    status: str
    opening_float: Decimal
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, shift: Shift) -> ShiftInfo:
        return cls(id=shift.id, user_id=shift.user_id, username=shift.user.username,
                   status=shift.status.value, opening_float=shift.opening_float,
                   opened_at=shift.opened_at, closed_at=shift.closed_at)


@dataclass(frozen=True, slots=True)
class PaymentTotals:
    """Sales of one payment type in a shift."""

    payment_type: str
    sales: int = 0
    amount: Decimal = Decimal(0)
    reversals: int = 0
    reversed_amount: Decimal = Decimal(0)

    @property
    def net(self) -> Decimal:
        return self.amount - self.reversed_amount


@dataclass(frozen=True, slots=True)
class ShiftVend:
    vend_id: int
    receipt_no: int
    created_at: datetime
    meter_number: str
    amount: Decimal
    payment_type: str
    status: str
    reversal_reason: str | None


@dataclass(frozen=True, slots=True)
class CashUp:
    """The cash-up of a shift: what should be in the drawer, by payment type."""

    shift: ShiftInfo
    totals: tuple[PaymentTotals, ...]
    vends: tuple[ShiftVend, ...]
    counted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def sales(self) -> int:
        return sum(t.sales for t in self.totals)

    @property
    def reversals(self) -> int:
        return sum(t.reversals for t in self.totals)

    def expected(self, payment_type: str) -> Decimal:
        """Expected takings of ``payment_type``; cash includes the opening float."""
        net = next((t.net for t in self.totals if t.payment_type == payment_type), Decimal(0))
        return net + (self.shift.opening_float if payment_type == "cash" else Decimal(0))

    def difference(self, payment_type: str) -> Decimal | None:
        """Counted minus expected (negative: short), None before the count."""
        if payment_type not in self.counted:
            return None
        return self.counted[payment_type] - self.expected(payment_type)

    def as_json(self) -> dict[str, Any]:
        return {
            "shift_id": self.shift.id, "user": self.shift.username,
            "opened_at": self.shift.opened_at.isoformat(),
            "closed_at": self.shift.closed_at.isoformat() if self.shift.closed_at else None,
            "opening_float": decimal_text(self.shift.opening_float, 2),
            "payment_types": [
                {"payment_type": t.payment_type, "sales": t.sales,
                 "amount": decimal_text(t.amount, 2), "reversals": t.reversals,
                 "reversed_amount": decimal_text(t.reversed_amount, 2),
                 "expected": decimal_text(self.expected(t.payment_type), 2),
                 "counted": (decimal_text(self.counted[t.payment_type], 2)
                             if t.payment_type in self.counted else None)}
                for t in self.totals],
            "sales": self.sales, "reversals": self.reversals,
        }

    def csv_text(self) -> str:
        """The cash-up as CSV (summary lines, then one line per vend) for the back office."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["shift", self.shift.id, "user", self.shift.username])
        w.writerow(["opened_at", self.shift.opened_at.isoformat(), "closed_at",
                    self.shift.closed_at.isoformat() if self.shift.closed_at else ""])
        w.writerow(["opening_float", decimal_text(self.shift.opening_float, 2)])
        w.writerow(["payment_type", "sales", "amount", "reversals", "reversed_amount",
                    "expected", "counted", "difference"])
        for t in self.totals:
            diff = self.difference(t.payment_type)
            w.writerow([t.payment_type, t.sales, decimal_text(t.amount, 2), t.reversals,
                        decimal_text(t.reversed_amount, 2),
                        decimal_text(self.expected(t.payment_type), 2),
                        decimal_text(self.counted[t.payment_type], 2)
                        if t.payment_type in self.counted else "",
                        "" if diff is None else decimal_text(diff, 2)])
        w.writerow([])
        w.writerow(["vend_id", "receipt_no", "created_at", "meter_number", "amount",
                    "payment_type", "status", "reversal_reason"])
        for v in self.vends:
            w.writerow([v.vend_id, v.receipt_no, v.created_at.isoformat(), v.meter_number,
                        decimal_text(v.amount, 2), v.payment_type, v.status,
                        v.reversal_reason or ""])
        return out.getvalue()


def _shift(session: Session, shift_id: int, *, lock: bool = False) -> Shift:
    stmt = select(Shift).where(Shift.id == shift_id)
    if lock:
        stmt = stmt.with_for_update()
    shift = session.scalars(stmt).first()
    if shift is None:
        raise NotFoundError("unknown_shift", f"shift {shift_id} does not exist")
    return shift


def current_shift(ctx: ServiceContext, user_id: int) -> ShiftInfo | None:
    """The user's open shift, if any (no write)."""
    try:
        shift = ctx.session.scalars(select(Shift).where(
            Shift.user_id == user_id, Shift.status == ShiftStatus.OPEN)).first()
        return ShiftInfo.of(shift) if shift else None
    finally:
        ctx.session.rollback()


def open_shift(ctx: ServiceContext, user_id: int, opening_float: object, *,
               actor: Actor) -> ShiftInfo:
    """Open a shift with a cash float (zero allowed). One open shift per user: the partial
    unique index refuses a second even when two requests race."""
    text = str(opening_float).strip()
    amount = Decimal(0) if text in ("0", "0.0", "0.00") else parse_amount(
        text, ctx.policy.currency_decimals)
    session = ctx.session
    try:
        if session.scalars(select(Shift.id).where(Shift.user_id == user_id,
                                                  Shift.status == ShiftStatus.OPEN)).first():
            raise ConflictError("shift_open", "you already have an open shift")
        shift = Shift(user_id=user_id, status=ShiftStatus.OPEN, opening_float=amount,
                      opened_at=ctx.now())
        session.add(shift)
        session.flush()
        audit.record(session, actor, "shift.opened", "shift", shift.id,
                     after={"opening_float": decimal_text(amount, 2)})
        info = ShiftInfo.of(shift)
        session.commit()
        return info
    except IntegrityError:
        raise ConflictError("shift_open", "you already have an open shift") from None
    finally:
        session.rollback()


def sell(
    ctx: ServiceContext, *, shift_id: int, meter_number: str, amount: object,
    payment_type: str, request_id: str, actor: Actor,
) -> VendAnswer:
    """A POS credit sale counted to ``shift_id`` (see the module doc)."""
    if payment_type not in PAYMENT_TYPES:
        raise InvalidInputError("invalid_payment_type",
                                f"payment type is one of {', '.join(PAYMENT_TYPES)}")

    def count_to_shift(session: Session, answer: VendAnswer) -> None:
        shift = _shift(session, shift_id, lock=True)
        if shift.status is not ShiftStatus.OPEN or shift.user.username != actor.name:
            raise BusinessRuleError("shift_closed", "open a shift before selling")
        vends = Vend.__table__
        session.connection().execute(
            update(vends).where(vends.c.id == answer.vend_id),
            {"details": {**answer.details, "shift_id": shift_id,
                         "payment_type": payment_type}})

    return vend(ctx, meter_number=meter_number, amount=amount, request_id=request_id,
                actor=actor, on_issue=count_to_shift)


def _shift_vends(session: Session, shift: Shift) -> list[Vend]:
    """Vends counted to ``shift``: by its user, since it opened, carrying its id."""
    candidates = session.scalars(
        select(Vend).where(Vend.actor == f"user:{shift.user.username}",
                           Vend.kind == VendKind.CREDIT, Vend.created_at >= shift.opened_at)
        .order_by(Vend.id)
    ).all()
    return [v for v in candidates if (v.details or {}).get("shift_id") == shift.id]


def _cash_up(session: Session, shift: Shift) -> CashUp:
    totals: dict[str, dict[str, Any]] = {
        p: {"sales": 0, "amount": Decimal(0), "reversals": 0, "reversed_amount": Decimal(0)}
        for p in PAYMENT_TYPES}
    rows: list[ShiftVend] = []
    for v in _shift_vends(session, shift):
        ptype = str(v.details.get("payment_type", "cash"))
        bucket = totals.setdefault(ptype, {"sales": 0, "amount": Decimal(0), "reversals": 0,
                                           "reversed_amount": Decimal(0)})
        bucket["sales"] += 1
        bucket["amount"] += v.amount
        if v.status is VendStatus.REVERSED:
            bucket["reversals"] += 1
            bucket["reversed_amount"] += v.amount
        rows.append(ShiftVend(vend_id=v.id, receipt_no=v.receipt_no, created_at=v.created_at,
                              meter_number=v.meter.meter_number, amount=v.amount,
                              payment_type=ptype, status=v.status.value,
                              reversal_reason=v.reversal_reason))
    counted = {k: Decimal(val) for k, val in (shift.counted or {}).items()}
    return CashUp(shift=ShiftInfo.of(shift),
                  totals=tuple(PaymentTotals(payment_type=p, **t) for p, t in totals.items()),
                  vends=tuple(rows), counted=counted)


def cash_up(ctx: ServiceContext, shift_id: int) -> CashUp:
    """The cash-up of a shift, open (running totals) or closed (no write)."""
    try:
        return _cash_up(ctx.session, _shift(ctx.session, shift_id))
    finally:
        ctx.session.rollback()


def close_shift(ctx: ServiceContext, shift_id: int, counted: Mapping[str, object], *,
                actor: Actor) -> CashUp:
    """Close a shift with the amounts counted per payment type; freezes the report."""
    values: dict[str, Decimal] = {}
    for ptype in PAYMENT_TYPES:
        text = str(counted.get(ptype, "") or "0").strip()
        try:
            value = Decimal(text)
        except ArithmeticError:
            raise InvalidInputError("invalid_amount", f"counted {ptype}: {text!r}") from None
        if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
            raise InvalidInputError("invalid_amount", f"counted {ptype}: {text!r}")
        values[ptype] = value
    session = ctx.session
    try:
        shift = _shift(session, shift_id, lock=True)
        if shift.status is not ShiftStatus.OPEN:
            raise BusinessRuleError("shift_closed", f"shift {shift_id} is already closed")
        shift.status = ShiftStatus.CLOSED
        shift.closed_at = ctx.now()
        shift.counted = {k: decimal_text(v, 2) for k, v in values.items()}
        report = _cash_up(session, shift)
        shift.report = report.as_json()
        audit.record(session, actor, "shift.closed", "shift", shift.id, after=shift.report)
        session.commit()
        return report
    finally:
        session.rollback()


def recent_shifts(ctx: ServiceContext, *, user_id: int | None = None,
                  limit: int = 50) -> list[ShiftInfo]:
    try:
        stmt = select(Shift).order_by(Shift.id.desc()).limit(limit)
        if user_id is not None:
            stmt = stmt.where(Shift.user_id == user_id)
        return [ShiftInfo.of(s) for s in ctx.session.scalars(stmt)]
    finally:
        ctx.session.rollback()
