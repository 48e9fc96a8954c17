"""Hypothesis tests of the two promises of the engine (docs/tariffs.md, "Guarantees").

1. Splitting: under a block tariff, the units bought in a period for a given energy money do not
   depend on how the payments are split, *exactly*, when each vend's remainder is carried into
   the next; without the carry a split loses less than 0.1 kWh per extra vend (inclining blocks).
2. Conservation: total + carried_in == tax + charges + debt + energy + remainder, exactly.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tariff_documents import utc

from vending.tariffs import Debt, PurchaseState, Tariff, parse_tariff, quote_vend

D = Decimal
AT = utc(2026, 3, 14, 9)
TENTH = D("0.1")


def money(low_cents: int, high_cents: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low_cents, high_cents).map(lambda cents: D(cents).scaleb(-2))


@st.composite
def block_tariffs(draw, *, inclining: bool = False) -> Tariff:
    count = draw(st.integers(1, 4))
    bounds = sorted(draw(st.sets(st.integers(1, 10_000), min_size=count - 1,
                                 max_size=count - 1)))
    prices = draw(st.lists(st.integers(1, 50_000), min_size=count, max_size=count))
    if inclining:
        prices.sort()
    uppers = [str(D(bound).scaleb(-1)) for bound in bounds] + [None]
    steps = [{"up_to_kwh": upper, "price": str(D(price).scaleb(-4))}
             for upper, price in zip(uppers, prices, strict=True)]
    return parse_tariff({
        "code": "PROP", "currency": "ZAR", "effective_from": "2026-01-01",
        "timezone": draw(st.sampled_from(["UTC", "Africa/Johannesburg", "Asia/Shanghai"])),
        "energy": {"blocks": {"period": draw(st.sampled_from(["month", "year"])),
                              "steps": steps}},
    })


bought_before = st.integers(0, 12_000).map(lambda tenths: D(tenths).scaleb(-1))
payments = st.lists(money(1, 300_000), min_size=1, max_size=6)


def buy_in_sequence(tariff: Tariff, amounts, bought: Decimal, *, carry: bool):
    units, carried = D(0), D(0)
    quotes = []
    for amount in amounts:
        quote = quote_vend(tariff, amount, PurchaseState(
            at=AT, energy_bought_kwh=bought + units, carried_credit=carried))
        quotes.append(quote)
        units += quote.units_kwh
        carried = quote.remainder if carry else D(0)
    return units, quotes


@settings(max_examples=300, deadline=None)
@given(block_tariffs(), payments, bought_before)
def test_split_purchases_with_carried_remainder_buy_exactly_the_same_units(tariff, amounts,
                                                                           bought):
    units, quotes = buy_in_sequence(tariff, amounts, bought, carry=True)
    single = quote_vend(tariff, sum(amounts, D(0)),
                        PurchaseState(at=AT, energy_bought_kwh=bought))
    assert units == single.units_kwh
    assert quotes[-1].remainder == single.remainder


@settings(max_examples=300, deadline=None)
@given(block_tariffs(inclining=True), payments, bought_before)
def test_split_purchases_without_carry_lose_less_than_a_tenth_per_extra_vend(tariff, amounts,
                                                                             bought):
    units, quotes = buy_in_sequence(tariff, amounts, bought, carry=False)
    single = quote_vend(tariff, sum(amounts, D(0)),
                        PurchaseState(at=AT, energy_bought_kwh=bought))
    assert single.units_kwh - TENTH * (len(amounts) - 1) <= units <= single.units_kwh
    # The money behind the shortfall is not lost: each receipt shows its remainder.
    spent = sum((q.energy_amount for q in quotes), D(0))
    assert spent + sum((q.remainder for q in quotes), D(0)) == sum(amounts, D(0))


@settings(max_examples=300, deadline=None)
@given(block_tariffs(), money(1, 500_000), bought_before, money(0, 50))
def test_a_quote_spends_all_it_can_and_shows_the_rest(tariff, amount, bought, carried):
    quote = quote_vend(tariff, amount, PurchaseState(
        at=AT, energy_bought_kwh=bought, carried_credit=carried))
    energy = [line for line in quote.breakdown if line.kind == "energy_block"]
    assert quote.units_kwh % TENTH == 0
    assert sum((line.kwh for line in energy), D(0)) == quote.units_kwh
    assert all(line.kwh * line.rate == line.amount for line in energy)
    assert sum((line.amount for line in energy), D(0)) == quote.energy_amount
    # The remainder is not enough for one more tenth at the marginal price.
    assert 0 <= quote.remainder < TENTH * tariff.rate_at(AT, bought + quote.units_kwh)
    assert quote.energy_amount + quote.remainder == amount + carried


@st.composite
def full_tariffs(draw) -> Tariff:
    base = draw(block_tariffs())
    rate = D(draw(st.integers(0, 25))).scaleb(-2)
    charges = parse_tariff({
        "code": "X", "currency": "ZAR", "effective_from": "2026-01-01", "energy": {"flat": "1"},
        "tax": {"name": "VAT", "rate": str(rate), "inclusive": draw(st.booleans())},
        "fixed_charges": [{"name": "Fee", "amount": str(draw(money(1, 500))),
                           "period": draw(st.sampled_from(["month", "vend"]))}],
        "debt_recovery": {"percent": str(D(draw(st.integers(1, 100))).scaleb(-2))},
    })
    return dataclasses.replace(charges, energy=base.energy, timezone=base.timezone)


@settings(max_examples=300, deadline=None)
@given(full_tariffs(), st.lists(money(1_000, 300_000), min_size=1, max_size=5),
       st.lists(money(0, 20_000), max_size=3), bought_before)
def test_money_is_conserved_and_energy_money_splits_exactly(tariff, amounts, balances, bought):
    debts = [Debt(f"D{index}", balance) for index, balance in enumerate(balances)]
    collected: frozenset[str] = frozenset()
    units, carried, energy_money = D(0), D(0), D(0)
    for amount in amounts:
        quote = quote_vend(tariff, amount, PurchaseState(
            at=AT, energy_bought_kwh=bought + units, carried_credit=carried,
            charges_collected=collected, debts=tuple(debts)))
        # Conservation, from the fields and from the receipt lines.
        assert (quote.tax + quote.charges_total + quote.debt_total + quote.energy_amount
                + quote.remainder) == quote.total + quote.carried_in
        lines = [line.amount for line in quote.breakdown
                 if line.kind not in {"carried_credit", "fbe"}]
        assert sum(lines, D(0)) == quote.total + quote.carried_in
        # Debts are never overpaid, and only a share of the vend goes to them.
        paid = dict(quote.debt_payments)
        assert all(paid.get(debt.id, D(0)) <= debt.balance for debt in debts)
        assert quote.debt_total <= quote.total - quote.tax - quote.charges_total
        debts = [Debt(debt.id, debt.balance - paid.get(debt.id, D(0))) for debt in debts]
        collected |= {c.collected_key for c in quote.charges if c.collected_key}
        energy_money += quote.total - quote.tax - quote.charges_total - quote.debt_total
        units += quote.units_kwh
        carried = quote.remainder
    # The units of the split vends are those that the summed energy money buys at once.
    energy_only = dataclasses.replace(tariff, tax=None, fixed_charges=(), debt_recovery=None)
    if energy_money > 0:
        single = quote_vend(energy_only, energy_money,
                            PurchaseState(at=AT, energy_bought_kwh=bought))
        assert units == single.units_kwh
    else:
        assert units == 0
