"""quote_vend: the order of deductions, limits, charges, debts, FBE, versions and time zones."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from tariff_documents import ESKOM, ISSUE_EXAMPLE, TSHWANE, utc, variant

from vending.tariffs import (
    Debt,
    PurchaseState,
    TariffError,
    TariffNotInForce,
    VendLimitError,
    parse_tariff,
    quote_vend,
    select_version,
)

D = Decimal
FLAT_EXCLUSIVE = {
    "code": "FLAT-EX", "currency": "ZAR", "effective_from": "2026-01-01",
    "tax": {"name": "VAT", "rate": "0.15", "inclusive": False},
    "energy": {"flat": "2.00"},
    "vend_limits": {"min": "10.00", "max": "5000.00"},
}


def test_exclusive_tax_is_added_on_top_of_the_amount():
    # 100.00 entered, VAT 15 % added: 15.00, the customer pays 115.00; 100.00 / 2.00 = 50 kWh.
    quote = quote_vend(parse_tariff(FLAT_EXCLUSIVE), D("100.00"), PurchaseState(at=utc(2026, 2, 1)))
    assert (quote.amount, quote.tax, quote.total) == (D("100.00"), D("15.00"), D("115.00"))
    assert quote.units_kwh == D("50.0")
    assert quote.breakdown[0].label == "VAT 15% (added)"
    assert quote.breakdown[1].kind == "energy_flat"


def test_tax_rounds_half_up_to_the_minor_unit():
    # Tshwane, VAT 15 % included: 23.00 × 0.15 / 1.15 = 3.00 exactly; 10.03 × 0.15 / 1.15
    # = 1.30826… → 1.31.
    tshwane = parse_tariff(variant(TSHWANE, fixed_charges=[]))
    state = PurchaseState(at=utc(2025, 8, 3))
    assert quote_vend(tshwane, D("23.00"), state).tax == D("3.00")
    assert quote_vend(tshwane, D("10.03"), state).tax == D("1.31")
    # Exact halves: 10 % added to 0.05 is 0.005 → 0.01; a 100 % rate included in 0.05 is
    # 0.025 → 0.03. Half-even rounding would give 0.00 and 0.02.
    added = parse_tariff(variant(ESKOM, tax={"name": "T", "rate": "0.1", "inclusive": False}))
    assert quote_vend(added, D("0.05"), PurchaseState(at=utc(2022, 5, 1))).tax == D("0.01")
    included = parse_tariff(variant(ESKOM, tax={"name": "T", "rate": "1", "inclusive": True}))
    quote = quote_vend(included, D("0.05"), PurchaseState(at=utc(2022, 5, 1)))
    assert (quote.tax, quote.total) == (D("0.03"), D("0.05"))


@pytest.mark.parametrize(("amount", "code", "limit"), [
    (D("9.99"), "amount_below_minimum", D("10.00")),
    (D("5000.01"), "amount_above_maximum", D("5000.00")),
    (D("10.001"), "amount_invalid", None),
    (D("0"), "amount_invalid", None),
    (D("-20.00"), "amount_invalid", None),
    (D("NaN"), "amount_invalid", None),
])
def test_amounts_outside_the_limits_are_refused_with_a_code(amount, code, limit):
    with pytest.raises(VendLimitError) as caught:
        quote_vend(parse_tariff(FLAT_EXCLUSIVE), amount, PurchaseState(at=utc(2026, 2, 1)))
    assert caught.value.code == code
    assert caught.value.limit == limit
    assert isinstance(caught.value, ValueError)


def test_limits_are_inclusive_and_floats_are_refused():
    tariff = parse_tariff(FLAT_EXCLUSIVE)
    state = PurchaseState(at=utc(2026, 2, 1))
    assert quote_vend(tariff, D("10.00"), state).units_kwh == D("5.0")
    assert quote_vend(tariff, D("5000.00"), state).units_kwh == D("2500.0")
    with pytest.raises(TypeError):
        quote_vend(tariff, 10.0, state)  # type: ignore[arg-type]


def test_amount_that_cannot_cover_the_charges_is_refused_with_the_smallest_amount():
    # Tshwane's 180.00 network charge, VAT 15 % included. 206.99 × 0.15 / 1.15 = 26.998… → 27.00,
    # net 179.99 (short); 207.00 × 0.15 / 1.15 = 27.00 exactly, net 180.00 (enough).
    tariff = parse_tariff(TSHWANE)
    with pytest.raises(VendLimitError) as caught:
        quote_vend(tariff, D("150.00"), PurchaseState(at=utc(2025, 8, 2)))
    assert caught.value.code == "amount_below_charges"
    assert caught.value.limit == D("207.00")
    with pytest.raises(VendLimitError):
        quote_vend(tariff, D("206.99"), PurchaseState(at=utc(2025, 8, 2)))
    exact = quote_vend(tariff, D("207.00"), PurchaseState(at=utc(2025, 8, 2)))
    assert (exact.units_kwh, exact.energy_amount, exact.remainder) == (D(0), D(0), D(0))


def test_debt_recovery_takes_its_share_oldest_debt_first_capped_at_the_balances():
    # Issue example, 200.00: VAT 23.01, fee 5.00 → 171.99; 25 % = 42.9975 → 43.00.
    # Oldest D-1 owes 10.00 (paid in full), D-0 has nothing, D-2 gets the other 33.00.
    tariff = parse_tariff(ISSUE_EXAMPLE)
    debts = (Debt("D-1", D("10.00")), Debt("D-0", D("0.00")), Debt("D-2", D("50.00")),
             Debt("D-3", D("70.00")))
    quote = quote_vend(tariff, D("200.00"), PurchaseState(at=utc(2026, 1, 5), debts=debts))
    assert [tuple(p) for p in quote.debt_payments] == [("D-1", D("10.00")), ("D-2", D("33.00"))]
    assert quote.energy_amount + quote.remainder == D("171.99") - D("43.00")
    # Small debts: the recovery stops at what is owed (4.50 + 1.25).
    small = (Debt("A", D("4.50")), Debt("B", D("1.25")))
    quote = quote_vend(tariff, D("200.00"), PurchaseState(at=utc(2026, 1, 5), debts=small))
    assert quote.debt_total == D("5.75")
    assert quote.energy_amount + quote.remainder == D("171.99") - D("5.75")


def test_fixed_charge_is_taken_once_per_period():
    tariff = parse_tariff(ISSUE_EXAMPLE)
    first = quote_vend(tariff, D("100.00"), PurchaseState(at=utc(2026, 1, 5)))
    assert [c.collected_key for c in first.charges] == ["Service fee@2026-01"]
    collected = frozenset(c.collected_key for c in first.charges if c.collected_key)
    again = quote_vend(tariff, D("100.00"),
                       PurchaseState(at=utc(2026, 1, 20), charges_collected=collected))
    assert again.charges == ()
    assert again.energy_amount + again.remainder - first.energy_amount - first.remainder == D(5)
    # Next month the charge is due again.
    february = quote_vend(tariff, D("100.00"),
                          PurchaseState(at=utc(2026, 2, 1), charges_collected=collected))
    assert [c.collected_key for c in february.charges] == ["Service fee@2026-02"]


def test_per_vend_charge_is_taken_on_every_vend():
    tariff = parse_tariff(variant(ESKOM, fixed_charges=[
        {"name": "Transaction fee", "amount": "1.50", "period": "vend"}]))
    quote = quote_vend(tariff, D("100.00"),
                       PurchaseState(at=utc(2022, 5, 2), charges_collected=frozenset({"x"})))
    assert [(c.name, c.amount, c.collected_key) for c in quote.charges] == [
        ("Transaction fee", D("1.50"), None)]


def test_carried_credit_is_energy_money_not_taxed_again():
    # The 0.26064 carried from an earlier vend goes straight to energy: with Tshwane's
    # 1000.00 first vend, energy money is 475.20 + 0.26064 = 475.46064 after block 1, which at
    # 2.6924 buys 176.59… → 176.5 kWh = 475.2086; remainder 0.25204.
    tariff = parse_tariff(TSHWANE)
    quote = quote_vend(tariff, D("1000.00"),
                       PurchaseState(at=utc(2025, 8, 1, 6), carried_credit=D("0.26064")))
    assert quote.tax == D("130.43")
    assert quote.units_kwh == D("276.5")
    assert quote.remainder == D("0.25204")
    assert quote.carried_in == D("0.26064")
    assert ("carried_credit", D("0.26064")) in [(x.kind, x.amount) for x in quote.breakdown]


def test_money_in_equals_the_sum_of_the_lines():
    tariff = parse_tariff(ISSUE_EXAMPLE)
    quote = quote_vend(tariff, D("731.37"), PurchaseState(
        at=utc(2026, 1, 9), energy_bought_kwh=D("233.3"), carried_credit=D("0.0417"),
        debts=(Debt("D-1", D("12.34")),)))
    deductions = [line.amount for line in quote.breakdown
                  if line.kind not in {"carried_credit", "fbe"}]
    assert sum(deductions) == quote.total + quote.carried_in
    assert (quote.tax + quote.charges_total + quote.debt_total + quote.energy_amount
            + quote.remainder) == quote.total + quote.carried_in
    # 731.37: VAT 731.37 × 0.13 / 1.13 = 84.1398… → 84.14; net 647.23; fee 5.00 → 642.23;
    # debt 25 % = 160.5575 → 160.56 capped at 12.34 → 629.89; plus the carried 0.0417.
    assert quote.energy_money == D("629.9317")


def test_to_json_has_only_strings_for_numbers_and_round_trips():
    tariff = parse_tariff(ISSUE_EXAMPLE)
    quote = quote_vend(tariff, D("200.00"), PurchaseState(
        at=utc(2026, 1, 5), debts=(Debt("D-1", D("10.00")),), fbe_eligible=True))
    data = json.loads(json.dumps(quote.to_json()))

    def numbers(value):
        if isinstance(value, dict):
            return [n for item in value.values() for n in numbers(item)]
        if isinstance(value, list):
            return [n for item in value for n in numbers(item)]
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []

    assert numbers(data) == []
    assert data["units_kwh"] == "323.2"
    assert data["fbe_kwh"] == "50.0"
    assert data["tax"] == "23.01"
    assert data["carried_in"] == "0.00"
    assert data["tariff_version"] == "2026-01-01"
    assert data["breakdown"][3] == {"kind": "energy_block", "label": "Block 1 (0-240 kWh)",
                                    "amount": "117.192", "kwh": "240.0", "rate": "0.4883"}


# ----------------------------------------------------------------------------- time zones


def test_a_vend_at_23_30_utc_on_the_31st_is_already_next_month_in_johannesburg():
    sast = parse_tariff(variant(ISSUE_EXAMPLE, timezone="Africa/Johannesburg"))
    in_utc = parse_tariff(variant(ISSUE_EXAMPLE, timezone="UTC"))
    moment = utc(2026, 1, 31, 23, 30)
    assert sast.block_period_key(moment) == "2026-02"
    assert sast.fbe_period_key(moment) == "2026-02"
    assert sast.charge_period_key("Service fee", moment) == "Service fee@2026-02"
    assert in_utc.block_period_key(moment) == "2026-01"
    # The January fee was collected; in Johannesburg it is February, so the fee is due again.
    collected = frozenset({"Service fee@2026-01"})
    state = PurchaseState(at=moment, charges_collected=collected)
    assert [c.collected_key for c in quote_vend(sast, D("100.00"), state).charges] == [
        "Service fee@2026-02"]
    assert quote_vend(in_utc, D("100.00"), state).charges == ()


def test_timezone_defaults_to_utc():
    tariff = parse_tariff(variant(ESKOM, timezone=None))
    assert tariff.timezone == "UTC"
    assert tariff.block_period_key(utc(2022, 5, 31, 23, 59)) == "2022-05"
    assert tariff.block_period_key(utc(2022, 6, 1, 0, 0)) == "2022-06"


def test_naive_datetimes_are_refused():
    tariff = parse_tariff(ESKOM)
    with pytest.raises(ValueError, match="aware"):
        quote_vend(tariff, D("100.00"), PurchaseState(at=datetime(2022, 5, 1)))  # noqa: DTZ001
    with pytest.raises(ValueError, match="aware"):
        tariff.block_period_key(datetime(2022, 5, 1))  # noqa: DTZ001


def test_inconsistent_state_is_refused():
    tariff = parse_tariff(ESKOM)
    with pytest.raises(ValueError, match=r"multiple of 0\.1"):
        quote_vend(tariff, D("100.00"), PurchaseState(at=utc(2022, 5, 1),
                                                      energy_bought_kwh=D("1.05")))
    with pytest.raises(ValueError, match="non-negative"):
        quote_vend(tariff, D("100.00"), PurchaseState(at=utc(2022, 5, 1),
                                                      carried_credit=D("-0.01")))


# ----------------------------------------------------------------------------- versions


def _versions():
    july = parse_tariff(TSHWANE)
    august = parse_tariff(variant(TSHWANE, effective_from="2025-08-15", energy={
        "blocks": {"period": "month", "steps": [
            {"up_to_kwh": "100", "price": "2.50"}, {"up_to_kwh": "400", "price": "3.00"},
            {"up_to_kwh": None, "price": "4.00"}]}}))
    return july, august


def test_version_switches_at_local_midnight_of_its_effective_date():
    july, august = _versions()
    # 2025-08-15 00:00 in Johannesburg is 2025-08-14 22:00 UTC.
    assert select_version([august, july], utc(2025, 8, 14, 21, 59)) is july
    assert select_version([august, july], utc(2025, 8, 14, 22, 0)) is august
    with pytest.raises(TariffNotInForce):
        select_version([august, july], utc(2025, 6, 30, 21, 59))
    with pytest.raises(TariffNotInForce):
        quote_vend(august, D("500.00"), PurchaseState(at=utc(2025, 8, 14, 21, 59)))


def test_version_switch_mid_month_keeps_the_block_counter_and_the_charges():
    # 300 kWh bought under the July version earlier in August, network charge collected.
    # Under the new version from the 15th, 60.00 (VAT 15 % included: 60 × 0.15/1.15 = 7.826…
    # → 7.83; net 52.17) starts in block 2 at the new 3.00: 52.17 / 3 = 17.39 → 17.3 kWh
    # = 51.90; remainder 0.27.
    july, august = _versions()
    moment = utc(2025, 8, 20, 9)
    tariff = select_version([july, august], moment)
    quote = quote_vend(tariff, D("60.00"), PurchaseState(
        at=moment, energy_bought_kwh=D(300),
        charges_collected=frozenset({"Network charge@2025-08"})))
    assert quote.tariff_version == "2025-08-15"
    assert quote.block_period_key == "2025-08"
    assert quote.charges == ()
    assert [(x.kwh, x.rate) for x in quote.breakdown if x.kind == "energy_block"] == [
        (D("17.3"), D("3.00"))]
    assert quote.remainder == D("0.27")


def test_select_version_refuses_mixed_codes_and_duplicate_dates():
    july, _ = _versions()
    with pytest.raises(ValueError, match="several tariffs"):
        select_version([july, parse_tariff(ESKOM)], utc(2025, 8, 1))
    with pytest.raises(ValueError, match="effective_from"):
        select_version([july, july], utc(2025, 8, 1))
    assert issubclass(TariffNotInForce, TariffError)
