"""Property tests: round trips, the total decoder, amount codings, TIDs."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, localcontext

import pytest
import tokens_reference as ref
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tokens_strategies import BASE_DATES, decoder_keys, key_derivations, typed_tokens

import tokens
from tokens.codec import LAYOUTS, MAX_TOKEN_NUMBER, pack_fields, unpack_fields

CRYPTO = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHEAP = settings(max_examples=300, deadline=None)


# ------------------------------------------------------------------------ round trips
@CRYPTO
@given(token=typed_tokens, key=decoder_keys())
def test_decode_encode_round_trip_every_ea(token: tokens.Token, key: tokens.DecoderKey) -> None:
    digits = tokens.encode(token, key)
    assert len(digits) == 20 and digits.isascii() and digits.isdigit()
    assert tokens.decode(digits, key) == token
    raw = tokens.decode_raw(digits, key.cipher())
    assert (raw.token_class, raw.subclass) == (token.token_class, token.subclass)
    assert raw.payload == token.payload()


@CRYPTO
@given(token=typed_tokens, derivation=key_derivations())
def test_round_trip_under_both_dkgas(token: tokens.Token, derivation: tokens.KeyDerivation) -> None:
    key = derivation.derive()
    assert key.ea is derivation.ea
    assert len(key.key) == (16 if key.ea is tokens.EncryptionAlgorithm.EA11 else 8)
    assert tokens.decode(tokens.encode(token, key), key) == token


@CRYPTO
@given(token=typed_tokens, key=decoder_keys(), table_set=st.sampled_from(["production", "sample"]))
def test_round_trip_with_either_table_set(
    token: tokens.Token, key: tokens.DecoderKey, table_set: str
) -> None:
    tables = tokens.load_tables(table_set)
    assert tokens.decode(tokens.encode(token, key, tables), key, tables) == token


@CHEAP
@given(data=st.data())
def test_raw_encode_matches_reference_construction(data: st.DataObject) -> None:
    """Class 1 (no cipher): the 20 digits equal SPEC §5.2 built by the reference code."""
    sub = data.draw(st.sampled_from([0, 1, 2]))
    payload = data.draw(st.integers(0, 2**44 - 1))
    block = ref.ref_data_block(1, sub, payload)
    assert tokens.encode_raw(1, sub, payload, None) == f"{ref.ref_transpose(block, 1):020d}"


@CRYPTO
@given(
    key=st.binary(min_size=8, max_size=8),
    token_class=st.sampled_from([0, 2]),
    data=st.data(),
)
def test_raw_encode_matches_reference_sta(
    key: bytes, token_class: int, data: st.DataObject
) -> None:
    """EA07 tokens equal CRC → data block → reference STA → transposition (SPEC §5.2)."""
    sub = data.draw(st.sampled_from([s for (c, s) in LAYOUTS if c == token_class]))
    payload = data.draw(st.integers(0, 2**44 - 1))
    dk = tokens.DecoderKey(key, "07")
    cipher = ref.ref_sta_encrypt(
        int.from_bytes(key, "big"), ref.ref_data_block(token_class, sub, payload), "production"
    )
    expected = f"{ref.ref_transpose(cipher, token_class):020d}"
    assert tokens.encode_raw(token_class, sub, payload, dk.cipher()) == expected


@CHEAP
@given(data=st.data())
def test_pack_unpack_fields(data: st.DataObject) -> None:
    (token_class, sub), layout = data.draw(st.sampled_from(sorted(LAYOUTS.items())))
    fields = {name: data.draw(st.integers(0, 2**width - 1)) for name, width in layout}
    payload = pack_fields(token_class, sub, fields)
    assert 0 <= payload < 2**44
    assert unpack_fields(token_class, sub, payload) == fields
    # MSB first, in layout order (SPEC §1.2)
    expected, shift = 0, 44
    for name, width in layout:
        shift -= width
        expected |= fields[name] << shift
    assert shift == 0 and payload == expected


@CHEAP
@given(number=st.integers(0, MAX_TOKEN_NUMBER), token_class=st.integers(0, 3))
def test_transposition_matches_reference(number: int, token_class: int) -> None:
    block = number & ref.MASK64
    assert tokens.codec.transpose(block, token_class) == ref.ref_transpose(block, token_class)
    assert tokens.codec.untranspose(number) == ref.ref_untranspose(number)
    assert tokens.codec.untranspose(tokens.codec.transpose(block, token_class)) == (
        token_class,
        block,
    )


# --------------------------------------------------------------- the decoder is total
_TOTAL_KEYS = [
    tokens.DecoderKey(bytes.fromhex("e653341f9d5bf36f"), "07"),
    tokens.DecoderKey(bytes.fromhex("e653341f9d5bf36f"), "09"),
    tokens.DecoderKey(bytes.fromhex("f94b6ed353c3bfdb113e2d3a7ea3c41d"), "11"),
]


@settings(max_examples=400, deadline=None)
@given(
    digits=st.text(alphabet="0123456789", min_size=20, max_size=20),
    key=st.sampled_from([*_TOTAL_KEYS, None]),
)
def test_any_20_digits_decode_to_a_value_or_a_typed_error(
    digits: str, key: tokens.DecoderKey | None
) -> None:
    try:
        token = tokens.decode(digits, key)
    except tokens.StsError as exc:
        assert exc.code  # every error carries its machine code
        if int(digits) > MAX_TOKEN_NUMBER:
            assert isinstance(exc, tokens.TokenFormatError)
        return
    assert isinstance(token, tokens.Token)
    assert int(digits) <= MAX_TOKEN_NUMBER


@settings(max_examples=400, deadline=None)
@given(number=st.integers(0, MAX_TOKEN_NUMBER), key=st.sampled_from(_TOTAL_KEYS))
def test_any_66_bit_number_decodes_to_a_value_or_a_typed_error(
    number: int, key: tokens.DecoderKey
) -> None:
    with contextlib.suppress(tokens.CrcError, tokens.FunctionError):
        tokens.decode(f"{number:020d}", key)


@CHEAP
@given(payload=st.integers(0, 2**44 - 1), sub=st.integers(0, 15))
def test_class_1_tokens_with_valid_crc_decode_or_raise_function_error(
    payload: int, sub: int
) -> None:
    number = ref.ref_transpose(ref.ref_data_block(1, sub, payload), 1)
    if (1, sub) in LAYOUTS:
        raw = tokens.decode_raw(f"{number:020d}", None)
        assert (raw.token_class, raw.subclass, raw.payload) == (1, sub, payload)
    else:
        with pytest.raises(tokens.FunctionError):
            tokens.decode_raw(f"{number:020d}", None)


# ------------------------------------------------------------------- amount codings
_TRANSFER_MAX = ref.ref_transfer_value(0xFFFF)
_CURRENCY_MAX = ref.ref_amount_value(31, 0x3FFF)


def _transfer_gap_below(field: int) -> int:
    """Distance from a field's value down to the next lower representable value."""
    e, m = field >> 14, field & 0x3FFF
    if m:
        return 10**e
    return 10 ** (e - 1) if e else 1


