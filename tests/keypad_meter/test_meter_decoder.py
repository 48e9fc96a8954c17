"""The decoder's checks (SPEC §8) and every result code of CONTRACT §2, on a real meter state."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from meter_fixtures import KEY, SPEC, T0, Clock, credit, new_meter, tid_at

import tokens
from keypad_meter import ResultCode, manufacture
from keypad_meter.decoder import LOCKOUT_MAX_S

TID = tid_at(T0)


def management(token: tokens.Token, key: tokens.DecoderKey = KEY) -> str:
    return tokens.encode(token, key)


def test_accept_adds_credit_and_records_the_tid() -> None:
    meter = new_meter()
    result = meter.enter(credit(TID, "12.5"), T0)
    assert result.code is ResultCode.ACCEPT
    assert result.credit["credit_kwh"] == "12.500"
    assert TID in meter.state.tid_memory
    assert result.token == {"class": 0, "subclass": 0, "type": "TransferCredit", "tid": TID}


def test_token_may_be_typed_with_spaces_and_dashes() -> None:
    meter = new_meter()
    assert meter.enter(tokens.format_token(credit(TID), sep="-"), T0).code is ResultCode.ACCEPT


@pytest.mark.parametrize("text", ["", "1234", "2" * 21, "abcdefghijklmnopqrst",
                                  "99999999999999999999", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠"])
def test_format_error(text: str) -> None:
    meter = new_meter()
    assert meter.enter(text, T0).code is ResultCode.FORMAT_ERROR
    assert meter.state.credit_wh == 0


def test_crc_error_for_another_meters_key() -> None:
    other = tokens.DecoderKey.from_hex("060b8643c59a27f1", "07")
    meter = new_meter()
    assert meter.enter(credit(TID, key=other), T0).code is ResultCode.CRC_ERROR


def test_mistyped_digit_is_a_crc_error() -> None:
    token = credit(TID)
    typo = token[:19] + str((int(token[19]) + 1) % 10)
    assert new_meter().enter(typo, T0).code is ResultCode.CRC_ERROR


def test_class_3_is_a_function_error() -> None:
    number = tokens.parse_token(credit(TID)) | (3 << 27)
    assert new_meter().enter(f"{number:020d}", T0).code is ResultCode.FUNCTION_ERROR


def test_water_credit_is_not_for_an_electricity_meter() -> None:
    water = tokens.encode(tokens.TransferCredit(kind=tokens.CreditKind.WATER, tid=TID,
                                                units=10), KEY)
    meter = new_meter()
    result = meter.enter(water, T0)
    assert result.code is ResultCode.FUNCTION_ERROR
    assert "water" in result.display
    assert TID not in meter.state.tid_memory


def test_ddtk_meter_rejects_credit_but_takes_management() -> None:
    meter = new_meter(kt=1)
    assert meter.enter(credit(TID), T0).code is ResultCode.DDTK_ERROR
    limit = management(tokens.SetMaximumPowerLimit(tid=TID, watts=2000))
    assert meter.enter(limit, T0).code is ResultCode.ACCEPT


def test_key_expired_when_tid_high_byte_exceeds_ken() -> None:
    meter = new_meter(ken=TID >> 16)
    assert meter.enter(credit(TID), T0).code is ResultCode.ACCEPT
    later = ((TID >> 16) + 1) << 16
    assert meter.enter(credit(later), T0).code is ResultCode.KEY_EXPIRED


def test_used_and_old() -> None:
    meter = new_meter(tid_memory_size=3, manufacture_tid=TID - 100)
    assert meter.enter(credit(TID - 150), T0).code is ResultCode.OLD  # before manufacture
    for t in (TID, TID + 1, TID + 2):
        assert meter.enter(credit(t), T0).code is ResultCode.ACCEPT
    assert meter.state.tid_memory == [TID, TID + 1, TID + 2]
    assert meter.enter(credit(TID + 1), T0).code is ResultCode.USED
    # older than everything remembered, although never entered: Old
    assert meter.enter(credit(TID - 1), T0).code is ResultCode.OLD
    assert meter.state.credit_wh == 3000


def test_tokens_out_of_order_are_accepted_while_newer_than_the_oldest_remembered() -> None:
    meter = new_meter()
    assert meter.enter(credit(TID + 5), T0).code is ResultCode.ACCEPT
    assert meter.enter(credit(TID), T0).code is ResultCode.ACCEPT


def test_memory_prefilled_with_manufacture_time() -> None:
    meter = new_meter(manufacture_tid=None, tid_memory_size=4)
    assert meter.state.tid_memory == [0, 0, 0, 0]
    state = manufacture(replace(SPEC, tid_memory_size=4), T0, manufactured_at=T0)
    assert state.tid_memory == [TID] * 4


def test_overflow_error() -> None:
    meter = new_meter(max_credit_wh=10_000)
    assert meter.enter(credit(TID, "10"), T0).code is ResultCode.ACCEPT
    result = meter.enter(credit(TID + 1, "0.1"), T0)
    assert result.code is ResultCode.OVERFLOW_ERROR
    assert meter.state.credit_wh == 10_000
    assert TID + 1 not in meter.state.tid_memory  # a refused token leaves no TID behind


def test_range_error_for_unknown_register() -> None:
    meter = new_meter()
    token = management(tokens.ClearCredit(tid=TID, register=9))
    assert meter.enter(token, T0).code is ResultCode.RANGE_ERROR
    assert TID not in meter.state.tid_memory


def test_range_error_for_unknown_test() -> None:
    token = tokens.encode(tokens.MeterTest(control=1 << 30, mfr_code=0), None)
    assert new_meter().enter(token, T0).code is ResultCode.RANGE_ERROR


def test_mfr_code_error_and_own_code() -> None:
    meter = new_meter(mfr_code="42")
    wrong = tokens.encode(tokens.MeterTest(control=1 << 3, mfr_code=7), None)
    assert meter.enter(wrong, T0).code is ResultCode.MFR_CODE_ERROR
    own = tokens.encode(tokens.MeterTest(control=1 << 3, mfr_code=42), None)
    result = meter.enter(own, T0)
    assert (result.code, result.display) == (ResultCode.ACCEPT, "KRN 1")


def test_test_all_shows_every_display() -> None:
    token = tokens.encode(tokens.MeterTest(control=(1 << 36) - 1, mfr_code=0), None)
    result = new_meter().enter(token, T0)
    assert result.code is ResultCode.ACCEPT
    for part in ("KRN 1", "TI 01", "SGC 123456", "KEN 255", "DRN 00000000000", "EA 07"):
        assert part in result.display


def test_management_tokens_act() -> None:
    meter = new_meter()
    meter.enter(credit(TID, "5"), T0)
    steps = [
        (tokens.SetMaximumPowerLimit(tid=TID + 1, watts=1500), "max_power_w", 1500),
        (tokens.SetMaximumPhasePowerUnbalanceLimit(tid=TID + 2, watts=300),
         "max_phase_unbalance_w", 300),
        (tokens.SetTariffRate(tid=TID + 3, rate=250), "tariff_rate", 250),
    ]
    for token, field, value in steps:
        assert meter.enter(management(token), T0).code is ResultCode.ACCEPT
        assert getattr(meter.state, field) == value
    meter.state.tamper = True
    assert meter.state.relay == "open"
    assert meter.enter(management(tokens.ClearTamperCondition(tid=TID + 4)), T0).accepted
    assert (meter.state.tamper, meter.state.relay) == (False, "closed")
    ext = management(tokens.ExtendedManagement(tid=TID + 5, value=0xFC00))
    assert meter.enter(ext, T0).display == "Accept: extended token fc00"


@pytest.mark.parametrize(("register", "kwh", "currency"),
                         [(0, "0.000", "0.10000"), (4, "5.000", "0.00000"),
                          (0xFFFF, "0.000", "0.00000"), (1, "5.000", "0.10000")])
def test_clear_credit(register: int, kwh: str, currency: str) -> None:
    meter = new_meter()
    meter.enter(credit(TID, "5"), T0)
    money = tokens.CurrencyCredit(kind=tokens.CurrencyKind.ELECTRICITY, tid=TID + 1,
                                  amount=Decimal("0.1"))
    assert meter.enter(tokens.encode(money, KEY), T0).code is ResultCode.ACCEPT
    result = meter.enter(management(tokens.ClearCredit(tid=TID + 2, register=register)), T0)
    assert result.code is ResultCode.ACCEPT
    assert result.credit == {"credit_kwh": kwh, "credit_currency": currency}


def test_negative_currency_token_debits_but_never_below_zero() -> None:
    meter = new_meter()
    amounts = [tokens.round_currency(Decimal(x)) for x in ("3", "-1", "-5")]
    plus, minus, too_much = (
        tokens.CurrencyCredit(kind=tokens.CurrencyKind.ELECTRICITY, tid=TID + i, amount=a)
        for i, a in enumerate(amounts))
    assert meter.enter(tokens.encode(plus, KEY), T0).accepted
    assert meter.enter(tokens.encode(minus, KEY), T0).accepted
    left = amounts[0] + amounts[1]
    assert meter.state.credit_currency == left
    assert meter.enter(tokens.encode(too_much, KEY), T0).code is ResultCode.RANGE_ERROR
    assert meter.state.credit_currency == left


# --- key changes ---------------------------------------------------------------------------

NEW64 = tokens.DecoderKey.from_hex("060b8643c59a27f1", "07")


def kct(new: tokens.NewKeyData, current: tokens.DecoderKey = KEY) -> list[str]:
    return tokens.key_change_tokens(current, new)


def test_two_token_key_change_in_either_order() -> None:
    for reverse in (False, True):
        meter = new_meter()
        pair = kct(tokens.NewKeyData(key=NEW64, kt=2, krn=2, ti=7, ken=200))
        if reverse:
            pair.reverse()
        first = meter.enter(pair[0], T0)
        assert (first.code, first.display) == (ResultCode.KCT_PENDING, "KCT 1 of 2")
        assert meter.enter(pair[1], T0).code is ResultCode.KEY_CHANGED
        s = meter.state
        assert (s.decoder_key, s.krn, s.ti, s.ken, s.sgc) == (NEW64.hex(), 2, 7, 200, "123456")
        assert s.kct_pending == []
        assert meter.enter(credit(TID), T0).code is ResultCode.CRC_ERROR
        assert meter.enter(credit(TID, key=NEW64), T0).code is ResultCode.ACCEPT


def test_three_token_key_change_transfers_the_sgc() -> None:
    meter = new_meter()
    sets = kct(tokens.NewKeyData(key=NEW64, kt=2, krn=3, ti=2, sgc="654321"))
    assert len(sets) == 3
    codes = [meter.enter(t, T0).code for t in (sets[2], sets[0], sets[1])]
    assert codes == [ResultCode.KCT_PENDING, ResultCode.KCT_PENDING, ResultCode.KEY_CHANGED]
    assert meter.state.sgc == "654321"


def test_four_token_key_change_for_ea11() -> None:
    old = tokens.DecoderKey(bytes(range(16)), "11")
    new = tokens.DecoderKey(bytes(range(16, 32)), "11")
    meter = new_meter(ea="11", decoder_key=old.hex())
    sets = kct(tokens.NewKeyData(key=new, kt=2, krn=2, ti=3, sgc="111222"), current=old)
    codes = [meter.enter(t, T0).code for t in (sets[3], sets[1], sets[2], sets[0])]
    assert codes[-1] is ResultCode.KEY_CHANGED and set(codes[:-1]) == {ResultCode.KCT_PENDING}
    assert (meter.state.decoder_key, meter.state.sgc) == (new.hex(), "111222")


def test_fourth_section_on_a_64_bit_meter_is_a_function_error() -> None:
    meter = new_meter()
    section = tokens.encode(tokens.KeyChange4(sgcho=1, nkmo1=2), KEY)
    assert meter.enter(section, T0).code is ResultCode.FUNCTION_ERROR


def test_partial_key_change_expires_after_timeout() -> None:
    clock = Clock()
    meter = new_meter(kct_timeout_s=600)
    pair = kct(tokens.NewKeyData(key=NEW64, kt=2, krn=2, ti=1))
    assert meter.enter(pair[0], clock()).code is ResultCode.KCT_PENDING
    assert meter.status(clock.advance(seconds=599))["kct_pending"] == [3]
    clock.advance(seconds=1)
    assert meter.enter(pair[1], clock()).code is ResultCode.KCT_PENDING  # the first was forgotten
    assert meter.state.decoder_key == KEY.hex()
    assert meter.enter(pair[0], clock.advance(seconds=10)).code is ResultCode.KEY_CHANGED


@pytest.mark.parametrize(("current", "new", "ok"), [(2, 3, False), (2, 0, False), (0, 0, True),
                                                    (1, 2, True), (2, 1, True), (0, 2, True)])
def test_key_type_rules(current: int, new: int, ok: bool) -> None:
    meter = new_meter(kt=current)
    pair = kct(tokens.NewKeyData(key=NEW64, kt=new, krn=2, ti=1))
    meter.enter(pair[0], T0)
    result = meter.enter(pair[1], T0)
    assert result.code is (ResultCode.KEY_CHANGED if ok else ResultCode.KEY_TYPE_ERROR)
    assert meter.state.kct_pending == []
    assert meter.state.decoder_key == (NEW64.hex() if ok else KEY.hex())


def test_rollover_clears_tid_memory_and_moves_base_date() -> None:
    meter = new_meter(base_date=1993, manufacture_tid=100)
    assert meter.enter(credit(5000), T0).accepted
    sets = kct(tokens.NewKeyData(key=NEW64, kt=2, krn=2, ti=1, ro=True))
    for t in sets:
        meter.enter(t, T0)
    assert meter.state.tid_memory == []
    assert meter.state.base_date == 2014
    # TIDs restart from the new base date: a small TID under the new key is now accepted
    assert meter.enter(credit(10, key=NEW64), T0).code is ResultCode.ACCEPT
    # and the pre-rollover token cannot be replayed
    assert meter.enter(credit(5000), T0).code is ResultCode.CRC_ERROR


# --- keypad lockout -------------------------------------------------------------------------

def test_lockout_doubles_and_resets_on_an_accepted_token() -> None:
    clock = Clock()
    meter = new_meter()
    for _ in range(2):
        assert meter.enter("1", clock()).code is ResultCode.FORMAT_ERROR
    assert meter.state.locked_until is None
    waits = []
    for _ in range(9):
        assert meter.enter("1", clock()).code is ResultCode.FORMAT_ERROR
        locked = meter.enter(credit(TID), clock())
        assert locked.code is ResultCode.LOCKOUT
        assert meter.state.credit_wh == 0
        wait = meter.status(clock())["lockout_s"]
        waits.append(wait)
        clock.advance(seconds=wait)
    assert waits == [10, 20, 40, 80, 160, 320, 640, 1280, LOCKOUT_MAX_S]
    assert meter.enter(credit(TID), clock()).code is ResultCode.ACCEPT
    assert (meter.state.failures, meter.state.locked_until) == (0, None)


def test_test_token_does_not_reset_the_lockout_counter() -> None:
    meter = new_meter()
    meter.enter("1", T0)
    meter.enter("1", T0)
    assert meter.enter(tokens.encode(tokens.MeterTest(control=1, mfr_code=0), None), T0).accepted
    assert meter.state.failures == 2


def test_every_result_code_is_reached() -> None:
    """Each code of CONTRACT §2 is asserted by a test in this file or test_meter_vectors."""
    here = Path(__file__)
    source = here.read_text() + (here.parent / "test_meter_vectors.py").read_text()
    for code in ResultCode:
        assert f"ResultCode.{code.name}" in source, code


def test_lockout_display_counts_down() -> None:
    meter = new_meter()
    for _ in range(3):
        meter.enter("1", T0)
    result = meter.enter(credit(TID), T0 + timedelta(seconds=4))
    assert result.display == "Locked 6 s"


def test_sample_sta_tables() -> None:
    """A meter built for the sample table set decodes tokens made with those tables only."""
    sample = tokens.load_tables("sample")
    token = tokens.encode(tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=TID,
                                                units=10), KEY, sample)
    assert new_meter(sta_tables="sample").enter(token, T0).code is ResultCode.ACCEPT
    assert new_meter().enter(token, T0).code is ResultCode.CRC_ERROR


def test_key_change_with_an_sgc_beyond_six_digits_is_refused() -> None:
    """A 24-bit SGC field can hold 16 777 215; an SGC has six digits (range_error)."""
    meter = new_meter()
    sections = [tokens.KeyChange1(kenho=15, krn=2, ro=0, s3kct=1, kt=2, nkho=1),
                tokens.KeyChange2(kenlo=15, ti=1, nklo=2),
                tokens.KeyChange3(sgclo=0xFFF, nkmo2=0xFFF << 20)]
    codes = [meter.enter(tokens.encode(s, KEY), T0).code for s in sections]
    assert codes == [ResultCode.KCT_PENDING, ResultCode.KCT_PENDING, ResultCode.RANGE_ERROR]
    assert (meter.state.decoder_key, meter.state.kct_pending) == (KEY.hex(), [])


def test_no_key_material_in_repr_or_results() -> None:
    meter = new_meter()
    section = kct(tokens.NewKeyData(key=NEW64, kt=2, krn=2, ti=1))[0]
    result = meter.enter(section, T0)
    text = repr(meter.state) + repr(result) + str(meter.status(T0))
    for secret in (KEY.hex(), NEW64.hex()[:8], str(int(NEW64.hex()[:8], 16))):
        assert secret not in text
