"""Free basic electricity: its own token with the first vend of the period, on request
without a purchase, once per period, only to the eligible category; reversal makes it due
again. Tokens are decoded under the meter's key, derived independently of the server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pricing_world import PricingWorld
from sqlalchemy import select
from vending_fixtures import ADMIN, CLERK, FixedClock

from vending.errors import BusinessRuleError, InvalidInputError
from vending.models import FbeIssue
from vending.services import ServiceContext, reverse, vend
from vending.services.answers import VendAnswer
from vending.services.fbe import fbe_request, set_customer_category


def _vend(ctx: ServiceContext, world: PricingWorld, name: str, amount: str,
          rid: str) -> VendAnswer:
    return vend(ctx, meter_number=world.meters[name], amount=amount, request_id=rid,
                actor=CLERK)


def test_first_vend_of_the_month_carries_fbe_as_its_own_token(
        ctx: ServiceContext, world: PricingWorld, clock: FixedClock) -> None:
    first = _vend(ctx, world, "fbe", "20.00", "f1")
    assert [t.type for t in first.tokens] == ["credit", "fbe"]
    credit, fbe = first.tokens
    assert world.decode_units("fbe", credit.token) == Decimal("10.0") == credit.units_kwh
    assert world.decode_units("fbe", fbe.token) == Decimal("50.0") == fbe.units_kwh
    assert fbe.tid is not None and credit.tid is not None and fbe.tid > credit.tid
    assert first.breakdown[-1] == {"kind": "fbe", "label": "Free basic electricity",
                                   "amount": "0.00", "kwh": "50.0", "rate": None}
    assert first.as_json()["tokens"][1]["type"] == "fbe"
    clock.advance(days=3)
    second = _vend(ctx, world, "fbe", "20.00", "f2")
    assert [t.type for t in second.tokens] == ["credit"]
    # April in Johannesburg: due again
    clock.at = datetime(2026, 3, 31, 22, 1, tzinfo=UTC)
    april = _vend(ctx, world, "fbe", "20.00", "f3")
    assert [t.type for t in april.tokens] == ["credit", "fbe"]
    periods = ctx.session.scalars(select(FbeIssue.period_key).order_by(FbeIssue.id)).all()
    assert periods == ["2026-03", "2026-04"]


def test_fbe_does_not_count_in_the_blocks_or_go_to_others(ctx: ServiceContext,
                                                          world: PricingWorld) -> None:
    other = _vend(ctx, world, "fbe_no", "20.00", "n1")
    assert [t.type for t in other.tokens] == ["credit"]
    assert "fbe" not in [line["kind"] for line in other.breakdown]
    with pytest.raises(BusinessRuleError) as refused:
        fbe_request(ctx, meter_number=world.meters["fbe_no"], request_id="n2", actor=CLERK)
    assert refused.value.code == "fbe_not_due"


def test_fbe_on_request_once_per_period(ctx: ServiceContext, world: PricingWorld,
                                        clock: FixedClock) -> None:
    answer = fbe_request(ctx, meter_number=world.meters["fbe"], request_id="q1", actor=CLERK)
    assert answer.kind == "fbe" and answer.amount == 0 and answer.units_kwh == Decimal("50.0")
    assert [t.type for t in answer.tokens] == ["fbe"]
    assert world.decode_units("fbe", answer.tokens[0].token) == Decimal("50.0")
    # the same request again is the same answer; a new one is refused; a vend carries none
    again = fbe_request(ctx, meter_number=world.meters["fbe"], request_id="q1", actor=CLERK)
    assert again.replayed and again.tokens == answer.tokens
    with pytest.raises(BusinessRuleError) as refused:
        fbe_request(ctx, meter_number=world.meters["fbe"], request_id="q2", actor=CLERK)
    assert refused.value.code == "fbe_not_due"
    sale = _vend(ctx, world, "fbe", "20.00", "q3")
    assert [t.type for t in sale.tokens] == ["credit"]
    clock.at = datetime(2026, 4, 2, 8, tzinfo=UTC)
    april = fbe_request(ctx, meter_number=world.meters["fbe"], request_id="q4", actor=CLERK)
    assert [t.type for t in april.tokens] == ["fbe"]


def test_reversal_makes_the_fbe_due_again(ctx: ServiceContext, world: PricingWorld,
                                          clock: FixedClock) -> None:
    first = _vend(ctx, world, "fbe", "20.00", "v1")
    clock.advance(minutes=1)
    reverse(ctx, first.vend_id, reason="not delivered", actor=ADMIN)
    again = _vend(ctx, world, "fbe", "20.00", "v2")
    assert [t.type for t in again.tokens] == ["credit", "fbe"]


def test_category_decides_eligibility(ctx: ServiceContext, world: PricingWorld) -> None:
    set_customer_category(ctx, account=world.account("fbe_no"), category="indigent",
                          actor=ADMIN)
    answer = _vend(ctx, world, "fbe_no", "20.00", "c1")
    assert [t.type for t in answer.tokens] == ["credit", "fbe"]
    with pytest.raises(InvalidInputError):
        set_customer_category(ctx, account=world.account("fbe_no"), category="x" * 33,
                              actor=ADMIN)
