"""MISTY1 block cipher (RFC 2994), used by STS as encryption algorithm EA11.

A pure-Python implementation of MISTY1 exactly as RFC 2994 specifies it: 128-bit key,
64-bit block, 8 rounds of FO with FL layers, and the S-boxes S7 and S9 of the RFC.
Blocks are 64-bit unsigned integers in big-endian order (byte 0 is the most significant),
so the RFC's D0 is the high 32 bits and D1 the low 32 bits.

Speed: the PRE/POST table trick
-------------------------------
The inner function FI(x, KI) of the RFC is::

    d9 = x >> 7; d7 = x & 0x7f
    d9 = S9[d9] ^ d7
    d7 = (S7[d7] ^ d9) & 0x7f
    d7 ^= KI >> 9; d9 ^= KI & 0x1ff
    d9 = S9[d9] ^ d7
    return (d7 << 9) | d9

Everything before the key XOR depends on ``x`` only, and the key XOR acts on the 16-bit
word ``(d7 << 9) | d9`` as one plain XOR with ``KI``.  So with two 65 536-entry tables built
once at import, ``PRE[x] = (d7 << 9) | d9`` (the state just before the key XOR) and
``POST[y]`` (the last S9 step applied to ``y = (d7 << 9) | d9``)::

    FI(x, KI) == POST[PRE[x] ^ KI]

which turns each FI into two table lookups and one XOR.

The tables are ``array('H')`` (unsigned 16-bit, 128 KiB each) rather than tuples of ints:
a 65 536-entry tuple is a 512 KiB pointer array plus ~1.8 MiB of int objects, so the pair
spills out of L2 into the (shared, often contended) L3, and random lookups into it measured
about twice as slow as into the compact arrays, even though indexing an array is the
slightly slower bytecode path when everything is in cache.  Treat the tables as read-only.

The key schedule (KO, KI and KL subkeys; KI is used as the 16-bit value itself) is expanded
once per key in ``__init__``, and the 8 rounds are unrolled into straight-line code working
on four 16-bit words with the subkeys in local variables (measured faster than a loop over
per-round subkey tuples).

No key material is ever put into an error message or ``repr``.
"""

from __future__ import annotations

import sys
from array import array

from .errors import DecoderKeyError, RangeError

__all__ = ["POST", "PRE", "S7", "S9", "Misty1"]

_MASK64 = 0xFFFF_FFFF_FFFF_FFFF

# S-boxes S7 and S9 of RFC 2994.
# fmt: off
S7: tuple[int, ...] = (
    0x1B, 0x32, 0x33, 0x5A, 0x3B, 0x10, 0x17, 0x54, 0x5B, 0x1A, 0x72, 0x73, 0x6B, 0x2C, 0x66, 0x49,
    0x1F, 0x24, 0x13, 0x6C, 0x37, 0x2E, 0x3F, 0x4A, 0x5D, 0x0F, 0x40, 0x56, 0x25, 0x51, 0x1C, 0x04,
    0x0B, 0x46, 0x20, 0x0D, 0x7B, 0x35, 0x44, 0x42, 0x2B, 0x1E, 0x41, 0x14, 0x4B, 0x79, 0x15, 0x6F,
    0x0E, 0x55, 0x09, 0x36, 0x74, 0x0C, 0x67, 0x53, 0x28, 0x0A, 0x7E, 0x38, 0x02, 0x07, 0x60, 0x29,
    0x19, 0x12, 0x65, 0x2F, 0x30, 0x39, 0x08, 0x68, 0x5F, 0x78, 0x2A, 0x4C, 0x64, 0x45, 0x75, 0x3D,
    0x59, 0x48, 0x03, 0x57, 0x7C, 0x4F, 0x62, 0x3C, 0x1D, 0x21, 0x5E, 0x27, 0x6A, 0x70, 0x4D, 0x3A,
    0x01, 0x6D, 0x6E, 0x63, 0x18, 0x77, 0x23, 0x05, 0x26, 0x76, 0x00, 0x31, 0x2D, 0x7A, 0x7F, 0x61,
    0x50, 0x22, 0x11, 0x06, 0x47, 0x16, 0x52, 0x4E, 0x71, 0x3E, 0x69, 0x43, 0x34, 0x5C, 0x58, 0x7D,
)

