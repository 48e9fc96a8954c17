"""Customer details kept by the back office: name, address, phone and e-mail, edited one
customer at a time with the change in the audit log. The account number is the customer's
identity (meters and the CSV import refer to it) and is not edited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..errors import InvalidInputError, NotFoundError
from ..models import Customer, Meter
from . import audit
from .context import Actor, ServiceContext


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    account: str
    name: str
    address: str
    phone: str
    email: str
    meter_numbers: tuple[str, ...]


def _customer(ctx: ServiceContext, account: str) -> Customer:
    customer = ctx.session.scalars(select(Customer).where(Customer.account == account)).first()
    if customer is None:
        raise NotFoundError("unknown_customer", f"customer {account} does not exist")
    return customer


def get_customer(ctx: ServiceContext, account: str) -> CustomerDetails:
    try:
        c = _customer(ctx, account)
        numbers = ctx.session.scalars(select(Meter.meter_number).where(
            Meter.customer_id == c.id).order_by(Meter.meter_number)).all()
        return CustomerDetails(account=c.account, name=c.name, address=c.address,
                               phone=c.phone or "", email=c.email or "",
                               meter_numbers=tuple(numbers))
    finally:
        ctx.session.rollback()


def update_customer(ctx: ServiceContext, account: str, *, name: str, address: str, phone: str,
                    email: str, actor: Actor) -> None:
    """Replace the editable details (limits as the CSV import: name 1-200, address <= 400)."""
    name, address, phone, email = (v.strip() for v in (name, address, phone, email))
    if not name or len(name) > 200:
        raise InvalidInputError("invalid_name", "the name needs 1 to 200 characters")
    if len(address) > 400 or len(phone) > 32 or len(email) > 254:
        raise InvalidInputError("invalid_customer", "address, phone or e-mail is too long")
    if email and "@" not in email:
        raise InvalidInputError("invalid_customer", "the e-mail address needs an @")
    try:
        c = _customer(ctx, account)
        before = {"name": c.name, "address": c.address, "phone": c.phone, "email": c.email}
        c.name, c.address, c.phone, c.email = name, address, phone or None, email or None
        after = {"name": c.name, "address": c.address, "phone": c.phone, "email": c.email}
        if after != before:
            audit.record(ctx.session, actor, "customer.updated", "customer", account,
                         before=before, after=after)
        ctx.session.commit()
    finally:
        ctx.session.rollback()
