"""CRC-16 of STS tokens (SPEC §2): CRC-16/MODBUS over the 50-bit clear token.

The clear token ``class(2) | subclass(4) | payload(44)`` is left-padded to 56 bits and fed as
7 bytes, most significant first. ``CRC_C`` (currency tokens, class 0 subclasses 4–7) appends a
byte ``0x01``. The register's low byte becomes the high byte of the 16-bit CRC field.
"""

from __future__ import annotations


def _build_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _build_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS register of ``data`` (poly 0x8005 reflected, init 0xFFFF, no final XOR)."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc_register(token_class: int, subclass: int, payload: int, *, currency: bool = False) -> int:
    """CRC register over the clear token, without building a ``bytes`` object (hot path)."""
    value = (token_class << 48) | (subclass << 44) | payload
    t = _TABLE
    # seven bytes, most significant first, unrolled (once per token on the encoding path)
    crc = 0xFF ^ t[(0xFFFF ^ (value >> 48)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (value >> 40)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (value >> 32)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (value >> 24)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (value >> 16)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ (value >> 8)) & 0xFF]
    crc = (crc >> 8) ^ t[(crc ^ value) & 0xFF]
    if currency:
        crc = (crc >> 8) ^ t[(crc ^ 0x01) & 0xFF]
    return crc


def _swapped(register: int) -> int:
    return ((register & 0xFF) << 8) | (register >> 8)


def _field_tables(currency: bool) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """``(c, t)`` with ``crc_field(value) == c ^ t[0][byte 6] ^ ... ^ t[6][byte 0]`` of the
    56-bit ``value = class << 48 | subclass << 44 | payload`` (bytes most significant first).

    A CRC is affine over GF(2) and the byte swap of the field is a bit permutation, so the
    field is a constant XORed with one contribution per input byte, and the contribution of a
    byte is the XOR of the contributions of its bits.
    """

    def field(value: int) -> int:
        return _swapped(crc_register(0, 0, value, currency=currency))

    const = field(0)
    tables = []
    for position in range(6, -1, -1):
        bits = [field(1 << (8 * position + q)) ^ const for q in range(8)]
        contribution = [0] * 256
        for v in range(1, 256):
            low = v & -v
            contribution[v] = contribution[v ^ low] ^ bits[low.bit_length() - 1]
        tables.append(tuple(contribution))
    return const, tuple(tables)


_FIELD = _field_tables(currency=False)
_FIELD_C = _field_tables(currency=True)
_MASK56 = (1 << 56) - 1


def crc_field(token_class: int, subclass: int, payload: int, *, currency: bool = False) -> int:
    """The 16-bit CRC field as it stands in the data block (register bytes swapped)."""
    const, (t6, t5, t4, t3, t2, t1, t0) = _FIELD_C if currency else _FIELD
    # like crc_register, only the low 56 bits of the clear token count
    b6, b5, b4, b3, b2, b1, b0 = (
        ((token_class << 48) | (subclass << 44) | payload) & _MASK56
    ).to_bytes(7)
    return const ^ t6[b6] ^ t5[b5] ^ t4[b4] ^ t3[b3] ^ t2[b2] ^ t1[b1] ^ t0[b0]


def uses_crc_c(token_class: int, subclass: int) -> bool:
    """True for the Ed 3 currency tokens (class 0, subclasses 4–7), which use CRC_C."""
    return token_class == 0 and 4 <= subclass <= 7
