"""Customer debts recovered through vends (a tariff's ``debt_recovery``).

A debt is entered by an operator (arrears, a tamper fine, a connection fee paid off over time);
each vend under a tariff with ``debt_recovery`` then pays the configured share of its money
(after tax and fixed charges) to the customer's debts, oldest first (docs/tariffs.md). The
payments are written in the vend's unit of work (:func:`vending.pricing.record_vend`) and given
back if the vend is reversed; this module only opens debts and lists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..errors import InvalidInputError, NotFoundError
from ..models import Customer, Debt
from . import audit
from .answers import decimal_text
from .context import Actor, ServiceContext
from .vends import parse_amount


@dataclass(frozen=True, slots=True)
class DebtInfo:
    id: int
    account: str
    description: str
    original: Decimal
    balance: Decimal
    created_at: datetime
    places: int = 2  # the currency's minor unit, for the wire form

    @classmethod
    def from_row(cls, debt: Debt, account: str, places: int) -> DebtInfo:
        return cls(id=debt.id, account=account, description=debt.description,
                   original=debt.original, balance=debt.balance, created_at=debt.created_at,
                   places=places)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account, "description": self.description,
                "original": decimal_text(self.original, self.places),
                "balance": decimal_text(self.balance, self.places),
                "created_at": self.created_at.isoformat()}


def _customer(ctx: ServiceContext, account: str) -> Customer:
    customer = ctx.session.scalars(select(Customer).where(Customer.account == account)).first()
    if customer is None:
        raise NotFoundError("unknown_customer", f"no customer has account {account!r}")
    return customer


def add_debt(ctx: ServiceContext, *, account: str, amount: object, description: str,
             actor: Actor) -> DebtInfo:
    """Open a debt of ``amount`` on the customer with ``account`` (audited)."""
    value = parse_amount(amount, ctx.policy.currency_decimals)
    text = (description or "").strip()
    if not text or len(text) > 200:
        raise InvalidInputError("invalid_description",
                                "a debt needs a description of 1 to 200 characters")
    session = ctx.session
    try:
        customer = _customer(ctx, account)
        debt = Debt(customer_id=customer.id, description=text, original=value, balance=value,
                    created_by=actor.ref, created_at=ctx.now())
        session.add(debt)
        session.flush()
        audit.record(session, actor, "debt.created", "debt", debt.id,
                     after={"account": account, "amount": str(value), "description": text})
        info = DebtInfo.from_row(debt, account, ctx.policy.currency_decimals)
        session.commit()
        return info
    finally:
        session.rollback()


def customer_debts(ctx: ServiceContext, account: str) -> tuple[DebtInfo, ...]:
    """Every debt of the customer, oldest first, with its current balance (no write)."""
    try:
        customer = _customer(ctx, account)
        rows = ctx.session.scalars(select(Debt).where(Debt.customer_id == customer.id)
                                   .order_by(Debt.created_at, Debt.id))
        return tuple(DebtInfo.from_row(row, account, ctx.policy.currency_decimals)
                     for row in rows)
    finally:
        ctx.session.rollback()
