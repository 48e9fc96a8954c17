"""Junk fed to every public parser: a value, or a typed error from tokens.errors, nothing else.

The library's errors are all :class:`tokens.StsError` (a ``ValueError``); none of its parsers
documents ``TypeError``, so anything other than ``StsError`` (``TypeError``, ``AttributeError``,
``OverflowError``, a bare ``ValueError``...) is a library bug and fails here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokens
from tokens.codec import pack_fields

EA07_KEY = tokens.DecoderKey(bytes.fromhex("e653341f9d5bf36f"), "07")
AWARE = datetime(2020, 1, 1, tzinfo=UTC)
VALID_DERIVATION: dict[str, Any] = {
    "dkga": "02",
    "vending_key": bytes.fromhex("abababababababab"),
    "pan": "600727000000000009",
    "kt": 2,
    "sgc": "123456",
    "ti": 1,
    "krn": 1,
    "base_date": 1993,
    "ea": "07",
}


def _derivation_with(name: str) -> Callable[[object], object]:
    return lambda junk: tokens.KeyDerivation(**{**VALID_DERIVATION, name: junk})


#: Every public parser, as a one-argument callable that receives the junk.
PARSERS: dict[str, Callable[[object], object]] = {
    "parse_token": lambda x: tokens.parse_token(x),  # type: ignore[arg-type]
    "decode_raw(cipher)": lambda x: tokens.decode_raw(x, EA07_KEY.cipher()),  # type: ignore[arg-type]
    "decode_raw(None)": lambda x: tokens.decode_raw(x, None),  # type: ignore[arg-type]
    "decode": lambda x: tokens.decode(x, EA07_KEY),  # type: ignore[arg-type]
    "decode(None key)": lambda x: tokens.decode(x, None),  # type: ignore[arg-type]
    "validate_drn": tokens.validate_drn,
    "validate_pan": tokens.validate_pan,
    "luhn_check_digit": tokens.luhn_check_digit,
    "BaseDate.parse": tokens.BaseDate.parse,
    "EncryptionAlgorithm.parse": tokens.EncryptionAlgorithm.parse,
    "Dkga.parse": tokens.Dkga.parse,
    "KeyType.parse": tokens.KeyType.parse,
    "DecoderKey.from_hex(text)": lambda x: tokens.DecoderKey.from_hex(x, "07"),  # type: ignore[arg-type]
    "DecoderKey.from_hex(ea)": lambda x: tokens.DecoderKey.from_hex("00" * 8, x),  # type: ignore[arg-type]
    "DecoderKey(key)": lambda x: tokens.DecoderKey(x, "07"),  # type: ignore[arg-type]
    **{f"KeyDerivation({name})": _derivation_with(name) for name in VALID_DERIVATION},
    "pack_fields(class)": lambda x: pack_fields(x, 0, {"rnd": 0, "tid": 0, "amount": 0}),  # type: ignore[arg-type]
    "pack_fields(subclass)": lambda x: pack_fields(0, x, {"rnd": 0, "tid": 0, "amount": 0}),  # type: ignore[arg-type]
    "pack_fields(fields)": lambda x: pack_fields(0, 0, x),  # type: ignore[arg-type]
    "pack_fields(value)": lambda x: pack_fields(0, 0, {"rnd": x, "tid": 0, "amount": 0}),  # type: ignore[dict-item]
    "encode_transfer_amount": tokens.encode_transfer_amount,
    "encode_currency_amount": tokens.encode_currency_amount,
    "tid_from_datetime(when)": lambda x: tokens.tid_from_datetime(x, 1993),  # type: ignore[arg-type]
    "tid_from_datetime(base)": lambda x: tokens.tid_from_datetime(AWARE, x),  # type: ignore[arg-type]
    "load_tables": tokens.load_tables,
}

#: Other public functions that take outside values (token digits, fields, TIDs).
OTHER_PUBLIC: dict[str, Callable[[object], object]] = {
    "format_token": tokens.format_token,
    "decode_transfer_amount": tokens.decode_transfer_amount,
    "decode_currency_amount(se)": lambda x: tokens.decode_currency_amount(x, 0),  # type: ignore[arg-type]
    "decode_currency_amount(field)": lambda x: tokens.decode_currency_amount(0, x),  # type: ignore[arg-type]
    "datetime_from_tid(tid)": lambda x: tokens.datetime_from_tid(x, 1993),  # type: ignore[arg-type]
    "datetime_from_tid(base)": lambda x: tokens.datetime_from_tid(0, x),  # type: ignore[arg-type]
    "pan_from_drn": tokens.pan_from_drn,
    "units_from_quantity": tokens.units_from_quantity,
}

ALL = {**PARSERS, **OTHER_PUBLIC}

JUNK: dict[str, object] = {
    "None": None,
    "True": True,
    "False": False,
    "zero": 0,
    "minus-one": -1,
    "huge-int": 2**70,
    "float": 1.5,
    "float-integral": 7.0,
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "empty-str": "",
    "space": " ",
    "letters": "abc",
    "arabic-indic": "١٢٣",
    "superscript": "²",
    "fullwidth": "１２３",
    "nul": "\x00",
    "bytes": b"07",
    "empty-bytes": b"",
    "list": [1],
    "empty-list": [],
    "dict": {"a": 1},
    "tuple": (1, 2),
    "object": object(),
    "decimal-nan": Decimal("NaN"),
    "decimal-snan": Decimal("sNaN"),
    "decimal-huge": Decimal("1E+999999"),
    "decimal-tiny": Decimal("1E-999999"),
    "complex": 1j,
    "date": date(2020, 1, 1),
    "naive-datetime": datetime(2020, 1, 1),  # noqa: DTZ001 - deliberately naive junk
}


def _call(parser: Callable[[object], object], junk: object) -> None:
    try:
        parser(junk)
    except tokens.StsError as exc:
        assert isinstance(exc, ValueError)
        assert isinstance(exc.code, str) and exc.code


@pytest.mark.parametrize("parser", list(ALL.values()), ids=list(ALL))
def test_junk_gives_a_value_or_a_typed_error(parser: Callable[[object], object]) -> None:
    """Every junk value in turn; the failure lists each junk value that escaped untyped."""
    escaped = []
    for label, junk in JUNK.items():
        try:
            _call(parser, junk)
        except Exception as exc:
            escaped.append(f"{label} ({junk!r}) -> {type(exc).__name__}: {exc}")
    assert not escaped, "untyped exceptions:\n" + "\n".join(escaped)


junk_values = st.one_of(
    st.text(),
    st.binary(),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=4),
    st.datetimes(),
    st.text(alphabet="0123456789 -", min_size=18, max_size=24),
    st.text(alphabet="0123456789١٢٣²", min_size=1, max_size=22),
)


@pytest.mark.parametrize("parser", list(ALL.values()), ids=list(ALL))
@settings(max_examples=60, deadline=None)
@given(junk=junk_values)
def test_random_junk_gives_a_value_or_a_typed_error(
    parser: Callable[[object], object], junk: object
) -> None:
    _call(parser, junk)


# ------------------------------------------------------------ non-ASCII digits rejected
ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

NON_ASCII_CASES: dict[str, Callable[[], object]] = {}
for _label, _table in (("arabic-indic", ARABIC), ("fullwidth", FULLWIDTH)):
    NON_ASCII_CASES.update(
        {
            f"parse_token-{_label}": lambda t=_table: tokens.parse_token(
                "23716100501183194197".translate(t)
            ),
            f"validate_drn-{_label}": lambda t=_table: tokens.validate_drn(
                "12123456787".translate(t)
            ),
            f"validate_pan-{_label}": lambda t=_table: tokens.validate_pan(
                "600727000000000009".translate(t)
            ),
            f"luhn-{_label}": lambda t=_table: tokens.luhn_check_digit("1234567890".translate(t)),
            f"BaseDate-{_label}": lambda t=_table: tokens.BaseDate.parse("1993".translate(t)),
            f"BaseDate-short-{_label}": lambda t=_table: tokens.BaseDate.parse("93".translate(t)),
            f"KeyType-{_label}": lambda t=_table: tokens.KeyType.parse("2".translate(t)),
            f"EA-{_label}": lambda t=_table: tokens.EncryptionAlgorithm.parse("07".translate(t)),
            f"Dkga-{_label}": lambda t=_table: tokens.Dkga.parse("02".translate(t)),
            f"from_hex-{_label}": lambda t=_table: tokens.DecoderKey.from_hex(
                "1234567890123456".translate(t), "07"
            ),
            f"KeyDerivation-sgc-{_label}": lambda t=_table: tokens.KeyDerivation(
                **{**VALID_DERIVATION, "sgc": "123456".translate(t)}
            ),
            f"KeyDerivation-pan-{_label}": lambda t=_table: tokens.KeyDerivation(
                **{**VALID_DERIVATION, "pan": "600727000000000009".translate(t)}
            ),
            f"KeyDerivation-base-{_label}": lambda t=_table: tokens.KeyDerivation(
                **{**VALID_DERIVATION, "base_date": "1993".translate(t)}
            ),
            f"currency-{_label}": lambda t=_table: tokens.encode_currency_amount("1".translate(t)),
            f"format_token-{_label}": lambda t=_table: tokens.format_token(
                "23716100501183194197".translate(t)
            ),
        }
    )
NON_ASCII_CASES.update(
    {
        "parse_token-superscript": lambda: tokens.parse_token("2371610050118319419²"),
        "validate_drn-superscript": lambda: tokens.validate_drn("1212345678²"),
        "luhn-superscript": lambda: tokens.luhn_check_digit("²"),
        "KeyType-superscript": lambda: tokens.KeyType.parse("²"),
        "currency-superscript": lambda: tokens.encode_currency_amount("²"),
    }
)


@pytest.mark.parametrize("case", list(NON_ASCII_CASES.values()), ids=list(NON_ASCII_CASES))
def test_non_ascii_digits_are_rejected(case: Callable[[], object]) -> None:
    with pytest.raises(tokens.StsError):
        case()


# ------------------------------------------------------------------- token formats
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet="0123456789 -x١", max_size=26))
def test_parse_token_accepts_exactly_20_ascii_digits(text: str) -> None:
    digits = text.replace(" ", "").replace("-", "")
    valid = len(digits) == 20 and digits.isascii() and digits.isdigit()
    valid = valid and int(digits) < 2**66
    if valid:
        assert tokens.parse_token(text) == int(digits)
    else:
        with pytest.raises(tokens.TokenFormatError):
            tokens.parse_token(text)


@pytest.mark.parametrize(
    "text",
    [
        "2371610050118319419",  # 19 digits
        "237161005011831941970",  # 21 digits
        "73786976294838206464",  # 2**66
        "99999999999999999999",
        "2371610050118319419a",
        "ABCDEFGHIJKLMNOPQRST",
        "",
        "                    ",
        "2371610050118319419.7",
        "+2371610050118319419",
        "2371610050118319419\n",
        "2371\t6100501183194197",
    ],
)
def test_token_format_errors(text: str) -> None:
    with pytest.raises(tokens.TokenFormatError) as caught:
        tokens.parse_token(text)
    assert caught.value.code == "format_error"
    with pytest.raises(tokens.TokenFormatError):
        tokens.decode(text, EA07_KEY)


def test_largest_token_number_and_grouping() -> None:
    assert tokens.parse_token("73786976294838206463") == 2**66 - 1
    assert tokens.parse_token("2371 6100 5011 8319 4197") == 23716100501183194197
    assert tokens.parse_token("2371-6100-5011-8319-4197") == 23716100501183194197
    assert tokens.format_token("23716100501183194197") == "2371 6100 5011 8319 4197"
    assert tokens.format_token(7) == "0000 0000 0000 0000 0007"
