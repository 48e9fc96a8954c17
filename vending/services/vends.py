"""Credit vends: confirm, trial, vend, reprint, last-response lookup, reversal.

Each public function is one unit of work with one commit (or none, for reads). ``vend`` is
idempotent on (client, request_id): the same request again returns the first vend; another
body under the same id raises :class:`ConflictError`. Two identical requests racing each
other end the same way: the loser of the unique-constraint race rolls back and returns the
winner's vend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import tokens

from .. import pricing
from ..errors import BusinessRuleError, InvalidInputError, NotFoundError
from ..models import MeterStatus, TokenType, Vend, VendKind, VendStatus
from ..security_module import MeterKeyRef, SecurityModule
from . import audit
from .answers import MeterConfirmation, VendAnswer
from .context import Actor, ServiceContext
from .fbe import fbe_token_spec
from .issuing import (
    Issue,
    TokenSpec,
    find_request,
    issue_tokens,
    replayed,
    request_hash,
    validate_request_id,
)
from .keystate import find_meter_state, lock_meter_state, plan_key, validate_meter_number

log = logging.getLogger(__name__)


def parse_amount(value: object, decimals: int = 2) -> Decimal:
    """A positive money amount with at most ``decimals`` places. Floats are refused: money
    arrives as a decimal string (or a Decimal)."""
    if isinstance(value, float | bool):
        raise InvalidInputError("invalid_amount", "amount must be a decimal string, not a float")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInputError("invalid_amount", f"amount {value!r} is not a number") from None
    if not amount.is_finite() or amount <= 0:
        raise InvalidInputError("invalid_amount", "amount must be a positive number")
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)):
        raise InvalidInputError("invalid_amount", f"amount has more than {decimals} decimals")
    return amount


def _check_limits(ctx: ServiceContext, amount: Decimal) -> None:
    low, high = ctx.policy.min_amount, ctx.policy.max_amount
    if not low <= amount <= high:
        raise BusinessRuleError("amount_out_of_limits",
                                f"amount must be between {low} and {high}")


def confirm_meter(ctx: ServiceContext, meter_number: str) -> MeterConfirmation:
    """Customer and vend configuration for a meter (no write)."""
    number = validate_meter_number(meter_number)
    session = ctx.session
    try:
        connection = session.connection()
        meter = find_meter_state(connection, number)
        low, high = pricing.vend_limits(connection, meter, ctx.now(),
                                        default_tariff=ctx.policy.default_tariff,
                                        low=ctx.policy.min_amount, high=ctx.policy.max_amount)
        try:
            plan = plan_key(connection, meter, ctx.now())
            due, reasons, keys_ok = plan.due, plan.reasons, True
        except BusinessRuleError as exc:
            due, reasons, keys_ok = True, (exc.code,), False
        return MeterConfirmation(
            meter_number=meter.meter_number, customer_name=meter.customer_name,
            address=meter.address, account=meter.account,
            status=meter.status.value,
            can_vend=meter.status is MeterStatus.ACTIVE and keys_ok,
            min_amount=low, max_amount=high,
            key_change_due=due, key_change_reasons=tuple(reasons), sgc=meter.sgc,
            krn=meter.krn, ti=meter.ti,
            tariff_code=meter.tariff_code or ctx.policy.default_tariff,
        )
    finally:
        session.rollback()


def _credit_spec(units: int) -> TokenSpec:
    def build(security: SecurityModule, key: MeterKeyRef | None, tid: int | None) -> str:
        assert tid is not None and key is not None
        return security.credit_token(key, tid=tid, units=units)

    return TokenSpec(type=TokenType.CREDIT, build=build, units=units)


def _units_for(quote: pricing.PricedVend) -> int:
    """0.1 kWh units the token carries: floor to the unit, then the coding's round-up."""
    units = tokens.units_from_quantity(quote.units_kwh)
    if units <= 0:
        raise BusinessRuleError("amount_too_small", "the amount buys less than 0.1 kWh")
    try:
        return tokens.round_up_units(units)
    except tokens.RangeError:
        raise BusinessRuleError("amount_too_large", "the amount exceeds one token") from None


