"""Worked examples from real tariffs, the expected figures worked out by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tariff_documents import BEIJING_TOU, ESKOM, ISSUE_EXAMPLE, TSHWANE, ZHEJIANG, ZHEJIANG_TOU
from tariff_documents import utc as at

from vending.tariffs import Debt, PurchaseState, parse_tariff, price_consumption, quote_vend

D = Decimal


def energy_lines(quote):
    return [(line.kwh, line.rate, line.amount) for line in quote.breakdown
            if line.kind.startswith("energy_")]


# ----------------------------------------------------------------------------- Eskom


def test_eskom_400_kwh_on_the_first_is_350_at_block_1_and_50_at_block_2():
    # DOMAIN §5: "a customer buying 400 kWh on the 1st pays block-1 rate for 350 and block-2
    # rate for 50". 350 × 1.76 = 616.00 and 50 × 1.99 = 99.50, so 715.50 buys exactly 400 kWh.
    tariff = parse_tariff(ESKOM)
    quote = quote_vend(tariff, D("715.50"), PurchaseState(at=at(2022, 5, 1, 8)))
    assert quote.units_kwh == D("400.0")
    assert energy_lines(quote) == [(D(350), D("1.76"), D("616.00")), (D(50), D("1.99"), D("99.50"))]
    assert quote.remainder == 0
    assert quote.block_period_key == "2022-05"


def test_eskom_800_rand_floors_to_the_tenth_and_shows_the_remainder():
    # 350 × 1.76 = 616.00; 800 − 616 = 184.00 left at 1.99: 184 / 1.99 = 92.462… → 92.4 kWh
    # costing 92.4 × 1.99 = 183.876; the remainder 184 − 183.876 = 0.124 is shown.
    quote = quote_vend(parse_tariff(ESKOM), D("800.00"), PurchaseState(at=at(2022, 5, 1, 8)))
    assert quote.units_kwh == D("442.4")
    assert quote.energy_amount == D("799.876")
    assert quote.remainder == D("0.124")
    assert quote.breakdown[-1].kind == "rounding"
    assert quote.breakdown[-1].amount == D("0.124")


def test_eskom_split_purchase_with_carried_remainder_equals_the_single_purchase():
    # 300.00 first: 300 / 1.76 = 170.45… → 170.4 kWh for 299.904, remainder 0.096.
    # Then 415.50 plus the carried 0.096 = 415.596 from 170.4 kWh: the 179.6 kWh left in
    # block 1 cost 179.6 × 1.76 = 316.096, leaving 99.50 = 50 kWh × 1.99 exactly.
    # 170.4 + 179.6 + 50 = 400.0 kWh, as for the single 715.50 purchase.
    tariff = parse_tariff(ESKOM)
    first = quote_vend(tariff, D("300.00"), PurchaseState(at=at(2022, 5, 1, 8)))
    assert (first.units_kwh, first.remainder) == (D("170.4"), D("0.096"))
    second = quote_vend(tariff, D("415.50"), PurchaseState(
        at=at(2022, 5, 20, 8), energy_bought_kwh=first.units_kwh, carried_credit=first.remainder))
    assert second.units_kwh == D("229.6")
    assert first.units_kwh + second.units_kwh == D("400.0")
    assert second.remainder == 0
    # Without the carry the second vend has 415.50: 316.096 for block 1, 99.404 left buys
    # 99.404 / 1.99 = 49.95… → 49.9 kWh: one tenth short, the 0.096 shown on the first receipt.
    uncarried = quote_vend(tariff, D("415.50"), PurchaseState(
        at=at(2022, 5, 20, 8), energy_bought_kwh=first.units_kwh))
    assert uncarried.units_kwh == D("229.5")


# ----------------------------------------------------------------------------- Tshwane


def test_tshwane_first_vend_of_the_month_vat_network_charge_and_two_blocks():
    # VAT included: 1000 × 0.15 / 1.15 = 130.434… → 130.43; net 869.57.
    # Network charge 180.00 (first vend of the month) → 689.57 for energy.
    # Block 1: 100 × 2.1437 = 214.37 → 475.20 left.
    # Block 2 at 2.6924: 475.20 / 2.6924 = 176.49… → 176.4 kWh = 474.93936; remainder 0.26064.
    tariff = parse_tariff(TSHWANE)
    quote = quote_vend(tariff, D("1000.00"), PurchaseState(at=at(2025, 8, 1, 6)))
    assert quote.tax == D("130.43")
    assert [(c.name, c.amount, c.collected_key) for c in quote.charges] == [
        ("Network charge", D("180.00"), "Network charge@2025-08")]
    assert energy_lines(quote) == [
        (D(100), D("2.1437"), D("214.37")), (D("176.4"), D("2.6924"), D("474.93936"))]
    assert quote.units_kwh == D("276.4")
    assert quote.remainder == D("0.26064")
    assert quote.fbe_kwh == 0  # not an indigent customer


def test_tshwane_later_vend_crosses_from_block_2_into_block_3():
    # 380 kWh already bought this month, network charge already collected.
    # VAT: 200 × 0.15 / 1.15 = 26.086… → 26.09; net 173.91.
    # Block 2: 20 kWh × 2.6924 = 53.848 → 120.062 left.
    # Block 3 at 3.1134: 120.062 / 3.1134 = 38.56… → 38.5 kWh = 119.8659; remainder 0.1961.
    tariff = parse_tariff(TSHWANE)
    state = PurchaseState(at=at(2025, 8, 17, 12), energy_bought_kwh=D(380),
                          charges_collected=frozenset({"Network charge@2025-08"}))
    quote = quote_vend(tariff, D("200.00"), state)
    assert quote.charges == ()
    assert energy_lines(quote) == [
        (D(20), D("2.6924"), D("53.848")), (D("38.5"), D("3.1134"), D("119.8659"))]
    assert quote.units_kwh == D("58.5")
    assert quote.remainder == D("0.1961")
    assert [line.label for line in quote.breakdown if line.kind == "energy_block"] == [
        "Block 2 (100-400 kWh)", "Block 3 (400-650 kWh)"]


def test_tshwane_indigent_customer_gets_free_basic_electricity_once_a_month():
    tariff = parse_tariff(TSHWANE)
    first = quote_vend(tariff, D("300.00"), PurchaseState(at=at(2025, 8, 2), fbe_eligible=True))
    assert first.fbe_kwh == D(50)
    assert first.fbe_period_key == "2025-08"
    assert [(line.kind, line.kwh, line.amount) for line in first.breakdown][-1] == (
        "fbe", D(50), D(0))
    later = quote_vend(tariff, D("300.00"), PurchaseState(
        at=at(2025, 8, 9), fbe_eligible=True, fbe_issued=True))
    assert later.fbe_kwh == 0
    assert all(line.kind != "fbe" for line in later.breakdown)


# ----------------------------------------------------------------------------- Beijing


@pytest.mark.parametrize(("utc_hour", "bought", "expected"), [
    (2, D(0), D("0.4883")),      # 10:00 Beijing, peak, tier 1
    (2, D(300), D("0.5383")),    # peak, tier 2: 0.4883 + 0.05
    (2, D(400), D("0.7883")),    # peak, tier 3: 0.4883 + 0.30 (400 kWh is past the bound)
    (15, D(0), D("0.30")),       # 23:00 Beijing, valley
    (15, D(500), D("0.60")),     # valley, tier 3: 0.30 + 0.30
])
def test_beijing_rate_is_the_tou_price_plus_the_tier_adder(utc_hour, bought, expected):
    tariff = parse_tariff(BEIJING_TOU)
    assert tariff.rate_at(at(2026, 3, 10, utc_hour), bought) == expected


def test_beijing_peak_vend_spans_tiers_1_and_2():
    # 10:00 Beijing (02:00 UTC), 200 kWh bought this month, 100.00 CNY.
    # Tier 1: 40 kWh × 0.4883 = 19.532 → 80.468 left.
    # Tier 2 at 0.5383: 80.468 / 0.5383 = 149.48… → 149.4 kWh = 80.42202; remainder 0.04598.
    tariff = parse_tariff(BEIJING_TOU)
    quote = quote_vend(tariff, D("100.00"),
                       PurchaseState(at=at(2026, 3, 10, 2), energy_bought_kwh=D(200)))
    assert energy_lines(quote) == [
        (D(40), D("0.4883"), D("19.532")), (D("149.4"), D("0.5383"), D("80.42202"))]
    assert quote.units_kwh == D("189.4")
    assert quote.remainder == D("0.04598")
    assert quote.breakdown[0].label == "Block 1 (0-240 kWh), peak"


def test_beijing_valley_vend_runs_through_all_three_tiers():
    # 23:30 Beijing (15:30 UTC), 200 kWh bought, 100.00 CNY at valley prices 0.30/0.35/0.60.
    # 40 × 0.30 = 12.00 → 88.00; 160 × 0.35 = 56.00 → 32.00; 32 / 0.60 = 53.33… → 53.3 kWh
    # = 31.98; remainder 0.02. Units 40 + 160 + 53.3 = 253.3.
    tariff = parse_tariff(BEIJING_TOU)
    quote = quote_vend(tariff, D("100.00"),
                       PurchaseState(at=at(2026, 3, 10, 15, 30), energy_bought_kwh=D(200)))
    assert quote.units_kwh == D("253.3")
    assert quote.remainder == D("0.02")
    assert [line.rate for line in quote.breakdown if line.kwh] == [
        D("0.30"), D("0.35"), D("0.60")]


def test_beijing_consumption_across_the_23h_valley_start():
    # 22:00-24:00 Beijing, 2 kWh evenly: 1 kWh peak at 0.4883 + 1 kWh valley at 0.30 = 0.7883
    # → 0.79 CNY. Tier 1 throughout (nothing consumed before).
    tariff = parse_tariff(BEIJING_TOU)
    cost = price_consumption(tariff, [(at(2026, 3, 10, 14), at(2026, 3, 10, 16), D(2))])
    assert cost.exact_amount == D("0.7883")
    assert cost.amount == D("0.79")
    assert sorted((line.kwh, line.rate) for line in cost.lines) == [
        (D(1), D("0.30")), (D(1), D("0.4883"))]


# ----------------------------------------------------------------------------- Zhejiang


def test_zhejiang_annual_ladder_crosses_2760_kwh():
    # 2700 kWh bought this year; 200.00 CNY.
    # Tier 1: 60 × 0.538 = 32.28 → 167.72 left; tier 2: 167.72 / 0.588 = 285.23… → 285.2 kWh
    # = 167.6976; remainder 0.0224. Units 345.2.
    tariff = parse_tariff(ZHEJIANG)
    quote = quote_vend(tariff, D("200.00"),
                       PurchaseState(at=at(2026, 9, 1, 2), energy_bought_kwh=D(2700)))
    assert energy_lines(quote) == [
        (D(60), D("0.538"), D("32.280")), (D("285.2"), D("0.588"), D("167.6976"))]
    assert (quote.units_kwh, quote.remainder) == (D("345.2"), D("0.0224"))
    assert quote.block_period_key == "2026"


def test_zhejiang_ladder_resets_at_midnight_new_year_in_shanghai():
    tariff = parse_tariff(ZHEJIANG)
    # 2026-12-31 15:59 UTC is 23:59 in Shanghai: still 2026. 16:00 UTC is 2027-01-01 00:00.
    assert tariff.block_period_key(at(2026, 12, 31, 15, 59)) == "2026"
    assert tariff.block_period_key(at(2026, 12, 31, 16, 0)) == "2027"


@pytest.mark.parametrize(("utc_hour", "bought", "expected"), [
    # The published Zhejiang TOU table: tier 1 peak 0.568 / valley 0.288, tier 2 0.618 /
    # 0.338, tier 3 0.868 / 0.588. 10:00 Shanghai = 02:00 UTC (peak), 23:00 = 15:00 UTC.
    (2, D(0), D("0.568")), (15, D(0), D("0.288")),
    (2, D(2760), D("0.618")), (15, D(4000), D("0.338")),
    (2, D(4800), D("0.868")), (15, D(9000), D("0.588")),
])
def test_zhejiang_tou_rates_match_the_published_table(utc_hour, bought, expected):
    assert parse_tariff(ZHEJIANG_TOU).rate_at(at(2026, 5, 6, utc_hour), bought) == expected


# ----------------------------------------------------------------------------- the issue's document


def test_issue_example_document_every_step_in_order():
    # 200.00 CNY, 5 Jan, indigent, one debt of 10.00.
    # VAT 13 % included: 200 × 0.13 / 1.13 = 23.0088… → 23.01; net 176.99.
    # Service fee 5.00 → 171.99. Debt: 25 % × 171.99 = 42.9975 → 43.00, capped at 10.00 → 161.99.
    # Energy 161.99: 240 × 0.4883 = 117.192 → 44.798 left; 44.798 / 0.5383 = 83.22… → 83.2 kWh
    # = 44.78656; remainder 0.01144. FBE 50 kWh.
    tariff = parse_tariff(ISSUE_EXAMPLE)
    quote = quote_vend(tariff, D("200.00"), PurchaseState(
        at=at(2026, 1, 5), debts=(Debt("D-1", D("10.00")),), fbe_eligible=True))
    assert [(line.kind, line.amount) for line in quote.breakdown] == [
        ("tax", D("23.01")), ("fixed_charge", D("5.00")), ("debt", D("10.00")),
        ("energy_block", D("117.192")), ("energy_block", D("44.78656")),
        ("rounding", D("0.01144")), ("fbe", D(0))]
    assert quote.units_kwh == D("323.2")
    assert quote.fbe_kwh == D(50)
    assert [tuple(payment) for payment in quote.debt_payments] == [("D-1", D("10.00"))]
