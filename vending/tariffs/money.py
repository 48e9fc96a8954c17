"""Currency minor units and the few rounding rules of the tariff engine, in one place.

Every rounding in the engine is named here, so that a receipt can be explained: tax and
consumption costs round half up to the minor unit, units round down to 0.1 kWh.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

# ISO 4217 minor units of the currencies we expect to meet; any other currency must give
# "minor_unit" explicitly in its tariff document.
MINOR_UNITS: dict[str, int] = {
    "BWP": 2, "CNY": 2, "EUR": 2, "GBP": 2, "GHS": 2, "INR": 2, "KES": 2, "MWK": 2, "MZN": 2,
    "NAD": 2, "NGN": 2, "SZL": 2, "LSL": 2, "TZS": 2, "USD": 2, "ZAR": 2, "ZMW": 2,
    "JPY": 0, "RWF": 0, "UGX": 0, "XAF": 0, "XOF": 0,
    "BHD": 3, "KWD": 3, "OMR": 3,
}

UNIT_STEP = Decimal("0.1")
"""Units are issued in whole tenths of a kWh (the STS credit token's resolution)."""


def quantum(minor_unit: int) -> Decimal:
    """The smallest amount of the currency, e.g. ``0.01`` for two minor-unit digits."""
    return Decimal(1).scaleb(-minor_unit)


def round_half_up(value: Decimal, minor_unit: int) -> Decimal:
    """Round money half up to the minor unit (tax, debt recovery, consumption costs)."""
    return value.quantize(quantum(minor_unit), rounding=ROUND_HALF_UP)


def round_down(value: Decimal, minor_unit: int) -> Decimal:
    """Round money towards zero to the minor unit."""
    return value.quantize(quantum(minor_unit), rounding=ROUND_DOWN)


def floor_units(kwh: Decimal) -> Decimal:
    """Floor energy to the 0.1 kWh step the token can carry."""
    return kwh.quantize(UNIT_STEP, rounding=ROUND_FLOOR)


def places(value: Decimal) -> int:
    """Number of digits after the decimal point in the value as written (``1.50`` has 2)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals only reach here
    return max(0, -exponent)


def decimal_str(value: Decimal, minor_unit: int | None = None) -> str:
    """A decimal string for the wire: never exponent notation; with ``minor_unit``, at least
    that many decimals and no trailing zeros beyond them (``117.1920`` → ``117.192``)."""
    if minor_unit is not None:
        if places(value) > minor_unit:
            value = value.normalize()
        if places(value) < minor_unit:
            value = value.quantize(quantum(minor_unit))
    return format(value, "f")