def trial_vend(ctx: ServiceContext, *, meter_number: str, amount: object) -> VendAnswer:
    """What a vend would give, without tokens: no TID, no receipt, nothing written."""
    number = validate_meter_number(meter_number)
    value = parse_amount(amount, ctx.policy.currency_decimals)
    session = ctx.session
    try:
        connection = session.connection()
        meter = find_meter_state(connection, number)
        if meter.status is not MeterStatus.ACTIVE:
            raise BusinessRuleError("meter_blocked", f"meter {number} is blocked")
        _check_limits(ctx, value)
        at = ctx.now()
        plan = plan_key(connection, meter, at)
        quote = pricing.price_vend(connection, meter, value, at,
                                   default_tariff=ctx.policy.default_tariff, lock=False)
        units = _units_for(quote)
        return VendAnswer(
            vend_id=None, receipt_no=None, kind="trial", meter_number=number,
            amount=quote.total, units_kwh=tokens.quantity_from_units(units), status="trial",
            created_at=at, tokens=(), breakdown=tuple(quote.breakdown()),
            tariff_code=quote.tariff_code, tariff_version=quote.tariff_version,
            remainder=quote.remainder, key_change=plan.due, details=quote.details(),
        )
    finally:
        session.rollback()


def vend(
    ctx: ServiceContext, *, meter_number: str, amount: object, request_id: str, actor: Actor,
    on_issue: Callable[[Session, VendAnswer], None] | None = None,
    vendor_float: int | None = None,
) -> VendAnswer:
    """Sell ``amount`` of electricity to a meter: key-change tokens first when due, then the
    credit token. One transaction; ``answer.replayed`` is True for a repeated request.

    ``vendor_float``: the id of the API client whose vendor float pays the vend; it is debited
    with the vend's own rows (one guarded ``UPDATE``, in the same statement on PostgreSQL), so
    the sale and the debit commit together or not at all, and a replay debits nothing.
    ``on_issue`` runs inside that transaction, after the vend is written and before the
    commit, only for a new vend (never for a replay): the POS counts the sale to the clerk's
    shift there (it may raise, and the vend is undone)."""
    number = validate_meter_number(meter_number)
    value = parse_amount(amount, ctx.policy.currency_decimals)
    rid = validate_request_id(request_id)
    # The same amount however it is written ("50", "50.00"): the same request.
    canonical = value.quantize(Decimal(1).scaleb(-ctx.policy.currency_decimals))
    body_hash = request_hash({"op": "vend", "meter_number": number, "amount": str(canonical)})
    session = ctx.session
    try:
        connection = session.connection()
        meter = lock_meter_state(connection, number, client_ref=actor.ref, request_id=rid)
        if meter.replay_id is not None and \
                (replay := replayed(session, actor, rid, body_hash)) is not None:
            return replay
        if meter.status is not MeterStatus.ACTIVE:
            raise BusinessRuleError("meter_blocked", f"meter {number} is blocked")
        _check_limits(ctx, value)
        at = ctx.now()
        plan = plan_key(connection, meter, at)
        quote = pricing.price_vend(connection, meter, value, at,
                                   default_tariff=ctx.policy.default_tariff, lock=True)
        specs = [_credit_spec(_units_for(quote))]
        if quote.fbe_kwh > 0:  # the first vend of the FBE period carries it, as its own token
            specs.append(fbe_token_spec(quote.fbe_kwh))
        answer = issue_tokens(
            connection, ctx.security, meter, plan, specs,
            Issue(kind=VendKind.CREDIT, actor=actor, request_id=rid, request_hash=body_hash,
                  amount=quote.total, tariff_code=quote.tariff_code,
                  tariff_version=quote.tariff_version, breakdown=quote.breakdown(),
                  remainder=quote.remainder, details=quote.details(),
                  pricing=pricing.pricing_row(quote), debit_client=vendor_float),
            at,
        )
        assert answer.vend_id is not None
        pricing.record_vend(connection, answer.vend_id, meter.id, quote)
        if on_issue is not None:
            on_issue(session, answer)  # last: a row it locks is held only for the commit
        session.commit()
        # Never log tokens: a credit token is a bearer value until the meter accepts it.
        log.info("vend %s receipt %s meter %s amount %s units %s key_change %s by %s",
                 answer.vend_id, answer.receipt_no, number, value, answer.units_kwh,
                 answer.key_change, actor.ref)
        return answer
    except IntegrityError:
        session.rollback()
        if (replay := replayed(session, actor, rid, body_hash)) is None:
            raise
        return replay
    finally:
        session.rollback()  # no-op after a commit; undoes everything on any error


