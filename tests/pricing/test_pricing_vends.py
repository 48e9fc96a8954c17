"""Vends priced by the tariff engine through the vend service, on SQLite and PostgreSQL: the
split property end to end (down to the units the meter decodes), version switches, periods in
the tariff's time zone, and trial vends that write nothing."""

from __future__ import annotations

import io
import itertools
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pricing_world import PricingWorld, block_tariff
from sqlalchemy import func, select
from vending_fixtures import ADMIN, CLERK, CSV_HEADER, SGC, FixedClock, decoder_key, drn

import tokens
from vending.errors import BusinessRuleError
from vending.models import (
    AuditEntry,
    ChargeCollection,
    Debt,
    DebtPayment,
    FbeIssue,
    IssuedToken,
    Meter,
    Vend,
    VendPricing,
)
from vending.services import (
    ServiceContext,
    confirm_meter,
    import_meters,
    load_tariff,
    reverse,
    trial_vend,
    vend,
)
from vending.services.answers import VendAnswer
from vending.services.debts import add_debt


def _vend(ctx: ServiceContext, world: PricingWorld, name: str, amount: str,
          rid: str) -> VendAnswer:
    return vend(ctx, meter_number=world.meters[name], amount=amount, request_id=rid,
                actor=CLERK)


def _decoded(world: PricingWorld, name: str, answer: VendAnswer, kind: str = "credit"
             ) -> Decimal:
    return sum((world.decode_units(name, t.token) for t in answer.tokens if t.type == kind),
               Decimal(0))


def test_split_purchases_buy_the_units_of_one_purchase(ctx: ServiceContext, world: PricingWorld,
                                                       clock: FixedClock) -> None:
    # R400 on 1.73 (<=50 kWh), 2.11 (<=150 kWh), 2.99: 50 + 100 + floor(102.5 / 2.99) = 184.2
    one = _vend(ctx, world, "block", "400.00", "one")
    assert _decoded(world, "block", one) == Decimal("184.2") == one.units_kwh
    assert one.remainder == Decimal("0.242")
    kinds = [line["kind"] for line in one.breakdown]
    assert kinds == ["energy_block"] * 3 + ["rounding"]
    assert one.details["pricing"]["block_period_key"] == "2026-03"

    split = []
    for i, amount in enumerate(["37.37", "100.01", "262.62"]):  # 400.00 in three vends
        clock.advance(hours=5)
        split.append(_vend(ctx, world, "block2", amount, f"split{i}"))
    assert sum((_decoded(world, "block2", a) for a in split), Decimal(0)) == Decimal("184.2")
    assert split[-1].remainder == one.remainder  # the same money left over, carried on
    # each later vend spends the previous remainder first, and says so
    assert split[1].breakdown[0]["kind"] == "carried_credit"
    assert split[1].breakdown[0]["amount"] == split[0].details["pricing"]["remainder"]


def test_block_counter_ignores_reversed_vends(ctx: ServiceContext, world: PricingWorld) -> None:
    first = _vend(ctx, world, "block", "86.50", "b1")  # exactly block 1: 50.0 kWh
    assert first.units_kwh == Decimal("50.0")
    reverse(ctx, first.vend_id, reason="card declined", actor=ADMIN)
    again = _vend(ctx, world, "block", "86.50", "b2")
    assert again.units_kwh == Decimal("50.0")  # block 1 again: the reversed vend bought none
    more = _vend(ctx, world, "block", "21.10", "b3")
    assert more.units_kwh == Decimal("10.0")  # now block 2 at 2.11
    assert more.breakdown[0]["rate"] == "2.1100"


def _carry_in(answer: VendAnswer) -> Decimal:
    return Decimal(answer.details["pricing"]["carried_in"])