S9: tuple[int, ...] = (
    0x1C3, 0x0CB, 0x153, 0x19F, 0x1E3, 0x0E9, 0x0FB, 0x035, 0x181, 0x0B9, 0x117, 0x1EB,
    0x133, 0x009, 0x02D, 0x0D3, 0x0C7, 0x14A, 0x037, 0x07E, 0x0EB, 0x164, 0x193, 0x1D8,
    0x0A3, 0x11E, 0x055, 0x02C, 0x01D, 0x1A2, 0x163, 0x118, 0x14B, 0x152, 0x1D2, 0x00F,
    0x02B, 0x030, 0x13A, 0x0E5, 0x111, 0x138, 0x18E, 0x063, 0x0E3, 0x0C8, 0x1F4, 0x01B,
    0x001, 0x09D, 0x0F8, 0x1A0, 0x16D, 0x1F3, 0x01C, 0x146, 0x07D, 0x0D1, 0x082, 0x1EA,
    0x183, 0x12D, 0x0F4, 0x19E, 0x1D3, 0x0DD, 0x1E2, 0x128, 0x1E0, 0x0EC, 0x059, 0x091,
    0x011, 0x12F, 0x026, 0x0DC, 0x0B0, 0x18C, 0x10F, 0x1F7, 0x0E7, 0x16C, 0x0B6, 0x0F9,
    0x0D8, 0x151, 0x101, 0x14C, 0x103, 0x0B8, 0x154, 0x12B, 0x1AE, 0x017, 0x071, 0x00C,
    0x047, 0x058, 0x07F, 0x1A4, 0x134, 0x129, 0x084, 0x15D, 0x19D, 0x1B2, 0x1A3, 0x048,
    0x07C, 0x051, 0x1CA, 0x023, 0x13D, 0x1A7, 0x165, 0x03B, 0x042, 0x0DA, 0x192, 0x0CE,
    0x0C1, 0x06B, 0x09F, 0x1F1, 0x12C, 0x184, 0x0FA, 0x196, 0x1E1, 0x169, 0x17D, 0x031,
    0x180, 0x10A, 0x094, 0x1DA, 0x186, 0x13E, 0x11C, 0x060, 0x175, 0x1CF, 0x067, 0x119,
    0x065, 0x068, 0x099, 0x150, 0x008, 0x007, 0x17C, 0x0B7, 0x024, 0x019, 0x0DE, 0x127,
    0x0DB, 0x0E4, 0x1A9, 0x052, 0x109, 0x090, 0x19C, 0x1C1, 0x028, 0x1B3, 0x135, 0x16A,
    0x176, 0x0DF, 0x1E5, 0x188, 0x0C5, 0x16E, 0x1DE, 0x1B1, 0x0C3, 0x1DF, 0x036, 0x0EE,
    0x1EE, 0x0F0, 0x093, 0x049, 0x09A, 0x1B6, 0x069, 0x081, 0x125, 0x00B, 0x05E, 0x0B4,
    0x149, 0x1C7, 0x174, 0x03E, 0x13B, 0x1B7, 0x08E, 0x1C6, 0x0AE, 0x010, 0x095, 0x1EF,
    0x04E, 0x0F2, 0x1FD, 0x085, 0x0FD, 0x0F6, 0x0A0, 0x16F, 0x083, 0x08A, 0x156, 0x09B,
    0x13C, 0x107, 0x167, 0x098, 0x1D0, 0x1E9, 0x003, 0x1FE, 0x0BD, 0x122, 0x089, 0x0D2,
    0x18F, 0x012, 0x033, 0x06A, 0x142, 0x0ED, 0x170, 0x11B, 0x0E2, 0x14F, 0x158, 0x131,
    0x147, 0x05D, 0x113, 0x1CD, 0x079, 0x161, 0x1A5, 0x179, 0x09E, 0x1B4, 0x0CC, 0x022,
    0x132, 0x01A, 0x0E8, 0x004, 0x187, 0x1ED, 0x197, 0x039, 0x1BF, 0x1D7, 0x027, 0x18B,
    0x0C6, 0x09C, 0x0D0, 0x14E, 0x06C, 0x034, 0x1F2, 0x06E, 0x0CA, 0x025, 0x0BA, 0x191,
    0x0FE, 0x013, 0x106, 0x02F, 0x1AD, 0x172, 0x1DB, 0x0C0, 0x10B, 0x1D6, 0x0F5, 0x1EC,
    0x10D, 0x076, 0x114, 0x1AB, 0x075, 0x10C, 0x1E4, 0x159, 0x054, 0x11F, 0x04B, 0x0C4,
    0x1BE, 0x0F7, 0x029, 0x0A4, 0x00E, 0x1F0, 0x077, 0x04D, 0x17A, 0x086, 0x08B, 0x0B3,
    0x171, 0x0BF, 0x10E, 0x104, 0x097, 0x15B, 0x160, 0x168, 0x0D7, 0x0BB, 0x066, 0x1CE,
    0x0FC, 0x092, 0x1C5, 0x06F, 0x016, 0x04A, 0x0A1, 0x139, 0x0AF, 0x0F1, 0x190, 0x00A,
    0x1AA, 0x143, 0x17B, 0x056, 0x18D, 0x166, 0x0D4, 0x1FB, 0x14D, 0x194, 0x19A, 0x087,
    0x1F8, 0x123, 0x0A7, 0x1B8, 0x141, 0x03C, 0x1F9, 0x140, 0x02A, 0x155, 0x11A, 0x1A1,
    0x198, 0x0D5, 0x126, 0x1AF, 0x061, 0x12E, 0x157, 0x1DC, 0x072, 0x18A, 0x0AA, 0x096,
    0x115, 0x0EF, 0x045, 0x07B, 0x08D, 0x145, 0x053, 0x05F, 0x178, 0x0B2, 0x02E, 0x020,
    0x1D5, 0x03F, 0x1C9, 0x1E7, 0x1AC, 0x044, 0x038, 0x014, 0x0B1, 0x16B, 0x0AB, 0x0B5,
    0x05A, 0x182, 0x1C8, 0x1D4, 0x018, 0x177, 0x064, 0x0CF, 0x06D, 0x100, 0x199, 0x130,
    0x15A, 0x005, 0x120, 0x1BB, 0x1BD, 0x0E0, 0x04F, 0x0D6, 0x13F, 0x1C4, 0x12A, 0x015,
    0x006, 0x0FF, 0x19B, 0x0A6, 0x043, 0x088, 0x050, 0x15F, 0x1E8, 0x121, 0x073, 0x17E,
    0x0BC, 0x0C2, 0x0C9, 0x173, 0x189, 0x1F5, 0x074, 0x1CC, 0x1E6, 0x1A8, 0x195, 0x01F,
    0x041, 0x00D, 0x1BA, 0x032, 0x03D, 0x1D1, 0x080, 0x0A8, 0x057, 0x1B9, 0x162, 0x148,
    0x0D9, 0x105, 0x062, 0x07A, 0x021, 0x1FF, 0x112, 0x108, 0x1C0, 0x0A9, 0x11D, 0x1B0,
    0x1A6, 0x0CD, 0x0F3, 0x05C, 0x102, 0x05B, 0x1D9, 0x144, 0x1F6, 0x0AD, 0x0A5, 0x03A,
    0x1CB, 0x136, 0x17F, 0x046, 0x0E1, 0x01E, 0x1DD, 0x0E6, 0x137, 0x1FA, 0x185, 0x08C,
    0x08F, 0x040, 0x1B5, 0x0BE, 0x078, 0x000, 0x0AC, 0x110, 0x15E, 0x124, 0x002, 0x1BC,
    0x0A2, 0x0EA, 0x070, 0x1FC, 0x116, 0x15C, 0x04C, 0x1C2,
)
# fmt: on


