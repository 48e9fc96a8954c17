"""One exception tree for the token library, rooted in :class:`ValueError`.

Every error carries a stable machine ``code`` (the ``error.code`` of the CLI and of the
CONTRACT) and a message that says what is wrong without ever quoting key material.
"""

from __future__ import annotations


class StsError(ValueError):
    """Base of every error raised by :mod:`tokens`."""

    code = "sts_error"


class TokenFormatError(StsError):
    """The text is not a well-formed 20-digit token (or the value exceeds 66 bits)."""

    code = "format_error"


class CrcError(StsError):
    """The decrypted block fails its CRC: wrong key, wrong meter, or a mistyped digit."""

    code = "crc_error"


class FunctionError(StsError):
    """Unknown or reserved token class/subclass."""

    code = "function_error"


class RangeError(StsError):
    """A field value is outside what its bit width or coding can hold."""

    code = "range_error"


class TidRolloverError(RangeError):
    """The time does not fit the 24-bit TID of this base date: the key must move on."""

    code = "tid_rollover"


class DecoderKeyError(StsError):
    """Bad key material or bad key-derivation input (length, algorithm, key type)."""

    code = "key_error"


class IdentifierError(DecoderKeyError):
    """A PAN, IIN, DRN or SGC is malformed."""

    code = "identifier_error"


class CheckDigitError(IdentifierError):
    """A PAN or DRN has a wrong Luhn check digit."""

    code = "check_digit_error"


def is_int(value: object) -> bool:
    """A real ``int`` (``bool`` is an ``int`` to Python, never to a token field)."""
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = [
    "CheckDigitError",
    "CrcError",
    "DecoderKeyError",
    "FunctionError",
    "IdentifierError",
    "RangeError",
    "StsError",
    "TidRolloverError",
    "TokenFormatError",
]
