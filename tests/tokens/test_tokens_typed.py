"""Typed tokens: every class and subclass, exactness of amounts, function/CRC/format errors,
and key material kept out of every ``repr``/``str``."""

from __future__ import annotations

import bisect
import random
from decimal import Decimal

import pytest
import tokens_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tokens
from tokens.codec import LAYOUTS, encode_raw
from tokens.des import LegacyDes
from tokens.keychange import key_change_tokens
from tokens.misty1 import Misty1
from tokens.sta import Sta

KEYS = {
    "EA07": tokens.DecoderKey(bytes.fromhex("e653341f9d5bf36f"), "07"),
    "EA09": tokens.DecoderKey(bytes.fromhex("133457799bbcdff1"), "09"),
    "EA11": tokens.DecoderKey(bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"), "11"),
}

EXAMPLES: dict[tuple[int, int], tokens.Token] = {
    (0, 0): tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=5871715, rnd=5, units=1),
    (0, 1): tokens.TransferCredit(kind=tokens.CreditKind.WATER, tid=0, rnd=0, units=16384),
    (0, 2): tokens.TransferCredit(kind=tokens.CreditKind.GAS, tid=0xFFFFFF, rnd=15, units=180224),
    (0, 3): tokens.TransferCredit(kind=tokens.CreditKind.TIME, tid=1, rnd=1, units=18201624),
    (0, 4): tokens.CurrencyCredit(
        kind=tokens.CurrencyKind.ELECTRICITY, tid=7, amount=Decimal("1.00004")
    ),
    (0, 5): tokens.CurrencyCredit(
        kind=tokens.CurrencyKind.WATER, tid=8, amount=Decimal("-0.99994")
    ),
    (0, 6): tokens.CurrencyCredit(kind=tokens.CurrencyKind.GAS, tid=9, amount=Decimal("0")),
    (0, 7): tokens.CurrencyCredit(
        kind=tokens.CurrencyKind.TIME, tid=10, amount=Decimal("16383.42624")
    ),
    (1, 0): tokens.MeterTest(control=2**36 - 1, mfr_code=0, variant=0),
    (1, 1): tokens.MeterTest(control=1, mfr_code=0xFFFF, variant=1),
    (1, 2): tokens.MeterTest(control=0xFC0000000, mfr_code=0x92, variant=2),
    (2, 0): tokens.SetMaximumPowerLimit(tid=100, rnd=5, watts=1000),
    (2, 1): tokens.ClearCredit(tid=101, rnd=5, register=0xFFFF),
    (2, 2): tokens.SetTariffRate(tid=102, rnd=5, rate=1234),
    (2, 3): tokens.KeyChange1(kenho=15, krn=1, ro=1, s3kct=0, kt=2, nkho=0x060B8643),
    (2, 4): tokens.KeyChange2(kenlo=15, ti=2, nklo=0xC59A27F1),
    (2, 5): tokens.ClearTamperCondition(tid=105, rnd=5),
    (2, 6): tokens.SetMaximumPhasePowerUnbalanceLimit(tid=106, rnd=5, watts=10),
    (2, 7): tokens.SetWaterMeterFactor(tid=107, rnd=5, factor=0xFFFF),
    (2, 8): tokens.KeyChange3(sgclo=0x241, nkmo2=0x72EF892E),
    (2, 9): tokens.KeyChange4(sgcho=0x01E, nkmo1=0xF6E04C28),
    (2, 10): tokens.ExtendedManagement(tid=110, rnd=5, value=0xFC00),
}


def test_examples_cover_every_defined_class_and_subclass() -> None:
    assert set(EXAMPLES) == set(LAYOUTS)
    for (token_class, subclass), token in EXAMPLES.items():
        assert (token.token_class, token.subclass) == (token_class, subclass)


@pytest.mark.parametrize("ea", list(KEYS))
@pytest.mark.parametrize("token", list(EXAMPLES.values()), ids=[f"{c}-{s}" for (c, s) in EXAMPLES])
def test_every_class_and_subclass_round_trips(token: tokens.Token, ea: str) -> None:
    key = KEYS[ea]
    digits = tokens.encode(token, key)
    assert tokens.decode(digits, key) == token
    assert type(tokens.decode(digits, key)) is type(token)
    raw = tokens.decode_raw(digits, key.cipher())
    assert raw.tid == token.tid
    assert raw.fields == token.fields()


def test_tid_property() -> None:
    assert EXAMPLES[(0, 0)].tid == 5871715
    assert EXAMPLES[(2, 1)].tid == 101
    for sub in (3, 4, 8, 9):
        assert EXAMPLES[(2, sub)].tid is None
    assert EXAMPLES[(1, 0)].tid is None


# ----------------------------------------------------------- amounts carried exactly
_ALL_TRANSFER_VALUES = sorted(ref.ref_transfer_value(f) for f in range(0x10000))


def _carried_transfer(units: int) -> int:
    return _ALL_TRANSFER_VALUES[bisect.bisect_left(_ALL_TRANSFER_VALUES, units)]


