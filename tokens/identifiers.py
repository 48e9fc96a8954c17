"""Meter identity (SPEC §6.1): Luhn check digits, DRNs, PANs, the PAN block and SGCs.

In the manner of python-stdnum: ``compact``/``validate``/``is_valid``/``calc_check_digit``
per format, ASCII digits only (``str.isdigit`` would accept '²' and Arabic-Indic digits), and
errors from one tree rooted in ``ValueError``.
"""

from __future__ import annotations

from .errors import CheckDigitError, IdentifierError

IIN_11 = "600727"  # IIN for 11-digit DRNs
IIN_13 = "0000"  # IIN for 13-digit DRNs
# Luhn digit values: doubled (with 9 subtracted above 9) and plain, as byte translations.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes([0, 2, 4, 6, 8, 1, 3, 5, 7, 9]))
_LUHN_PLAIN = bytes.maketrans(b"0123456789", bytes(range(10)))


def is_ascii_digits(text: object) -> bool:
    """True when ``text`` is a non-empty ``str`` of ASCII 0-9 only.

    ``isdigit`` alone accepts '²' and Arabic-Indic digits; on an ASCII-only string it accepts
    exactly 0-9, and both checks run in C (this is on the per-token path of key derivation).
    """
    return isinstance(text, str) and text.isascii() and text.isdigit()


def compact(text: str) -> str:
    """Strip the spaces and dashes people type between digit groups."""
    if not isinstance(text, str):
        raise IdentifierError(f"expected a string of digits, got {type(text).__name__}")
    return text.replace(" ", "").replace("-", "").strip()


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit to append to ``digits`` (the rightmost payload digit is doubled)."""
    if not is_ascii_digits(digits):
        raise IdentifierError("a Luhn payload must be ASCII digits")
    rev = digits.encode()[::-1]
    total = sum(rev[0::2].translate(_LUHN_DOUBLED)) + sum(rev[1::2].translate(_LUHN_PLAIN))
    return str((10 - total % 10) % 10)


def luhn_is_valid(number: str) -> bool:
    return is_ascii_digits(number) and len(number) >= 2 and _luhn_sum_ok(number)


def _luhn_sum_ok(number: str) -> bool:
    """Luhn check of ASCII digits (the caller has checked that), check digit included: every
    second digit from the right, starting left of the check digit, is doubled."""
    digits = number.encode()
    start = len(digits) % 2  # index of the leftmost doubled digit
    doubled = digits[start::2].translate(_LUHN_DOUBLED)
    plain = digits[1 - start :: 2].translate(_LUHN_PLAIN)
    return (sum(doubled) + sum(plain)) % 10 == 0


def validate_drn(drn: str) -> str:
    """Validate an 11- or 13-digit decoder reference number (meter number); return it compact."""
    value = compact(drn)
    if not is_ascii_digits(value):
        raise IdentifierError("a meter number must contain only the digits 0-9")
    if len(value) not in (11, 13):
        raise IdentifierError(f"a meter number has 11 or 13 digits, not {len(value)}")
    if not luhn_is_valid(value):
        raise CheckDigitError("the meter number's check digit is wrong (Luhn check failed)")
    return value


def is_valid_drn(drn: str) -> bool:
    try:
        validate_drn(drn)
    except IdentifierError:
        return False
    return True


def pan_from_drn(drn: str) -> str:
    """The 18-digit PAN of a meter: IIN ‖ DRN ‖ Luhn digit over both."""
    value = validate_drn(drn)
    body = (IIN_11 if len(value) == 11 else IIN_13) + value
    return body + luhn_check_digit(body)


def drn_from_pan(pan: str) -> str:
    value = validate_pan(pan)
    return value[6:17] if value.startswith(IIN_11) else value[4:17]


def validate_pan(pan: str) -> str:
    """Validate an 18-digit PAN (checks its own Luhn digit); return it compact."""
    if not isinstance(pan, str):
        raise IdentifierError(f"a PAN is a string of 18 digits, not {type(pan).__name__}")
    value = pan if len(pan) == 18 else compact(pan)
    if len(value) != 18 or not (value.isascii() and value.isdigit()):
        raise IdentifierError("a PAN is 18 ASCII digits")
    if not _luhn_sum_ok(value):
        raise CheckDigitError("the PAN's check digit is wrong (Luhn check failed)")
    return value


def pan_block(pan: str, *, common: bool = False) -> bytes:
    """8-byte PAN block for DKGA-02: PAN digits 1..16 read as BCD (SPEC §6.1).

    For a common key (KT 3) the individual part is zero: IIN[1:] then zeros.
    """
    value = validate_pan(pan)
    nibbles = value[1:17]
    if common:
        iin = IIN_11 if value.startswith(IIN_11) else IIN_13
        nibbles = (iin[1:] + "0" * 16)[:16]
    return bytes.fromhex(nibbles)


def validate_sgc(sgc: str | int) -> str:
    """A supply group code: 6 decimal digits (also the 24-bit binary value in KCTs)."""
    value = f"{sgc:06d}" if isinstance(sgc, int) and not isinstance(sgc, bool) else sgc
    if not is_ascii_digits(value) or len(value) != 6:
        raise IdentifierError("a supply group code (SGC) is 6 ASCII digits")
    return value
