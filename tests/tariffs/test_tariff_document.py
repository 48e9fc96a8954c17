"""Parsing and validation of tariff documents: every problem, with its JSON path, at once."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tariff_documents import (
    BEIJING_TOU,
    ESKOM,
    ISSUE_EXAMPLE,
    SEASONAL_TOU,
    TSHWANE,
    ZHEJIANG,
    ZHEJIANG_TOU,
    variant,
)

from vending.tariffs import BlockStep, Tariff, TariffError, parse_tariff

D = Decimal
ALL_EXAMPLES = [ISSUE_EXAMPLE, ESKOM, TSHWANE, BEIJING_TOU, ZHEJIANG, ZHEJIANG_TOU, SEASONAL_TOU]


def problems_of(document: Any) -> list[str]:
    with pytest.raises(TariffError) as caught:
        parse_tariff(document)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def paths_of(document: Any) -> list[str]:
    return [problem.split(": ", 1)[0] for problem in problems_of(document)]


@pytest.mark.parametrize("document", ALL_EXAMPLES, ids=lambda d: d["code"])
def test_the_example_documents_parse(document):
    assert isinstance(parse_tariff(document), Tariff)


def test_the_issue_example_parses_into_exact_decimals():
    tariff = parse_tariff(ISSUE_EXAMPLE)
    assert (tariff.code, tariff.currency, tariff.minor_unit) == ("RES-BLOCK", "CNY", 2)
    assert tariff.effective_from == date(2026, 1, 1)
    assert tariff.version == "2026-01-01"
    assert tariff.tax is not None and tariff.tax.rate == D("0.13") and tariff.tax.inclusive
    assert tariff.energy.kind == "blocks"
    assert tariff.energy.blocks is not None
    assert tariff.energy.blocks.steps == (
        BlockStep(D(240), D("0.4883")), BlockStep(D(400), D("0.5383")),
        BlockStep(None, D("0.7883")))
    assert tariff.fixed_charges[0].amount == D("5.00")
    assert tariff.free_basic is not None and tariff.free_basic.eligible == "indigent"
    assert tariff.debt_recovery is not None and tariff.debt_recovery.percent == D("0.25")
    assert tariff.vend_limits is not None and tariff.vend_limits.max == D("5000.00")
    assert parse_tariff(BEIJING_TOU).energy.kind == "blocks+time_of_use"
    assert parse_tariff(SEASONAL_TOU).energy.kind == "time_of_use"


def test_every_problem_is_listed_at_once_with_its_path():
    document = {
        "code": "bad code!", "currency": "ZAR", "effective_from": "2026-02-30",
        "timezone": "Mars/Olympus", "colour": "red",
        "tax": {"name": "VAT", "rate": 0.15, "inclusive": "yes"},
        "energy": {"blocks": {"period": "week", "steps": [
            {"up_to_kwh": "350", "price": "1.76"},
            {"up_to_kwh": "300", "price": "1.9"},
            {"up_to_kwh": "400.05", "price": "-2"},
            {"up_to_kwh": None, "price": "1.00001"}]}},
        "fixed_charges": [{"name": "Fee", "amount": "5.001", "period": "month"},
                          {"name": "Fee", "amount": "5.00", "period": "fortnight"}],
        "free_basic_kwh": {"kwh": "50.05", "period": "month"},
        "debt_recovery": {"percent": "1.5"},
        "vend_limits": {"min": "100.00", "max": "10.00"},
    }
    assert paths_of(document) == [
        "$.colour",
        "$.code",
        "$.timezone",
        "$.effective_from",
        "$.tax.rate",
        "$.tax.inclusive",
        "$.energy.blocks.period",
        "$.energy.blocks.steps[1].up_to_kwh",
        "$.energy.blocks.steps[2].up_to_kwh",
        "$.energy.blocks.steps[2].price",
        "$.energy.blocks.steps[3].price",
        "$.fixed_charges[0].amount",
        "$.fixed_charges[1].name",
        "$.fixed_charges[1].period",
        "$.free_basic_kwh.eligible",
        "$.free_basic_kwh.kwh",
        "$.debt_recovery.percent",
        "$.vend_limits",
    ]


def test_missing_required_fields_are_all_named():
    assert paths_of({}) == ["$.code", "$.currency", "$.effective_from", "$.energy"]
    assert problems_of([]) == ["$: must be a JSON object, got an array"]
    assert problems_of(None) == ["$: must be a JSON object, got null"]


@pytest.mark.parametrize("number", [0.4883, 1, True])
def test_json_numbers_are_refused_where_a_decimal_string_is_expected(number):
    document = variant(ESKOM, energy={"flat": number})
    [problem] = problems_of(document)
    assert problem.startswith("$.energy.flat: must be a decimal string")


@pytest.mark.parametrize("text", ["1e3", "1,5", " 1.5", "1.", ".5", "١٢", "+1", "NaN", ""])
def test_only_plain_ascii_decimal_strings_are_accepted(text):
    assert paths_of(variant(ESKOM, energy={"flat": text})) == ["$.energy.flat"]


def test_prices_have_at_most_four_decimals_and_codes_at_most_32_characters():
    # kWh × price must fit the five decimals of the vending database's money columns.
    assert parse_tariff(variant(ESKOM, energy={"flat": "0.4883"})).energy.flat == D("0.4883")
    [problem] = problems_of(variant(ESKOM, energy={"flat": "0.48831"}))
    assert problem == "$.energy.flat: '0.48831' has more than 4 decimal places"
    assert parse_tariff(variant(ESKOM, code="A" * 32)).code == "A" * 32
    assert paths_of(variant(ESKOM, code="A" * 33)) == ["$.code"]


def test_minor_unit_comes_from_the_currency_or_must_be_given():
    assert parse_tariff(variant(ESKOM, currency="JPY", energy={"flat": "30"})).minor_unit == 0
    assert paths_of(variant(ESKOM, currency="XYZ")) == ["$.minor_unit"]
    assert parse_tariff(variant(ESKOM, currency="XYZ", minor_unit=3)).minor_unit == 3
    # Yen have no minor unit, so a 5.50 charge cannot be collected.
    document = variant(ESKOM, currency="JPY", fixed_charges=[
        {"name": "Fee", "amount": "5.50", "period": "month"}])
    assert paths_of(document) == ["$.fixed_charges[0].amount"]


def test_energy_needs_exactly_one_pricing():
    assert paths_of(variant(ESKOM, energy={})) == ["$.energy"]
    assert paths_of(variant(ESKOM, energy={"flat": "1.00", "blocks": {}})) == ["$.energy"]
    assert paths_of(variant(ESKOM, energy={"flat": "1.00", "hourly": "1"})) == [
        "$.energy.hourly"]


def test_blocks_use_prices_alone_and_adders_with_time_of_use():
    with_price = copy.deepcopy(BEIJING_TOU)
    with_price["energy"]["blocks"]["steps"][0] = {"up_to_kwh": "240", "price": "0.4883"}
    assert "$.energy.blocks.steps[0].price" in paths_of(with_price)
    with_adder = copy.deepcopy(ESKOM)
    with_adder["energy"]["blocks"]["steps"][0] = {"up_to_kwh": "350", "adder": "0.05"}
    assert "$.energy.blocks.steps[0].adder" in paths_of(with_adder)


def _seasonal(**days: Any) -> dict[str, Any]:
    document = copy.deepcopy(SEASONAL_TOU)
    document["energy"]["time_of_use"]["calendar"]["seasons"][0]["days"] = days
    return document


def test_tou_day_with_a_gap_or_an_overlap_is_refused():
    gap = _seasonal(all=[{"from": "00:00", "to": "07:00", "period": "peak"},
                         {"from": "07:30", "to": "24:00", "period": "standard"}])
    [problem] = problems_of(gap)
    assert problem == ("$.energy.time_of_use.calendar.seasons[0].days.all: leaves 30 minutes "
                       "uncovered, the first at 07:00")
    overlap = _seasonal(all=[{"from": "22:00", "to": "08:00", "period": "peak"},
                             {"from": "07:00", "to": "22:00", "period": "standard"}])
    [problem] = problems_of(overlap)
    assert problem.endswith("covers 60 minutes twice, the first at 07:00")


def test_tou_references_times_and_day_types_are_checked():
    document = _seasonal(
        weekday=[{"from": "24:00", "to": "07:00", "period": "peak"},
                 {"from": "07:00", "to": "25:00", "period": "standard"},
                 {"from": "7", "to": "08:00", "period": "shoulder"}],
        funday=[{"from": "00:00", "to": "24:00", "period": "peak"}],
    )
    base = "$.energy.time_of_use.calendar.seasons[0].days"
    assert paths_of(document) == [
        f"{base}.funday",
        f"{base}.weekday[0].from", f"{base}.weekday[1].to", f"{base}.weekday[2].from",
        f"{base}.weekday[2].period",
        base, base,  # neither a saturday nor a sunday schedule (nor weekend / all)
    ]


def test_tou_seasons_must_cover_each_month_once_and_holidays_be_dates():
    document = copy.deepcopy(SEASONAL_TOU)
    calendar = document["energy"]["time_of_use"]["calendar"]
    calendar["seasons"][1]["months"] = [5, 6, 7]   # 5 is already low season, 8 is in none
    calendar["holidays"] = ["2026-06-16", "2026-06-16", "16 June"]
    assert paths_of(document) == [
        "$.energy.time_of_use.calendar.holidays[1]",
        "$.energy.time_of_use.calendar.holidays[2]",
        "$.energy.time_of_use.calendar.seasons[1].months[0]",
        "$.energy.time_of_use.calendar.seasons",
    ]


def test_tou_period_names_are_unique_and_priced():
    document = copy.deepcopy(SEASONAL_TOU)
    document["energy"]["time_of_use"]["periods"] += [{"name": "peak", "price": "7.00"},
                                                     {"name": "free", "price": "0"}]
    assert paths_of(document) == ["$.energy.time_of_use.periods[4].name",
                                  "$.energy.time_of_use.periods[5].price"]


def test_charge_names_cannot_hold_the_key_separator():
    document = variant(ESKOM, fixed_charges=[{"name": "a@b", "amount": "1.00", "period": "month"}])
    assert paths_of(document) == ["$.fixed_charges[0].name"]


# ----------------------------------------------------------------------------- robustness

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_junk_documents_raise_tariff_error_only(junk):
    with pytest.raises(TariffError):
        parse_tariff(junk)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _leaves(item, (*path, key))]
    if isinstance(value, list) and value:
        return [p for index, item in enumerate(value) for p in _leaves(item, (*path, index))]
    return [path]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(ALL_EXAMPLES), st.data(), JSON)
def test_a_corrupted_leaf_gives_a_tariff_or_a_tariff_error(document, data, junk):
    document = copy.deepcopy(document)
    path = data.draw(st.sampled_from(_leaves(document)))
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    try:
        parse_tariff(document)
    except TariffError as error:
        assert error.problems
        assert all(problem.startswith("$") for problem in error.problems)