@CHEAP
@given(units=st.integers(0, _TRANSFER_MAX))
def test_transfer_amount_rounds_up_to_the_nearest_code(units: int) -> None:
    field = tokens.encode_transfer_amount(units)
    carried = tokens.decode_transfer_amount(field)
    assert carried == ref.ref_transfer_value(field)
    assert carried >= units  # rounds up, never down
    assert carried - _transfer_gap_below(field) < units  # ... to the nearest code above
    e = field >> 14
    if e:  # the smallest exponent: the lower one cannot reach the value
        assert ref.ref_amount_value(e - 1, 0x3FFF) < units
    assert tokens.round_up_units(units) == carried


def test_every_transfer_field_decodes_by_the_formula_and_is_canonical() -> None:
    for field in range(0x10000):
        value = tokens.decode_transfer_amount(field)
        assert value == ref.ref_transfer_value(field)
        assert tokens.encode_transfer_amount(value) == field


@pytest.mark.parametrize("units", [-1, _TRANSFER_MAX + 1, 10**30])
def test_transfer_amount_out_of_range(units: int) -> None:
    with pytest.raises(tokens.RangeError):
        tokens.encode_transfer_amount(units)


_currency_amounts = st.one_of(
    st.integers(-_CURRENCY_MAX, _CURRENCY_MAX).map(lambda t: Decimal(f"{t}E-5")),
    st.decimals(min_value=-(10**7), max_value=10**7, places=8, allow_nan=False),
    st.integers(-(10**12), 10**12).map(lambda t: Decimal(f"{t}E-9")),
)


@CHEAP
@given(amount=_currency_amounts)
def test_currency_amount_rounds_toward_plus_infinity(amount: Decimal) -> None:
    se, field = tokens.encode_currency_amount(amount)
    assert 0 <= se <= 15 and 0 <= field <= 0xFFFF
    carried = tokens.decode_currency_amount(se, field)
    assert carried == ref.ref_currency_value(se, field)
    assert carried >= amount  # positive: up; negative: toward +inf
    e, m = (se & 7) * 4 + (field >> 14), field & 0x3FFF
    unit = Decimal("1E-5")
    # the next value below: negative, one step further from zero; positive, one step down
    gap = 10**e if (se & 8 or m) else (10 ** (e - 1) if e else 1)
    with localcontext(prec=100):  # values reach 36 digits: no default-context rounding here
        assert carried - gap * unit < amount  # the nearest code at or above the amount
    magnitude = ref.ref_amount_value(e, m)
    if e:  # smallest exponent
        assert ref.ref_amount_value(e - 1, 0x3FFF) < magnitude
    assert tokens.round_currency(amount) == carried