def _rows(base: list[int], constants: list[int]) -> array[int]:
    """``array('H')`` of the rows ``[b ^ c for b in base]``, one row per constant, in order.

    Built 16-bit lane-wise on big integers (one XOR per row instead of a Python operation per
    entry: the tables are made at import, so this is start-up time of every process).
    """
    lanes = len(base)
    packed = int.from_bytes(b"".join(v.to_bytes(2, "little") for v in base), "little")
    every_lane = int.from_bytes(b"\x01\x00" * lanes, "little")
    out = array("H")
    for c in constants:
        out.frombytes((packed ^ c * every_lane).to_bytes(2 * lanes, "little"))
    if sys.byteorder == "big":
        out.byteswap()
    return out


def _build_pre() -> array[int]:
    """PRE[x]: FI up to (not including) the key XOR, as the word ``(d7 << 9) | d9``.

    For x = (hi << 7) | d7 that is ``((S7[d7] ^ d9) & 0x7f) << 9 | d9`` with d9 = S9[hi] ^ d7,
    which splits into a part of d7 XOR a part of hi (S7[d7] ^ d7 has 7 bits).
    """
    return _rows(
        [(S7[d7] ^ d7) << 9 | d7 for d7 in range(128)],
        [(S9[hi] & 0x7F) << 9 | S9[hi] for hi in range(512)],
    )


