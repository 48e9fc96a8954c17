"""Fixed charges collected once per period and debt recovery against customer debts, through
the vend service on SQLite and PostgreSQL; a reversal gives it all back."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pricing_world import PricingWorld
from sqlalchemy import select
from vending_fixtures import ADMIN, CLERK, FixedClock

from vending import pricing
from vending.errors import BusinessRuleError, ConflictError, InvalidInputError, NotFoundError
from vending.models import AuditEntry, ChargeCollection, Debt, DebtPayment
from vending.services import ServiceContext, reverse, vend
from vending.services.answers import VendAnswer
from vending.services.debts import add_debt, customer_debts


def _vend(ctx: ServiceContext, world: PricingWorld, name: str, amount: str,
          rid: str) -> VendAnswer:
    return vend(ctx, meter_number=world.meters[name], amount=amount, request_id=rid,
                actor=CLERK)


def _lines(answer: VendAnswer, kind: str) -> list[dict[str, object]]:
    return [line for line in answer.breakdown if line["kind"] == kind]


def test_fixed_charge_is_collected_once_per_month(ctx: ServiceContext, world: PricingWorld,
                                                  clock: FixedClock) -> None:
    clock.at = datetime(2026, 3, 5, 8, tzinfo=UTC)
    first = _vend(ctx, world, "charge", "100.00", "c1")
    assert _lines(first, "fixed_charge") == [{"kind": "fixed_charge",
                                              "label": "Service fee (2026-03)",
                                              "amount": "20.00", "kwh": None, "rate": None}]
    assert first.units_kwh == Decimal("40.0")  # (100 - 20) / 2.00
    clock.advance(days=10)
    second = _vend(ctx, world, "charge", "100.00", "c2")
    assert _lines(second, "fixed_charge") == [] and second.units_kwh == Decimal("50.0")
    # April in Johannesburg starts at 22:00 UTC on 31 March: the charge is due again
    clock.at = datetime(2026, 3, 31, 22, 5, tzinfo=UTC)
    april = _vend(ctx, world, "charge", "100.00", "c3")
    assert [line["label"] for line in _lines(april, "fixed_charge")] == [
        "Service fee (2026-04)"]
    keys = ctx.session.scalars(select(ChargeCollection.collected_key)
                               .order_by(ChargeCollection.id)).all()
    assert keys == ["Service fee@2026-03", "Service fee@2026-04"]


def test_amount_below_the_charges_due_is_refused(ctx: ServiceContext,
                                                 world: PricingWorld) -> None:
    with pytest.raises(BusinessRuleError) as refused:
        _vend(ctx, world, "charge", "15.00", "low")
    assert refused.value.code == "amount_below_charges" and "20.00" in refused.value.message
    assert ctx.session.scalars(select(ChargeCollection)).all() == []


def test_reversal_makes_the_charge_due_again(ctx: ServiceContext, world: PricingWorld,
                                             clock: FixedClock) -> None:
    first = _vend(ctx, world, "charge", "100.00", "r1")
    clock.advance(minutes=2)
    reverse(ctx, first.vend_id, reason="customer left", actor=ADMIN)
    assert ctx.session.scalars(select(ChargeCollection)).all() == []
    again = _vend(ctx, world, "charge", "100.00", "r2")
    assert len(_lines(again, "fixed_charge")) == 1 and again.units_kwh == Decimal("40.0")


def _balances(ctx: ServiceContext, world: PricingWorld) -> list[Decimal]:
    return [debt.balance for debt in customer_debts(ctx, world.account("debt"))]


def test_debt_recovery_pays_debts_oldest_first_and_reversal_restores_them(
        ctx: ServiceContext, world: PricingWorld, clock: FixedClock) -> None:
    old = add_debt(ctx, account=world.account("debt"), amount="30.00",
                   description="arrears 2025", actor=ADMIN)
    clock.advance(minutes=1)
    add_debt(ctx, account=world.account("debt"), amount="50.00", description="tamper fine",
             actor=ADMIN)
    clock.advance(minutes=1)
    first = _vend(ctx, world, "debt", "100.00", "d1")
    # 25 % of 100.00 = 25.00 to the oldest debt; 75.00 buys 37.5 kWh at 2.00
    assert [(line["label"], line["amount"]) for line in _lines(first, "debt")] == [
        (f"Debt {old.id}", "25.00")]
    assert first.units_kwh == Decimal("37.5")
    assert _balances(ctx, world) == [Decimal("5.00"), Decimal("50.00")]
    clock.advance(minutes=1)
    second = _vend(ctx, world, "debt", "100.00", "d2")
    # 25.00 again: 5.00 closes the old debt, 20.00 goes to the next
    assert [line["amount"] for line in _lines(second, "debt")] == ["5.00", "20.00"]
    assert _balances(ctx, world) == [Decimal("0.00"), Decimal("30.00")]
    assert len(ctx.session.scalars(select(DebtPayment)).all()) == 3
    ctx.session.rollback()

    clock.advance(minutes=1)
    reverse(ctx, second.vend_id, reason="printer jam", actor=ADMIN)
    assert _balances(ctx, world) == [Decimal("5.00"), Decimal("50.00")]
    reverse(ctx, first.vend_id, reason="printer jam", actor=ADMIN)
    assert _balances(ctx, world) == [Decimal("30.00"), Decimal("50.00")]
    assert ctx.session.scalars(select(DebtPayment)).all() == []
    entry = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action == "vend.reversed")
                                .order_by(AuditEntry.id.desc())).first()
    assert entry is not None and entry.after is not None
    assert entry.after["undone"]["debt_payments"] == [{"debt_id": old.id,
                                                       "amount": "25.00000"}]
    ctx.session.rollback()


def test_debt_recovery_stops_at_the_balance(ctx: ServiceContext, world: PricingWorld) -> None:
    add_debt(ctx, account=world.account("debt"), amount="3.00", description="small",
             actor=ADMIN)
    answer = _vend(ctx, world, "debt", "100.00", "s1")
    assert [line["amount"] for line in _lines(answer, "debt")] == ["3.00"]
    assert answer.units_kwh == Decimal("48.5")  # 97.00 / 2.00
    assert _balances(ctx, world) == [Decimal("0.00")]
    again = _vend(ctx, world, "debt", "100.00", "s2")
    assert _lines(again, "debt") == [] and again.units_kwh == Decimal("50.0")
    balance = ctx.session.scalars(select(Debt.balance)).one()
    assert balance == 0


def test_a_debt_needs_a_known_customer_and_a_description(ctx: ServiceContext,
                                                         world: PricingWorld) -> None:
    with pytest.raises(NotFoundError):
        add_debt(ctx, account="ACC-NOBODY", amount="10.00", description="x", actor=ADMIN)
    with pytest.raises(InvalidInputError):
        add_debt(ctx, account=world.account("debt"), amount="10.00", description=" ",
                 actor=ADMIN)
    with pytest.raises(InvalidInputError):
        add_debt(ctx, account=world.account("debt"), amount="-1", description="x", actor=ADMIN)


def test_a_debt_balance_never_pays_twice(ctx: ServiceContext, world: PricingWorld) -> None:
    """The guarded UPDATE refuses a payment the balance no longer covers (what a vend on
    another meter of the customer would meet if it had read the balance before a commit)."""
    debt = add_debt(ctx, account=world.account("debt"), amount="10.00", description="x",
                    actor=ADMIN)
    pricing.pay_debt(ctx.session.connection(), debt.id, Decimal("6.00"))
    with pytest.raises(ConflictError) as refused:
        pricing.pay_debt(ctx.session.connection(), debt.id, Decimal("6.00"))
    assert refused.value.code == "debt_changed"
    assert ctx.session.scalars(select(Debt.balance)).one() == Decimal("4.00")
    ctx.session.rollback()