@CHEAP
@given(se=st.integers(0, 15), field=st.integers(0, 0xFFFF))
def test_currency_fields_decode_by_the_formula_and_reencode(se: int, field: int) -> None:
    carried = tokens.decode_currency_amount(se, field)
    assert carried == ref.ref_currency_value(se, field)
    again = tokens.encode_currency_amount(carried)
    assert tokens.decode_currency_amount(*again) == carried
    if carried != 0:  # zero has two codes (+0 and -0)
        assert again == (se, field)


@pytest.mark.parametrize(
    ("amount", "expected"),
    [  # SPEC §3.3 examples table
        ("1", (0, 0x60AA)),
        ("16383", (1, 0x78E3)),
        ("-1", (8, 0x60A9)),
        ("-180224", (9, 0xBF49)),
    ],
)
def test_currency_spec_examples(amount: str, expected: tuple[int, int]) -> None:
    assert tokens.encode_currency_amount(Decimal(amount)) == expected


def test_currency_extremes() -> None:
    top = Decimal(f"{_CURRENCY_MAX}E-5")  # 36 significant digits, exact
    assert tokens.encode_currency_amount(top) == (7, 0xFFFF)
    assert tokens.encode_currency_amount(Decimal(f"-{_CURRENCY_MAX}E-5")) == (15, 0xFFFF)
    assert tokens.decode_currency_amount(7, 0xFFFF) == top
    for beyond in (f"{_CURRENCY_MAX + 1}E-5", f"-{_CURRENCY_MAX + 1}E-5", "1E+40", "-1E+40"):
        with pytest.raises(tokens.RangeError):
            tokens.encode_currency_amount(Decimal(beyond))


@CHEAP
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_currency_amount_rejects_floats(value: float) -> None:
    with pytest.raises(tokens.RangeError):
        tokens.encode_currency_amount(value)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- TID
@CHEAP
@given(
    base=st.sampled_from(BASE_DATES),
    tid=st.integers(0, 0xFFFFFF),
    second=st.integers(0, 59),
    micro=st.integers(0, 999_999),
    offset_minutes=st.integers(-14 * 60, 14 * 60),
)
def test_tid_round_trip_over_each_base_date(
    base: tokens.BaseDate, tid: int, second: int, micro: int, offset_minutes: int
) -> None:
    epoch = datetime(int(base), 1, 1, tzinfo=UTC)
    minute = epoch + timedelta(minutes=tid)
    when = (minute + timedelta(seconds=second, microseconds=micro)).astimezone(
        timezone(timedelta(minutes=offset_minutes))
    )
    assert tokens.tid_from_datetime(when, base) == tid
    assert tokens.tid_from_datetime(when, int(base)) == tid
    assert tokens.datetime_from_tid(tid, base) == minute


@pytest.mark.parametrize(
    ("base", "last_minute", "next_base"),
    [  # SPEC §4.2
        (1993, "2024-11-24T20:15", "2014"),
        (2014, "2045-11-24T20:15", "2035"),
        (2035, "2066-11-24T20:15", None),
    ],
)
def test_tid_rollover(base: int, last_minute: str, next_base: str | None) -> None:
    last = datetime.fromisoformat(last_minute).replace(tzinfo=UTC)
    assert tokens.tid_from_datetime(last + timedelta(seconds=59), base) == 0xFFFFFF
    with pytest.raises(tokens.TidRolloverError) as caught:
        tokens.tid_from_datetime(last + timedelta(minutes=1), base)
    assert isinstance(caught.value, tokens.RangeError)
    assert caught.value.code == "tid_rollover"
    if next_base is not None:
        assert next_base in str(caught.value)  # names the base date to move the key to
    with pytest.raises(tokens.TidRolloverError):
        tokens.tid_from_datetime(last + timedelta(days=4000), base)


@CHEAP
@given(base=st.sampled_from(BASE_DATES), minutes=st.integers(1, 10**7))
def test_tid_before_base_date_is_a_range_error(base: tokens.BaseDate, minutes: int) -> None:
    when = datetime(int(base), 1, 1, tzinfo=UTC) - timedelta(minutes=minutes)
    with pytest.raises(tokens.RangeError) as caught:
        tokens.tid_from_datetime(when, base)
    assert not isinstance(caught.value, tokens.TidRolloverError)


@CHEAP
@given(when=st.datetimes())
def test_tid_rejects_naive_datetimes(when: datetime) -> None:
    assume(when.tzinfo is None)
    with pytest.raises(tokens.RangeError):
        tokens.tid_from_datetime(when, 1993)


@pytest.mark.parametrize("tid", [-1, 0x1000000])
def test_datetime_from_tid_out_of_range(tid: int) -> None:
    with pytest.raises(tokens.RangeError):
        tokens.datetime_from_tid(tid, 1993)
