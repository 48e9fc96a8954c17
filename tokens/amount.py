"""Amount codings of STS tokens (SPEC §3) and exact ``Decimal`` conversions.

* TransferAmount: the 16-bit ``e(2) | m(14)`` field of class 0 subclasses 0–3 (0.1 kWh, 0.1 kL,
  ...) and of the power limits (watts). Encoding rounds **up** (in the customer's favour), as
  the standard does; the largest value is 18 201 624 base units.
* Currency amount (Ed 3, class 0 subclasses 4–7): sign and a 5-bit exponent spread over the
  S&E nibble and the top two field bits, base unit 10⁻⁵ of the currency. Positive values round
  up, negative values round toward +∞ (SPEC decision 7).

Money and energy never pass through ``float`` here.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal

from .errors import RangeError, is_int

MAX_TRANSFER_UNITS = 18_201_624
MAX_MANTISSA = 0x3FFF
# offset_e = sum(2**14 * 10**(n-1) for n in 1..e)
_TRANSFER_OFFSETS = (0, 16_384, 180_224, 1_818_624)
_CURRENCY_OFFSETS = tuple(16_384 * (10**e - 1) // 9 for e in range(32))
CURRENCY_SCALE = 100_000  # base unit: 10**-5 of the currency
MAX_CURRENCY_UNITS = 10**31 * MAX_MANTISSA + _CURRENCY_OFFSETS[31]
UNIT = Decimal("0.1")
# Currency values reach 36 significant digits (10**31 * 16383 base units): exact arithmetic
# needs more than the default context's 28 digits, so currency work uses this context.
_EXACT = Context(prec=80)


def encode_transfer_amount(units: int) -> int:
    """16-bit TransferAmount field for ``units`` base units, rounding up to the coding's grid."""
    if not is_int(units):
        raise RangeError(f"transfer amount must be an integer number of units, got {units!r}")
    if units < 0 or units > MAX_TRANSFER_UNITS:
        raise RangeError(
            f"transfer amount {units} units is outside 0..{MAX_TRANSFER_UNITS}"
        )
    for e, offset in enumerate(_TRANSFER_OFFSETS):
        step = 10**e
        m = max(0, -((offset - units) // step))  # ceil((units - offset) / step), never < 0
        if m <= MAX_MANTISSA:
            return (e << 14) | m
    raise AssertionError("unreachable: the range check covers every exponent")  # pragma: no cover


def decode_transfer_amount(field: int) -> int:
    """Base units that a 16-bit TransferAmount field stands for."""
    if not is_int(field) or not 0 <= field <= 0xFFFF:
        raise RangeError(f"transfer amount field {field!r} does not fit 16 bits")
    e, m = field >> 14, field & MAX_MANTISSA
    return 10**e * m + _TRANSFER_OFFSETS[e]


def round_up_units(units: int) -> int:
    """The units a meter will actually add for ``units``: the value of its encoded field."""
    return decode_transfer_amount(encode_transfer_amount(units))


def units_from_quantity(quantity: Decimal, *, round_up: bool = False) -> int:
    """Base units (0.1 kWh, 0.1 kL, ...) in ``quantity``; rounds down unless ``round_up``.

    A vend rounds energy **down** (nothing is issued that was not paid for, SPEC decision 3).
    """
    value = _as_decimal(quantity, "quantity")
    if value < 0:
        raise RangeError(f"quantity {value} is negative")
    rounding = ROUND_CEILING if round_up else ROUND_FLOOR
    return int((value / UNIT).to_integral_value(rounding=rounding))


def quantity_from_units(units: int) -> Decimal:
    """The quantity in kWh (or kL, m³, min) that ``units`` base units stand for."""
    return (Decimal(units) * UNIT).quantize(UNIT)


def encode_currency_amount(amount: Decimal) -> tuple[int, int]:
    """``(se_nibble, field16)`` for a signed currency amount (Ed 3 coding)."""
    value = _as_decimal(amount, "currency amount")
    t = int(_EXACT.multiply(value, CURRENCY_SCALE).to_integral_value(rounding=ROUND_CEILING))
    negative = t < 0
    magnitude = -t if negative else t
    if magnitude > MAX_CURRENCY_UNITS:
        raise RangeError(f"currency amount {value} is beyond the largest codable value")
    for e, offset in enumerate(_CURRENCY_OFFSETS):
        step = 10**e
        if negative:
            if magnitude < offset:
                continue
            m = (magnitude - offset) // step  # toward +inf for the signed value
        else:
            m = max(0, -((offset - magnitude) // step))
        if m <= MAX_MANTISSA:
            se = (8 if negative else 0) | (e >> 2)
            return se, ((e & 3) << 14) | m
    raise RangeError(f"currency amount {value} cannot be coded")  # pragma: no cover


def decode_currency_amount(se: int, field: int) -> Decimal:
    """The signed currency amount of an S&E nibble and 16-bit field."""
    if not is_int(se) or not is_int(field) or not 0 <= se <= 0xF or not 0 <= field <= 0xFFFF:
        raise RangeError("currency amount fields out of range")
    e = ((se & 7) << 2) | (field >> 14)
    t = 10**e * (field & MAX_MANTISSA) + _CURRENCY_OFFSETS[e]
    if se & 8:
        t = -t
    return _EXACT.scaleb(Decimal(t), -5)


def round_currency(amount: Decimal) -> Decimal:
    """The amount a currency token for ``amount`` actually carries."""
    return decode_currency_amount(*encode_currency_amount(amount))


# A plain decimal number in ASCII: Decimal() alone would also take '١', '１', '1_0' and ' 1 '.
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Far beyond any codable amount (currency tops out near 1.8e29): refuse before arithmetic can
# overflow the decimal context.
_MAX_ADJUSTED_EXPONENT = 40


def _as_decimal(value: object, what: str) -> Decimal:
    if isinstance(value, Decimal):
        result = value
    elif is_int(value):
        result = Decimal(value)  # type: ignore[arg-type]
    elif isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        result = Decimal(value)
    else:
        raise RangeError(f"{what} must be a Decimal, an int or a decimal string, got {value!r}")
    if not result.is_finite():
        raise RangeError(f"{what} {value!r} is not a finite number")
    if result and result.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise RangeError(f"{what} {value!r} is far beyond any codable amount")
    return result
