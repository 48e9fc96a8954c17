"""The 20-digit token form (SPEC §1.1, §5.2, §5.5): data block, class transposition, digits.

This is the raw layer: ``(class, subclass, 44-bit payload)`` in, 20 digits out, and back. It
is the hot path of bulk encoding, so it works on plain ints. The field layouts of every class
and subclass (SPEC §1.2) live here too, as data, so the CLI can pack and unpack named fields
without building typed objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from .crc import crc_field, uses_crc_c
from .errors import CrcError, FunctionError, RangeError, TokenFormatError, is_int
from .identifiers import is_ascii_digits
from .keys import BlockCipher

MAX_TOKEN_NUMBER = (1 << 66) - 1
PAYLOAD_BITS = 44
PAYLOAD_MASK = (1 << PAYLOAD_BITS) - 1
_CLASS_BITS = 0x18000000  # bits 28..27 of the 66-bit number
_LOW64 = (1 << 64) - 1

Layout = tuple[tuple[str, int], ...]
_TID_LAYOUT: Layout = (("rnd", 4), ("tid", 24), ("amount", 16))
_CURRENCY_LAYOUT: Layout = (("se", 4), ("tid", 24), ("amount", 16))
_TEST_8: Layout = (("control", 36), ("mfr_code", 8))
_TEST_16: Layout = (("control", 28), ("mfr_code", 16))
_KCT1: Layout = (("kenho", 4), ("krn", 4), ("ro", 1), ("s3kct", 1), ("kt", 2), ("nkho", 32))
_KCT2: Layout = (("kenlo", 4), ("ti", 8), ("nklo", 32))
_KCT3: Layout = (("sgclo", 12), ("nkmo2", 32))
_KCT4: Layout = (("sgcho", 12), ("nkmo1", 32))

#: Payload layout (field name, width) of every defined (class, subclass), MSB first.
LAYOUTS: MappingProxyType[tuple[int, int], Layout] = MappingProxyType(
    {
        **{(0, s): _TID_LAYOUT for s in range(4)},
        **{(0, s): _CURRENCY_LAYOUT for s in range(4, 8)},
        (1, 0): _TEST_8,
        (1, 1): _TEST_16,
        (1, 2): _TEST_8,
        **{(2, s): _TID_LAYOUT for s in (0, 1, 2, 5, 6, 7, 10)},
        (2, 3): _KCT1,
        (2, 4): _KCT2,
        (2, 8): _KCT3,
        (2, 9): _KCT4,
    }
)


_DEFINED = frozenset(LAYOUTS)
_LOW64_NOT_CLASS = _LOW64 & ~_CLASS_BITS


def is_tid_bearing(token_class: int, subclass: int) -> bool:
    """Tokens that carry a TID (class 0; class 2 subclasses 0, 1, 2, 5, 6, 7, 10)."""
    return token_class == 0 or (token_class == 2 and LAYOUTS.get((2, subclass)) is _TID_LAYOUT)


def check_function(token_class: int, subclass: int) -> Layout:
    """The layout of a (class, subclass), or :class:`FunctionError` for reserved ones."""
    if not is_int(token_class) or not is_int(subclass):
        raise FunctionError("token class and subclass must be integers")
    layout = LAYOUTS.get((token_class, subclass))
    if layout is None:
        if token_class not in (0, 1, 2):
            raise FunctionError(f"token class {token_class} is reserved")
        raise FunctionError(f"class {token_class} subclass {subclass} is not a defined token")
    return layout


def pack_fields(token_class: int, subclass: int, fields: dict[str, int]) -> int:
    """Pack named fields into the 44-bit payload; every field of the layout is required."""
    layout = check_function(token_class, subclass)
    if not isinstance(fields, dict):
        raise RangeError("fields must be a mapping of field names to integers")
    payload = 0
    for name, width in layout:
        try:
            value = fields[name]
        except KeyError:
            raise RangeError(f"field {name!r} is required for class {token_class} "
                             f"subclass {subclass}") from None
        if not is_int(value) or not 0 <= value < 1 << width:
            raise RangeError(f"field {name!r}={value!r} does not fit {width} bits")
        payload = (payload << width) | value
    return payload


def unpack_fields(token_class: int, subclass: int, payload: int) -> dict[str, int]:
    """Named fields of a payload (the inverse of :func:`pack_fields`)."""
    fields: dict[str, int] = {}
    shift = PAYLOAD_BITS
    for name, width in check_function(token_class, subclass):
        shift -= width
        fields[name] = (payload >> shift) & ((1 << width) - 1)
    return fields


def transpose(cipher_block: int, token_class: int) -> int:
    """66-bit token number: class bits at 28..27, the displaced bits moved to 65..64."""
    return (
        (cipher_block & ~_CLASS_BITS & _LOW64)
        | (token_class << 27)
        | (((cipher_block >> 27) & 3) << 64)
    )


def untranspose(number: int) -> tuple[int, int]:
    """``(class, cipher block)`` of a 66-bit token number."""
    return (number >> 27) & 3, (number & _LOW64 & ~_CLASS_BITS) | (((number >> 64) & 3) << 27)


def encode_raw(token_class: int, subclass: int, payload: int, cipher: BlockCipher | None) -> str:
    """20 digits for a raw token. Class 1 is not encrypted (``cipher`` may be ``None``)."""
    # plain ints of a defined (class, subclass) pass at once (the hot path of bulk encoding);
    # anything else gets the full checks and their precise errors
    if (
        type(token_class) is not int
        or type(subclass) is not int
        or (token_class, subclass) not in _DEFINED
    ):
        check_function(token_class, subclass)
    if not (type(payload) is int or is_int(payload)) or not 0 <= payload <= PAYLOAD_MASK:
        raise RangeError("payload must be a 44-bit unsigned integer")
    block = (subclass << 60) | (payload << 16) | crc_field(
        token_class, subclass, payload, currency=token_class == 0 and 4 <= subclass <= 7
    )
    if token_class != 1:
        if cipher is None:
            raise RangeError(f"class {token_class} tokens are encrypted: a decoder key is needed")
        block = cipher.encrypt_block(block)
    # transpose() inline
    number = (block & _LOW64_NOT_CLASS) | (token_class << 27) | (((block >> 27) & 3) << 64)
    return f"{number:020d}"


def parse_token(text: str) -> int:
    """Validate a typed token (spaces and dashes between groups allowed): its 66-bit number."""
    if not isinstance(text, str):
        raise TokenFormatError(f"a token is a string of 20 digits, not {type(text).__name__}")
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) != 20 or not is_ascii_digits(digits):
        raise TokenFormatError("a token is exactly 20 digits 0-9")
    number = int(digits)
    if number > MAX_TOKEN_NUMBER:
        raise TokenFormatError("the token's value exceeds 66 bits: a digit is mistyped")
    return number


def _token_number(token: object) -> int:
    """The 66-bit number of a token given as digits (str) or as the number itself (int)."""
    if isinstance(token, str):
        return parse_token(token)
    if is_int(token):
        return token  # type: ignore[return-value]
    raise TokenFormatError(f"a token is a string of 20 digits, not {type(token).__name__}")


def format_token(token: str | int, *, group: int = 4, sep: str = " ") -> str:
    """``1234 5678 9012 3456 7890`` (grouped, for receipts and displays)."""
    number = _token_number(token)
    if not 0 <= number <= MAX_TOKEN_NUMBER:
        raise TokenFormatError("the token's value exceeds 66 bits")
    digits = f"{number:020d}"
    return sep.join(digits[i : i + group] for i in range(0, 20, group))


@dataclass(frozen=True, slots=True)
class RawToken:
    """A decoded token before interpretation: class, subclass and the 44 payload bits."""

    token_class: int
    subclass: int
    payload: int

    @property
    def fields(self) -> dict[str, int]:
        return unpack_fields(self.token_class, self.subclass, self.payload)

    @property
    def tid(self) -> int | None:
        if is_tid_bearing(self.token_class, self.subclass):
            return (self.payload >> 16) & 0xFFFFFF
        return None


def decode_raw(text: str | int, cipher: BlockCipher | None) -> RawToken:
    """Decode 20 digits: format, class, decryption, CRC (CRC_C for currency), function.

    ``cipher`` may be ``None`` only for class 1 tokens, which are not encrypted.
    """
    number = _token_number(text)
    if not 0 <= number <= MAX_TOKEN_NUMBER:
        raise TokenFormatError("the token's value exceeds 66 bits")
    token_class, block = untranspose(number)
    if token_class == 3:
        raise FunctionError("token class 3 is reserved")
    if token_class != 1:
        if cipher is None:
            raise CrcError(f"class {token_class} tokens are encrypted: a decoder key is needed")
        block = cipher.decrypt_block(block)
    subclass = block >> 60
    payload = (block >> 16) & PAYLOAD_MASK
    expected = crc_field(token_class, subclass, payload, currency=uses_crc_c(token_class, subclass))
    if block & 0xFFFF != expected:
        raise CrcError("CRC check failed: the token is not for this meter's key, or mistyped")
    check_function(token_class, subclass)
    return RawToken(token_class, subclass, payload)