def _build_post() -> array[int]:
    """POST[y]: the last S9 step of FI on the key-XORed word ``y = (d7 << 9) | d9``, that is
    ``(d7 << 9) | (S9[d9] ^ d7)``."""
    return _rows(list(S9), [d7 << 9 | d7 for d7 in range(128)])


PRE: array[int] = _build_pre()
POST: array[int] = _build_post()


def _expand_key(key: bytes) -> tuple[int, ...]:
    """Return the 76 subkeys in the order ``encrypt_block`` and ``decrypt_block`` unpack them.

    Per round r = 0..7 (the RFC's i = r + 1): KO_i1, KI_i1, KO_i2, KI_i2, KO_i3, KI_i3, KO_i4;
    then per FL layer n = 0..9 (the RFC's i = n + 1): KL_i1, KL_i2.
    """
    k = [(key[2 * j] << 8) | key[2 * j + 1] for j in range(8)]  # K1..K8
    pre, post = PRE, POST
    kp = [post[pre[k[j]] ^ k[(j + 1) % 8]] for j in range(8)]  # K'_i = FI(K_i, K_{i+1})
    out: list[int] = []
    for r in range(8):
        out += (
            k[r],  # KO_i1 = K_i
            kp[(r + 5) % 8],  # KI_i1 = K'_{i+5}
            k[(r + 2) % 8],  # KO_i2 = K_{i+2}
            kp[(r + 1) % 8],  # KI_i2 = K'_{i+1}
            k[(r + 7) % 8],  # KO_i3 = K_{i+7}
            kp[(r + 3) % 8],  # KI_i3 = K'_{i+3}
            k[(r + 4) % 8],  # KO_i4 = K_{i+4}
        )
    for n in range(10):
        h = n // 2
        if n % 2 == 0:  # odd i: KL_i1 = K_{(i+1)/2}, KL_i2 = K'_{(i+1)/2+6}
            out += (k[h], kp[(h + 6) % 8])
        else:  # even i: KL_i1 = K'_{i/2+2}, KL_i2 = K_{i/2+4}
            out += (kp[(h + 2) % 8], k[(h + 4) % 8])
    return tuple(out)


