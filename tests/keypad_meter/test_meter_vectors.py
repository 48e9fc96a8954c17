"""Every token vector, typed into a meter manufactured with the vector's key.

Electricity credit (kWh and currency), management and test tokens are accepted; water, gas
and time credit and the water meter factor are recognised and refused as not supported by an
electricity meter (function_error); a lone key-change section is stored (kct_pending); a
negative currency token on an empty meter is a range error and the currency boundary vectors
(up to 1.8E+29) overflow the meter's register. Complete key-change sets from the
vectors are entered in every order and must install the key the vector says.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from meter_fixtures import T0, vector_key, vector_meter, vectors

import tokens
from keypad_meter import ResultCode
from keypad_meter.state import CURRENCY_SCALE, DEFAULT_MAX_CURRENCY

NOT_ELECTRICITY = {(0, 1), (0, 2), (0, 3), (0, 5), (0, 6), (0, 7), (2, 7)}


def expected(record: dict[str, Any]) -> ResultCode:
    c, s = record["class"], record["subclass"]
    if (c, s) in NOT_ELECTRICITY:
        return ResultCode.FUNCTION_ERROR
    if c == 2 and s in (3, 4, 8, 9):
        return ResultCode.KCT_PENDING
    if (c, s) == (0, 4):
        amount = tokens.decode(record["token"], vector_key(record["key"])).amount  # type: ignore[attr-defined]
        if amount < 0:
            return ResultCode.RANGE_ERROR
        if amount * CURRENCY_SCALE > DEFAULT_MAX_CURRENCY:
            return ResultCode.OVERFLOW_ERROR  # the boundary vectors reach 1.8E+29
        return ResultCode.ACCEPT
    return ResultCode.ACCEPT


@pytest.mark.parametrize("record", [pytest.param(r, id=r["id"]) for r in vectors()])
def test_vector_token_on_its_meter(record: dict[str, Any]) -> None:
    meter = vector_meter(record["key"])
    result = meter.enter(record["token"], T0)
    assert result.code is expected(record), result.display
    if record["class"] == 0 and record["subclass"] == 0 and result.accepted:
        units = tokens.decode_transfer_amount(int(record["payload"], 16) & 0xFFFF)
        assert meter.state.credit_wh == units * 100
        assert record["tid"] in meter.state.tid_memory
        assert meter.enter(record["token"], T0).code is ResultCode.USED


def test_vector_coverage_is_broad() -> None:
    """The parametrized test above reaches accept for every class the vectors hold."""
    classes = {(r["class"], r["subclass"]) for r in vectors()}
    assert {(0, 0), (0, 4), (1, 0), (1, 1), (2, 0), (2, 1), (2, 5), (2, 6)} <= classes
    assert sum(expected(r) is ResultCode.ACCEPT for r in vectors()) > 180


def _kct_sets() -> list[Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in vectors():
        m = re.match(r"(.+)\.kct\d$", r["id"])
        if m:
            groups[m.group(1)].append(r)
    complete = []
    for name, records in sorted(groups.items()):
        new = records[0].get("fields_as_in_source", {}).get("new_decoder_key_hex")
        key = vector_key(records[0]["key"])
        decoded = [tokens.decode(r["token"], key) for r in records]
        first = next((t for t in decoded if isinstance(t, tokens.KeyChange1)), None)
        needed = tokens.keychange.sections_needed(first, key.ea.key_length * 8)
        if new and needed == {t.subclass for t in decoded}:
            complete.append(pytest.param(records, new, id=name))
    return complete


KCT_SETS = _kct_sets()


def test_vectors_hold_complete_key_change_sets() -> None:
    assert len(KCT_SETS) >= 3


@pytest.mark.parametrize(("records", "new_key"), KCT_SETS)
def test_vector_key_change_set_in_any_order(records: list[dict[str, Any]], new_key: str) -> None:
    fields = records[0]["fields_as_in_source"]
    for order in itertools.permutations(records):
        meter = vector_meter(records[0]["key"])
        meter.state.credit_wh = 5000
        codes = [meter.enter(r["token"], T0).code for r in order]
        assert codes == [ResultCode.KCT_PENDING] * (len(order) - 1) + [ResultCode.KEY_CHANGED]
        assert meter.state.decoder_key == new_key
        assert meter.state.krn == fields["krn_new"]
        assert meter.state.ti == int(fields["ti_new"])
        assert meter.state.credit_wh == 5000  # credit survives a key change
        if fields.get("rollover_bit"):
            assert meter.state.tid_memory == []
        # the old tokens no longer pass the CRC under the new key
        assert meter.enter(order[0]["token"], T0).code is ResultCode.CRC_ERROR
    # a credit token under the new key is accepted
    new = tokens.DecoderKey.from_hex(new_key, meter.state.ea)
    token = tokens.encode(tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY,
                                                tid=12345, units=10), new)
    assert meter.enter(token, T0).code is ResultCode.ACCEPT
    assert meter.state.credit_kwh == Decimal("6.000")