@settings(max_examples=200, deadline=None)
@given(units=st.integers(16_385, 18_201_623))
def test_transfer_credit_refuses_inexact_units_and_names_the_carried_value(units: int) -> None:
    carried = _carried_transfer(units)
    if carried == units:
        token = tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=1, units=units)
        assert tokens.decode(tokens.encode(token, KEYS["EA07"]), KEYS["EA07"]) == token
        return
    with pytest.raises(tokens.RangeError) as caught:
        tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=1, units=units)
    assert str(carried) in str(caught.value)
    assert tokens.round_up_units(units) == carried


@pytest.mark.parametrize(
    ("units", "carried"), [(16_385, 16_394), (180_215, 180_224), (1_818_625, 1_819_624)]
)
def test_inexact_values_name_the_carried_value(units: int, carried: int) -> None:
    assert _carried_transfer(units) == carried
    for build in (
        lambda: tokens.TransferCredit(kind=tokens.CreditKind.GAS, tid=1, units=units),
        lambda: tokens.SetMaximumPowerLimit(tid=1, watts=units),
        lambda: tokens.SetMaximumPhasePowerUnbalanceLimit(tid=1, watts=units),
    ):
        with pytest.raises(tokens.RangeError) as caught:
            build()
        assert str(carried) in str(caught.value)


@pytest.mark.parametrize("units", [-1, 18_201_625, 1.0, "1", None, True, Decimal(1)])
def test_transfer_credit_units_out_of_range_or_not_int(units: object) -> None:
    with pytest.raises(tokens.RangeError):
        tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=1, units=units)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "carried"),
    [("1", "1.00004"), ("-1", "-0.99994"), ("0.000001", "0.00001"), ("163.8301", "163.83624")],
)
def test_currency_credit_refuses_inexact_amounts(amount: str, carried: str) -> None:
    # carried: the reference coding's nearest value at or above the amount
    se, field = tokens.encode_currency_amount(Decimal(amount))
    assert ref.ref_currency_value(se, field) == Decimal(carried)
    with pytest.raises(tokens.RangeError) as caught:
        tokens.CurrencyCredit(kind=tokens.CurrencyKind.ELECTRICITY, tid=1, amount=Decimal(amount))
    assert carried in str(caught.value)


# --------------------------------------------------------- field and kind validation
@pytest.mark.parametrize(
    "build",
    [
        lambda: tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=2**24, units=1),
        lambda: tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=-1, units=1),
        lambda: tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=1, rnd=16, units=1),
        lambda: tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=True, units=1),
        lambda: tokens.ClearCredit(tid=1, register=0x10000),
        lambda: tokens.MeterTest(control=2**36, mfr_code=0, variant=0),
        lambda: tokens.MeterTest(control=2**28, mfr_code=0, variant=1),
        lambda: tokens.MeterTest(control=0, mfr_code=256, variant=0),
        lambda: tokens.MeterTest(control=0, mfr_code=0, variant=3),
        lambda: tokens.KeyChange1(kenho=16, krn=1, ro=0, s3kct=0, kt=2, nkho=0),
        lambda: tokens.KeyChange1(kenho=1, krn=1, ro=2, s3kct=0, kt=2, nkho=0),
        lambda: tokens.KeyChange2(kenlo=1, ti=256, nklo=0),
        lambda: tokens.KeyChange3(sgclo=0x1000, nkmo2=0),
        lambda: tokens.KeyChange4(sgcho=0, nkmo1=2**32),
        lambda: tokens.CurrencyCredit(kind=tokens.CurrencyKind.GAS, tid=1, amount=1.5),
    ],
)
def test_out_of_range_fields_raise_range_error(build: object) -> None:
    with pytest.raises(tokens.RangeError):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    "build",
    [
        lambda: tokens.TransferCredit(kind=4, tid=1, units=1),
        lambda: tokens.TransferCredit(kind=None, tid=1, units=1),
        lambda: tokens.CurrencyCredit(kind=0, tid=1, amount=Decimal(1)),
        lambda: tokens.MeterTest(control=0, mfr_code=0, variant=1.0),
    ],
    ids=["credit-kind-4", "credit-kind-None", "currency-kind-0", "variant-float"],
)
def test_bad_kinds_raise_typed_errors(build: object) -> None:
    with pytest.raises(tokens.StsError):
        build()  # type: ignore[operator]


# ------------------------------------------------------------------- function errors
RESERVED = [(0, s) for s in range(8, 16)] + [(1, s) for s in range(3, 16)]
RESERVED += [(2, s) for s in range(11, 16)] + [(3, s) for s in range(16)]


@pytest.mark.parametrize(("token_class", "subclass"), RESERVED)
def test_reserved_class_or_subclass_cannot_be_encoded(token_class: int, subclass: int) -> None:
    with pytest.raises(tokens.FunctionError):
        encode_raw(token_class, subclass, 0, KEYS["EA07"].cipher())