class Misty1:
    """MISTY1 (RFC 2994) with a 16-byte key, on 64-bit big-endian integer blocks.

    Only the expanded key schedule is kept; ``repr`` never shows key material.
    """

    __slots__ = ("_ks",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise DecoderKeyError("MISTY1 needs a 16-byte key")
        key = bytes(key)
        if len(key) != 16:
            raise DecoderKeyError("MISTY1 needs a 16-byte key")
        self._ks: tuple[int, ...] = _expand_key(key)

    def __repr__(self) -> str:
        return "Misty1(<key redacted>)"

    def encrypt_block(self, block: int) -> int:
        """Encrypt one 64-bit block (an int in 0 .. 2**64 - 1) and return the ciphertext."""
        if not 0 <= block <= _MASK64:
            raise RangeError("MISTY1 block must be a 64-bit unsigned integer")
        pre = PRE
        post = POST
        # subkeys of round r+1: o{r}a..o{r}d = KO_i1..KO_i4, i{r}a..i{r}c = KI_i1..KI_i3;
        # of FL layer n+1: l{n}a, l{n}b = KL_i1, KL_i2
        # fmt: off
        (
            o0a, i0a, o0b, i0b, o0c, i0c, o0d, o1a, i1a, o1b, i1b, o1c, i1c, o1d, o2a, i2a, o2b,
            i2b, o2c, i2c, o2d, o3a, i3a, o3b, i3b, o3c, i3c, o3d, o4a, i4a, o4b, i4b, o4c, i4c,
            o4d, o5a, i5a, o5b, i5b, o5c, i5c, o5d, o6a, i6a, o6b, i6b, o6c, i6c, o6d, o7a, i7a,
            o7b, i7b, o7c, i7c, o7d, l0a, l0b, l1a, l1b, l2a, l2b, l3a, l3b, l4a, l4b, l5a, l5b,
            l6a, l6b, l7a, l7b, l8a, l8b, l9a, l9b,
        ) = self._ks
        # fmt: on
        # D0 = (a, b), D1 = (c, d): the RFC's 32-bit halves as 16-bit words
        a = block >> 48
        b = (block >> 32) & 0xFFFF
        c = (block >> 16) & 0xFFFF
        d = block & 0xFFFF
        # round 1: FL1, FL2, FO1
        b ^= a & l0a
        a ^= b | l0b
        d ^= c & l1a
        c ^= d | l1b
        t = post[pre[a ^ o0a] ^ i0a] ^ b
        u = post[pre[b ^ o0b] ^ i0b] ^ t
        t = post[pre[t ^ o0c] ^ i0c] ^ u
        c ^= u ^ o0d
        d ^= t
        # round 2: FO2
        t = post[pre[c ^ o1a] ^ i1a] ^ d
        u = post[pre[d ^ o1b] ^ i1b] ^ t
        t = post[pre[t ^ o1c] ^ i1c] ^ u
        a ^= u ^ o1d
        b ^= t
        # round 3: FL3, FL4, FO3
        b ^= a & l2a
        a ^= b | l2b
        d ^= c & l3a
        c ^= d | l3b
        t = post[pre[a ^ o2a] ^ i2a] ^ b
        u = post[pre[b ^ o2b] ^ i2b] ^ t
        t = post[pre[t ^ o2c] ^ i2c] ^ u
        c ^= u ^ o2d
        d ^= t
        # round 4: FO4
        t = post[pre[c ^ o3a] ^ i3a] ^ d
        u = post[pre[d ^ o3b] ^ i3b] ^ t
        t = post[pre[t ^ o3c] ^ i3c] ^ u
        a ^= u ^ o3d
        b ^= t
        # round 5: FL5, FL6, FO5
        b ^= a & l4a
        a ^= b | l4b
        d ^= c & l5a
        c ^= d | l5b
        t = post[pre[a ^ o4a] ^ i4a] ^ b
        u = post[pre[b ^ o4b] ^ i4b] ^ t
        t = post[pre[t ^ o4c] ^ i4c] ^ u
        c ^= u ^ o4d
        d ^= t
        # round 6: FO6
        t = post[pre[c ^ o5a] ^ i5a] ^ d
        u = post[pre[d ^ o5b] ^ i5b] ^ t
        t = post[pre[t ^ o5c] ^ i5c] ^ u
        a ^= u ^ o5d
        b ^= t
        # round 7: FL7, FL8, FO7
        b ^= a & l6a
        a ^= b | l6b
        d ^= c & l7a
        c ^= d | l7b
        t = post[pre[a ^ o6a] ^ i6a] ^ b
        u = post[pre[b ^ o6b] ^ i6b] ^ t
        t = post[pre[t ^ o6c] ^ i6c] ^ u
        c ^= u ^ o6d
        d ^= t
        # round 8: FO8
        t = post[pre[c ^ o7a] ^ i7a] ^ d
        u = post[pre[d ^ o7b] ^ i7b] ^ t
        t = post[pre[t ^ o7c] ^ i7c] ^ u
        a ^= u ^ o7d
        b ^= t
        # final FL9, FL10
        b ^= a & l8a
        a ^= b | l8b
        d ^= c & l9a
        c ^= d | l9b
        # output D1 || D0
        return (c << 48) | (d << 32) | (a << 16) | b

    def decrypt_block(self, block: int) -> int:
        """Decrypt one 64-bit block (an int in 0 .. 2**64 - 1) and return the plaintext."""
        if not 0 <= block <= _MASK64:
            raise RangeError("MISTY1 block must be a 64-bit unsigned integer")
        pre = PRE
        post = POST
        # subkeys of round r+1: o{r}a..o{r}d = KO_i1..KO_i4, i{r}a..i{r}c = KI_i1..KI_i3;
        # of FL layer n+1: l{n}a, l{n}b = KL_i1, KL_i2
        # fmt: off
        (
            o0a, i0a, o0b, i0b, o0c, i0c, o0d, o1a, i1a, o1b, i1b, o1c, i1c, o1d, o2a, i2a, o2b,
            i2b, o2c, i2c, o2d, o3a, i3a, o3b, i3b, o3c, i3c, o3d, o4a, i4a, o4b, i4b, o4c, i4c,
            o4d, o5a, i5a, o5b, i5b, o5c, i5c, o5d, o6a, i6a, o6b, i6b, o6c, i6c, o6d, o7a, i7a,
            o7b, i7b, o7c, i7c, o7d, l0a, l0b, l1a, l1b, l2a, l2b, l3a, l3b, l4a, l4b, l5a, l5b,
            l6a, l6b, l7a, l7b, l8a, l8b, l9a, l9b,
        ) = self._ks
        # fmt: on
        # ciphertext is D1 || D0
        c = block >> 48
        d = (block >> 32) & 0xFFFF
        a = (block >> 16) & 0xFFFF
        b = block & 0xFFFF
        # undo FL9, FL10
        a ^= b | l8b
        b ^= a & l8a
        c ^= d | l9b
        d ^= c & l9a
        # round 8: FO8
        t = post[pre[c ^ o7a] ^ i7a] ^ d
        u = post[pre[d ^ o7b] ^ i7b] ^ t
        t = post[pre[t ^ o7c] ^ i7c] ^ u
        a ^= u ^ o7d
        b ^= t
        # round 7: FO7, FL7^-1, FL8^-1
        t = post[pre[a ^ o6a] ^ i6a] ^ b
        u = post[pre[b ^ o6b] ^ i6b] ^ t
        t = post[pre[t ^ o6c] ^ i6c] ^ u
        c ^= u ^ o6d
        d ^= t
        a ^= b | l6b
        b ^= a & l6a
        c ^= d | l7b
        d ^= c & l7a
        # round 6: FO6
        t = post[pre[c ^ o5a] ^ i5a] ^ d
        u = post[pre[d ^ o5b] ^ i5b] ^ t
        t = post[pre[t ^ o5c] ^ i5c] ^ u
        a ^= u ^ o5d
        b ^= t
        # round 5: FO5, FL5^-1, FL6^-1
        t = post[pre[a ^ o4a] ^ i4a] ^ b
        u = post[pre[b ^ o4b] ^ i4b] ^ t
        t = post[pre[t ^ o4c] ^ i4c] ^ u
        c ^= u ^ o4d
        d ^= t
        a ^= b | l4b
        b ^= a & l4a
        c ^= d | l5b
        d ^= c & l5a
        # round 4: FO4
        t = post[pre[c ^ o3a] ^ i3a] ^ d
        u = post[pre[d ^ o3b] ^ i3b] ^ t
        t = post[pre[t ^ o3c] ^ i3c] ^ u
        a ^= u ^ o3d
        b ^= t
        # round 3: FO3, FL3^-1, FL4^-1
        t = post[pre[a ^ o2a] ^ i2a] ^ b
        u = post[pre[b ^ o2b] ^ i2b] ^ t
        t = post[pre[t ^ o2c] ^ i2c] ^ u
        c ^= u ^ o2d
        d ^= t
        a ^= b | l2b
        b ^= a & l2a
        c ^= d | l3b
        d ^= c & l3a
        # round 2: FO2
        t = post[pre[c ^ o1a] ^ i1a] ^ d
        u = post[pre[d ^ o1b] ^ i1b] ^ t
        t = post[pre[t ^ o1c] ^ i1c] ^ u
        a ^= u ^ o1d
        b ^= t
        # round 1: FO1, FL1^-1, FL2^-1
        t = post[pre[a ^ o0a] ^ i0a] ^ b
        u = post[pre[b ^ o0b] ^ i0b] ^ t
        t = post[pre[t ^ o0c] ^ i0c] ^ u
        c ^= u ^ o0d
        d ^= t
        a ^= b | l0b
        b ^= a & l0a
        c ^= d | l1b
        d ^= c & l1a
        # output D0 || D1
        return (a << 48) | (b << 32) | (c << 16) | d