def _get_vend(ctx: ServiceContext, vend_id: int, *, lock: bool = False) -> Vend:
    stmt = select(Vend).where(Vend.id == vend_id)
    if lock:
        stmt = stmt.with_for_update()
    vend_row = ctx.session.scalars(stmt).first()
    if vend_row is None:
        raise NotFoundError("unknown_vend", f"vend {vend_id} does not exist")
    return vend_row


def reprint(ctx: ServiceContext, vend_id: int) -> VendAnswer:
    """The answer of an earlier vend, unchanged (its tokens are never re-generated)."""
    try:
        return VendAnswer.from_vend(_get_vend(ctx, vend_id))
    finally:
        ctx.session.rollback()


def find_vend(ctx: ServiceContext, *, request_id: str, actor: Actor) -> VendAnswer:
    """Last-response advice: the vend this client made under ``request_id``."""
    try:
        found = find_request(ctx.session, actor.ref, validate_request_id(request_id))
        if found is None:
            raise NotFoundError("unknown_vend", f"no vend has request_id {request_id!r}")
        return VendAnswer.from_vend(found)
    finally:
        ctx.session.rollback()


def reverse(
    ctx: ServiceContext, vend_id: int, *, reason: str, actor: Actor,
    on_reverse: Callable[[Session, Vend], None] | None = None,
) -> VendAnswer:
    """Reverse a credit vend within the reversal window. The token stays valid on the meter
    (it cannot be recalled): a reversal records that the sale did not complete on the
    client side, with who and why; reports exclude reversed vends. ``on_reverse`` runs in the
    same transaction before the commit (the bank API credits the vendor float back there)."""
    why = (reason or "").strip()
    if not why:
        raise InvalidInputError("reason_required", "a reversal needs a reason")
    session = ctx.session
    try:
        vend_row = _get_vend(ctx, vend_id, lock=True)
        if vend_row.kind is not VendKind.CREDIT:
            raise BusinessRuleError("not_reversible", "only credit vends can be reversed")
        if vend_row.status is VendStatus.REVERSED:
            raise BusinessRuleError("not_reversible", f"vend {vend_id} is already reversed")
        now = ctx.now()
        if now - vend_row.created_at > ctx.policy.reversal_window:
            raise BusinessRuleError("not_reversible",
                                    f"vend {vend_id} is outside the reversal window")
        vend_row.status = VendStatus.REVERSED
        vend_row.reversed_at = now
        vend_row.reversed_by = actor.ref
        vend_row.reversal_reason = why[:400]
        undone = pricing.undo_vend(session, vend_row)
        audit.record(session, actor, "vend.reversed", "vend", vend_row.id,
                     before={"status": VendStatus.ISSUED.value},
                     after={"status": VendStatus.REVERSED.value, "reason": why[:400],
                            "undone": undone})
        if on_reverse is not None:
            on_reverse(session, vend_row)
        answer = VendAnswer.from_vend(vend_row)
        session.commit()
        return answer
    finally:
        session.rollback()