def test_a_reversal_gives_the_carry_back_to_the_vend_before(ctx: ServiceContext,
                                                           world: PricingWorld,
                                                           clock: FixedClock) -> None:
    """The carry lives on the meter row (each credit vend writes it); reversing the latest
    vend must restore the carry of the vend before it, and reversing an older one must not
    touch the carry of the latest."""
    first = _vend(ctx, world, "block", "10.00", "c1")  # 10 / 1.73 = 5.7 kWh, 0.139 left
    assert first.remainder == Decimal("0.139") and _carry_in(first) == 0
    clock.advance(minutes=2)  # within the reversal window
    second = _vend(ctx, world, "block", "10.01", "c2")
    assert _carry_in(second) == first.remainder
    assert second.remainder != first.remainder
    reverse(ctx, second.vend_id, reason="card declined", actor=ADMIN)
    clock.advance(minutes=2)  # within the reversal window
    third = _vend(ctx, world, "block", "10.00", "c3")
    assert _carry_in(third) == first.remainder  # the reversed vend's carry is gone
    reverse(ctx, first.vend_id, reason="duplicate sale", actor=ADMIN)
    clock.advance(minutes=2)  # within the reversal window
    fourth = _vend(ctx, world, "block", "10.00", "c4")
    assert _carry_in(fourth) == third.remainder  # an older reversal leaves the latest carry
    stored = ctx.session.scalar(select(Meter.carried_credit)
                                .where(Meter.meter_number == world.meters["block"]))
    assert stored == fourth.remainder


def test_version_switch_mid_month_keeps_the_block_counter(
        ctx: ServiceContext, world: PricingWorld, clock: FixedClock) -> None:
    load_tariff(ctx, block_tariff("2026-03-15", ("1.9000", "2.5000", "3.5000")), actor=ADMIN)
    clock.at = datetime(2026, 3, 10, 10, tzinfo=UTC)
    before = _vend(ctx, world, "block", "86.50", "v1")
    assert before.tariff_version == "2026-01-01" and before.units_kwh == Decimal("50.0")
    clock.at = datetime(2026, 3, 20, 10, tzinfo=UTC)
    after = _vend(ctx, world, "block", "100.00", "v2")
    # the new price, and block 2 because 50 kWh were bought this month under the old version
    assert after.tariff_code == "BLOCK" and after.tariff_version == "2026-03-15"
    assert after.units_kwh == Decimal("40.0") and _decoded(world, "block", after) == 40
    energy = [line for line in after.breakdown if line["kind"] == "energy_block"]
    assert [(line["label"][:7], line["rate"]) for line in energy] == [("Block 2", "2.5000")]
    assert after.as_json()["tariff"] == {"code": "BLOCK", "version": "2026-03-15"}