@pytest.mark.parametrize(("token_class", "subclass"), RESERVED)
def test_reserved_class_or_subclass_decodes_to_function_error(
    token_class: int, subclass: int
) -> None:
    """A block with a valid CRC but a reserved (class, subclass), built by the reference code."""
    key = KEYS["EA07"]
    block = ref.ref_data_block(token_class, subclass, 0x123456789AB)
    if token_class != 1:
        block = ref.ref_sta_encrypt(int.from_bytes(key.key, "big"), block, "production")
    digits = f"{ref.ref_transpose(block, token_class):020d}"
    with pytest.raises(tokens.FunctionError) as caught:
        tokens.decode(digits, key)
    assert caught.value.code == "function_error"


@settings(max_examples=100, deadline=None)
@given(number=st.integers(0, 2**66 - 1))
def test_class_3_is_always_a_function_error(number: int) -> None:
    number |= 3 << 27
    for key in (*KEYS.values(), None):
        with pytest.raises(tokens.FunctionError):
            tokens.decode(f"{number:020d}", key)


# ------------------------------------------------------------------------ wrong key
def test_wrong_key_is_a_crc_error() -> None:
    rng = random.Random(20261128)  # fixed seed: no flaky 2**-16 CRC collisions
    tokens_to_try = [t for t in EXAMPLES.values() if t.token_class != 1]
    for ea, right in KEYS.items():
        size = len(right.key)
        for token in tokens_to_try:
            wrong = tokens.DecoderKey(rng.randbytes(size), ea[2:])
            digits = tokens.encode(token, right)
            with pytest.raises(tokens.CrcError) as caught:
                tokens.decode(digits, wrong)
            assert caught.value.code == "crc_error"
            with pytest.raises(tokens.CrcError):
                tokens.decode(digits, None)  # encrypted, and no key given


def test_mistyped_digit_is_rejected() -> None:
    key = KEYS["EA07"]
    digits = tokens.encode(EXAMPLES[(0, 0)], key)
    for position in range(20):
        for replacement in "0123456789":
            if replacement == digits[position]:
                continue
            typo = digits[:position] + replacement + digits[position + 1 :]
            try:
                decoded = tokens.decode(typo, key)
            except tokens.StsError:
                continue
            assert decoded != EXAMPLES[(0, 0)]


def test_encrypted_classes_need_a_key() -> None:
    with pytest.raises(tokens.StsError):
        tokens.encode(EXAMPLES[(0, 0)], None)


# ------------------------------------------------------------- keys never in repr
def _assert_hidden(obj: object, *secrets: bytes) -> None:
    for text in (repr(obj), str(obj), f"{obj}", f"{obj!r}"):
        for secret in secrets:
            for form in (secret.hex(), secret.hex().upper(), repr(secret), str(secret)):
                assert form not in text, f"key material in {type(obj).__name__} text: {text}"


@settings(max_examples=40, deadline=None)
@given(
    key8=st.binary(min_size=8, max_size=8),
    key16=st.binary(min_size=16, max_size=16),
    vk20=st.binary(min_size=20, max_size=20),
)
def test_keys_never_in_repr_or_str(key8: bytes, key16: bytes, vk20: bytes) -> None:
    dk8, dk9, dk16 = (
        tokens.DecoderKey(key8, "07"),
        tokens.DecoderKey(key8, "09"),
        tokens.DecoderKey(key16, "11"),
    )
    for dk in (dk8, dk9, dk16):
        _assert_hidden(dk, dk.key)
        _assert_hidden(dk.cipher(), dk.key)
    _assert_hidden(Sta(key8), key8)
    _assert_hidden(LegacyDes(key8), key8)
    _assert_hidden(Misty1(key16), key16)
    for dkga, vk, ea in (("02", key8, "07"), ("04", vk20, "11"), ("04", vk20, "07")):
        derivation = tokens.KeyDerivation(
            dkga=dkga,
            vending_key=vk,
            pan="600727000000000009",
            kt=2,
            sgc="123456",
            ti=1,
            krn=1,
            base_date=1993,
            ea=ea,
        )
        derived = derivation.derive()
        _assert_hidden(derivation, vk, derived.key)
        _assert_hidden(derived, derived.key)
    new = tokens.NewKeyData(key=dk16, kt=2, krn=2, ti=1, sgc="123456")
    _assert_hidden(new, key16)
    sections = [tokens.decode(d, dk8) for d in key_change_tokens(dk8, new)]
    assembled = tokens.assemble_key(sections, 128)
    assert assembled.key == key16
    _assert_hidden(assembled, key16)


def test_key_errors_do_not_quote_the_key() -> None:
    secret = "e653341f9d5bf36fab"  # 9 bytes: wrong length for every EA
    for ea in ("07", "09", "11"):
        with pytest.raises(tokens.DecoderKeyError) as caught:
            tokens.DecoderKey.from_hex(secret, ea)
        assert secret not in str(caught.value) and secret[:16] not in str(caught.value)
