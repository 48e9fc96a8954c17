"""Free basic electricity (FBE): a free credit token once per FBE period for customers whose
category the tariff names in ``free_basic_kwh.eligible``.

FBE normally rides along with the first vend of the period as its own ``fbe`` token (see
:func:`vending.services.vends.vend`). :func:`fbe_request` issues it without a purchase (the
XMLVend ``FBEReq``), for the customer who is due it but buys nothing this month. Both record an
:class:`~vending.models.FbeIssue`, unique per (meter, period): the database guarantee that a
period's FBE is issued once, whichever path and however requests race.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import tokens

from .. import pricing
from ..errors import BusinessRuleError, InvalidInputError, NotFoundError
from ..models import Customer, MeterStatus, TokenType, VendKind
from ..security_module import MeterKeyRef, SecurityModule
from ..tariffs import BreakdownLine, fbe_due
from . import audit
from .answers import VendAnswer
from .context import Actor, ServiceContext
from .issuing import Issue, TokenSpec, issue_tokens, replayed, request_hash
from .keystate import lock_meter_state, plan_key, validate_meter_number

CATEGORY_MAX = 32


def fbe_token_spec(kwh: Decimal) -> TokenSpec:
    """A credit token of ``kwh`` free units, typed ``fbe`` on the receipt and in reports."""
    units = tokens.units_from_quantity(kwh)
    try:
        units = tokens.round_up_units(units)
    except tokens.RangeError:
        raise BusinessRuleError("fbe_too_large", f"{kwh} kWh of FBE exceeds one token") from None

    def build(security: SecurityModule, key: MeterKeyRef | None, tid: int | None) -> str:
        assert tid is not None and key is not None
        return security.credit_token(key, tid=tid, units=units)

    return TokenSpec(type=TokenType.FBE, build=build, units=units)


def fbe_request(ctx: ServiceContext, *, meter_number: str, request_id: str,
                actor: Actor) -> VendAnswer:
    """Issue the FBE due to a meter now, without a purchase (idempotent on request_id).

    Refused with ``fbe_not_due`` when the tariff has no FBE, the customer's category is not
    eligible, or this period's FBE was already issued (with a vend or on request)."""
    number = validate_meter_number(meter_number)
    rid = str(request_id or "").strip()
    if not rid or len(rid) > 80:
        raise InvalidInputError("invalid_request_id", "request_id must be 1 to 80 characters")
    body_hash = request_hash({"op": "fbe", "meter_number": number})
    session = ctx.session
    try:
        connection = session.connection()
        meter = lock_meter_state(connection, number)
        if (replay := replayed(session, actor, rid, body_hash)) is not None:
            return replay
        if meter.status is not MeterStatus.ACTIVE:
            raise BusinessRuleError("meter_blocked", f"meter {number} is blocked")
        at = ctx.now()
        tariff = pricing.meter_tariff(connection, meter, at,
                                      default_tariff=ctx.policy.default_tariff)
        state = pricing.purchase_state(connection, meter, tariff, at, lock=True)
        kwh = fbe_due(tariff, state)
        period = tariff.fbe_period_key(at)
        if kwh <= 0 or period is None:
            raise BusinessRuleError(
                "fbe_not_due", f"no free basic electricity is due to meter {number} now")
        plan = plan_key(connection, meter, at)
        line = BreakdownLine("fbe", "Free basic electricity", Decimal(0), kwh=kwh
                             ).to_json(tariff.minor_unit)
        answer = issue_tokens(
            connection, ctx.security, meter, plan, [fbe_token_spec(kwh)],
            Issue(kind=VendKind.FBE, actor=actor, request_id=rid, request_hash=body_hash,
                  amount=Decimal(0), tariff_code=tariff.code, tariff_version=tariff.version,
                  breakdown=[line], details={"fbe": {"kwh": format(kwh, "f"),
                                                     "period": period}}),
            at,
        )
        assert answer.vend_id is not None
        pricing.record_fbe(connection, answer.vend_id, meter.id, period, kwh)
        session.commit()
        return answer
    except IntegrityError:
        session.rollback()
        if (replay := replayed(session, actor, rid, body_hash)) is None:
            raise
        return replay
    finally:
        session.rollback()


def set_customer_category(ctx: ServiceContext, *, account: str, category: str | None,
                          actor: Actor) -> Customer:
    """Set the tariff category of a customer (``None`` or "" clears it); audited, because it
    decides who receives free electricity."""
    value = (category or "").strip() or None
    if value is not None and len(value) > CATEGORY_MAX:
        raise InvalidInputError("invalid_category",
                                f"a category has at most {CATEGORY_MAX} characters")
    session = ctx.session
    try:
        customer = session.scalars(
            select(Customer).where(Customer.account == account).with_for_update()).first()
        if customer is None:
            raise NotFoundError("unknown_customer", f"no customer has account {account!r}")
        before = customer.category
        customer.category = value
        audit.record(session, actor, "customer.category_set", "customer", customer.account,
                     before={"category": before}, after={"category": value})
        session.commit()
        return customer
    finally:
        session.rollback()