def test_month_and_version_start_at_local_midnight(ctx: ServiceContext, world: PricingWorld,
                                                   clock: FixedClock) -> None:
    load_tariff(ctx, block_tariff("2026-04-01", ("1.8000", "2.2000", "3.0000")), actor=ADMIN)
    clock.at = datetime(2026, 3, 31, 21, 30, tzinfo=UTC)  # 23:30 in Johannesburg: March
    _vend(ctx, world, "block", "86.50", "m1")  # block 1 full
    clock.at = datetime(2026, 3, 31, 21, 45, tzinfo=UTC)
    march = _vend(ctx, world, "block", "21.10", "m2")
    assert march.units_kwh == Decimal("10.0") and march.tariff_version == "2026-01-01"
    assert march.details["pricing"]["block_period_key"] == "2026-03"
    clock.at = datetime(2026, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April there
    april = _vend(ctx, world, "block", "18.00", "m3")
    # a new block period (block 1 again) and the version of 1 April, though UTC is in March
    assert april.details["pricing"]["block_period_key"] == "2026-04"
    assert april.tariff_version == "2026-04-01"
    assert april.units_kwh == Decimal("10.0") and april.breakdown[0]["rate"] == "1.8000"


def _counts(ctx: ServiceContext) -> dict[str, object]:
    session = ctx.session
    counts: dict[str, object] = {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (Vend, IssuedToken, VendPricing, ChargeCollection, DebtPayment, FbeIssue,
                      AuditEntry)}
    counts["balances"] = sorted(session.scalars(select(Debt.balance)))
    session.rollback()
    return counts


def test_trial_vend_shows_the_vend_and_writes_nothing(ctx: ServiceContext,
                                                      world: PricingWorld) -> None:
    add_debt(ctx, account=world.account("debt"), amount="40.00", description="arrears",
             actor=ADMIN)
    for name in ("charge", "debt", "fbe", "block"):
        before = _counts(ctx)
        trial = trial_vend(ctx, meter_number=world.meters[name], amount="100.00")
        assert _counts(ctx) == before, name
        assert trial.tokens == () and trial.vend_id is None and trial.status == "trial"
        real = _vend(ctx, world, name, "100.00", f"after-trial-{name}")
        assert trial.breakdown == real.breakdown, name
        assert trial.details["pricing"] == real.details["pricing"], name
    fbe_trial = trial_vend(ctx, meter_number=world.meters["fbe"], amount="100.00")
    assert "fbe" not in [line["kind"] for line in fbe_trial.breakdown]  # issued just now


def test_tax_added_on_top_and_the_tariffs_limits(ctx: ServiceContext,
                                                 world: PricingWorld) -> None:
    answer = _vend(ctx, world, "taxx", "100.00", "t1")
    assert answer.amount == Decimal("115.00")  # the customer pays the VAT on top
    assert answer.units_kwh == Decimal("50.0")
    assert answer.breakdown[0] == {"kind": "tax", "label": "VAT 15% (added)", "amount": "15.00",
                                   "kwh": None, "rate": "0.15"}
    confirmation = confirm_meter(ctx, world.meters["taxx"])
    assert (confirmation.min_amount, confirmation.max_amount) == (Decimal("20.00"),
                                                                  Decimal("500.00"))
    with pytest.raises(BusinessRuleError) as refused:
        _vend(ctx, world, "taxx", "10.00", "t2")
    assert refused.value.code == "amount_below_minimum" and refused.value.status == 422


def test_any_split_of_a_payment_buys_the_same_units(ctx: ServiceContext, world: PricingWorld,
                                                    clock: FixedClock) -> None:
    """Seeded random splits of R523.47 into 2 to 6 vends over the month, each on its own meter,
    against one vend: the same units on the meters (decoded) and the same remainder."""
    rng = random.Random(20261128)
    numbers = [drn(40 + i) for i in range(4)]
    import_meters(ctx, io.StringIO(CSV_HEADER + "".join(
        f"{number},Customer split,split Street,ACC-SPLIT,{SGC},1,2,2,07,04,2014,BLOCK\n"
        for number in numbers)), actor=ADMIN)
    total = Decimal("523.47")
    one = vend(ctx, meter_number=world.meters["block"], amount=str(total), request_id="whole",
               actor=CLERK)
    for index, number in enumerate(numbers[1:]):
        cents = sorted(rng.sample(range(100, int(total * 100) - 100), rng.randint(1, 5)))
        bounds = [0, *cents, int(total * 100)]
        parts = [Decimal(b - a) / 100 for a, b in itertools.pairwise(bounds)]
        assert sum(parts) == total
        units, last = Decimal(0), None
        clock.at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # at most 6 x 40 h: still March
        for i, part in enumerate(parts):
            clock.advance(hours=rng.randint(1, 40))
            last = vend(ctx, meter_number=number, amount=str(part), request_id=f"s{index}-{i}",
                        actor=CLERK)
            units += sum(tokens.quantity_from_units(tokens.decode(
                t.token, decoder_key(number, krn=2)).units) for t in last.tokens)
        assert units == one.units_kwh, parts
        assert last is not None and last.remainder == one.remainder


def test_a_version_loaded_between_two_vends_prices_the_second(ctx: ServiceContext,
                                                             world: PricingWorld,
                                                             clock: FixedClock) -> None:
    """The versions of a code are remembered per database connection while the newest
    tariff row is unchanged; loading a version changes it, so the very next vend on the same
    connection sees the new version (and the one after it still does)."""
    before = _vend(ctx, world, "block", "17.30", "v1")
    assert before.tariff_version == "2026-01-01" and before.units_kwh == Decimal("10.0")
    load_tariff(ctx, block_tariff("2026-03-01", ("3.4600", "4.2200", "5.9800")), actor=ADMIN)
    clock.advance(minutes=1)
    after = _vend(ctx, world, "block", "17.30", "v2")
    assert after.tariff_version == "2026-03-01"
    assert after.units_kwh == Decimal("5.0")  # twice the price: half the units
    clock.advance(minutes=1)
    again = _vend(ctx, world, "block", "17.30", "v3")
    assert again.tariff_version == "2026-03-01"
