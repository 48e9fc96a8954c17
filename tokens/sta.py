"""EA07, the Standard Transfer Algorithm (SPEC §5.3), table-driven.

STA is 16 rounds of nibble substitution (S1 or S2, chosen per nibble by a key bit) followed by
a 64-bit bit permutation. Done bit by bit that is ~1 000 Python operations a block. Here each
round is 8 table look-ups instead: for every byte position ``j`` of the block and each of the
four S-box choices for its two nibbles, a 256-entry table holds the *substituted and permuted*
contribution of that byte to the 64-bit output. The permutation is linear over bits, so a
round is the OR of the eight contributions. The key schedule fixes which of the four tables a
byte position uses in each round, so a :class:`Sta` object resolves that once per key and an
encryption is 16 × 8 look-ups, indexed by the bytes of ``int.to_bytes`` (no shifts or masks).

Resolving a key is itself table-driven and takes a few operations, because bulk vending with a
key derivation per token pays it on every token: the table choice of byte position ``j`` in
round ``r`` is two bits of the key, so the choices of all 16 rounds form one 256-bit number
(16 bits a round: 2 bits for each byte position), which is the OR of eight look-ups, one per
key byte. Each round's 16 bits then pick its eight tables through two 256-entry tables of
"four tables for bytes 0-3" and "four tables for bytes 4-7".

Decryption (inverse permutation, then inverse substitution) is regrouped as one inverse
permutation, 15 combined "inverse substitution then inverse permutation" passes, and a final
inverse substitution, each again 8 look-ups.

Table sets are data (SPEC decision 1): ``production`` (default) and ``sample`` ship with the
package; :func:`load_tables` also reads an operator's own JSON file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from pathlib import Path

from .errors import DecoderKeyError, RangeError, is_int

MASK64 = (1 << 64) - 1
BUILTIN_TABLE_SETS = ("production", "sample")
DEFAULT_TABLE_SET = "production"

_Lookup = tuple[int, ...]


class StaTableError(RangeError):
    """A table file is malformed (not a bijection, wrong size, fingerprint mismatch)."""

    code = "table_error"


def _fingerprint(values: tuple[int, ...]) -> str:
    return hashlib.sha256(",".join(map(str, values)).encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class StaTables:
    """One STA table set: two 4-bit S-boxes and a 64-bit permutation (input bit i -> P[i]).

    Compared and hashed by identity: it is a cache key on the hot path, and hashing 96 table
    entries per token would cost more than the lookup saves.
    """

    name: str
    s1: tuple[int, ...]
    s2: tuple[int, ...]
    p: tuple[int, ...]
    _enc: tuple[tuple[_Lookup, ...], ...] = field(init=False, repr=False, compare=False)
    _dec: tuple[tuple[_Lookup, ...], ...] = field(init=False, repr=False, compare=False)
    _inv_perm: tuple[_Lookup, ...] = field(init=False, repr=False, compare=False)
    _inv_sub: tuple[tuple[_Lookup, ...], ...] = field(init=False, repr=False, compare=False)
    # decryption half-round tables by choice pattern (see _HalfRoundTables)
    _dec_cache: tuple[_HalfRoundTables, _HalfRoundTables] = field(init=False, repr=False)
    _inv_sub_cache: tuple[_HalfRoundTables, _HalfRoundTables] = field(init=False, repr=False)
    # encryption key schedule (see Sta.__init__): the four tables of byte positions 0-3 and of
    # 4-7 by their 8-bit choice pattern, and the round choices of every key byte value
    _enc_lo: tuple[_HalfRound, ...] = field(init=False, repr=False, compare=False)
    _enc_hi: tuple[_HalfRound, ...] = field(init=False, repr=False, compare=False)
    _key_choices: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for label, box in (("S1", self.s1), ("S2", self.s2)):
            if sorted(box) != list(range(16)):
                raise StaTableError(f"STA table {self.name}: {label} is not a permutation of 0..15")
        if sorted(self.p) != list(range(64)):
            raise StaTableError(f"STA table {self.name}: P is not a permutation of 0..63")
        inv1 = _invert(self.s1)
        inv2 = _invert(self.s2)
        # The permutation is linear over bits: the image of byte v at position j is the OR of
        # the images of its bits, built up one bit at a time (v without its lowest bit is
        # already done).
        perm_byte = _byte_images(self.p)
        inv_perm_byte = _byte_images(_invert(self.p))

        boxes = ((self.s1, self.s1), (self.s2, self.s1), (self.s1, self.s2), (self.s2, self.s2))
        inv_boxes = ((inv1, inv1), (inv2, inv1), (inv1, inv2), (inv2, inv2))
        # combo bit 0 selects the low nibble's box, bit 1 the high nibble's (0 -> S1, 1 -> S2)
        enc = []
        dec = []
        inv_sub = []
        for j in range(8):
            enc_j, dec_j, sub_j = [], [], []
            image, inv_image, shift = perm_byte[j], inv_perm_byte[j], 8 * j
            for (lo, hi), (ilo, ihi) in zip(boxes, inv_boxes, strict=True):
                subst = [hi[v >> 4] << 4 | lo[v & 15] for v in range(256)]
                isubst = [ihi[v >> 4] << 4 | ilo[v & 15] for v in range(256)]
                enc_j.append(tuple(image[x] for x in subst))
                dec_j.append(tuple(inv_image[x] for x in isubst))
                sub_j.append(tuple(x << shift for x in isubst))
            enc.append(tuple(enc_j))
            dec.append(tuple(dec_j))
            inv_sub.append(tuple(sub_j))
        object.__setattr__(self, "_enc", tuple(enc))
        object.__setattr__(self, "_dec", tuple(dec))
        object.__setattr__(self, "_inv_sub", tuple(inv_sub))
        for name, by_position in (("_dec_cache", dec), ("_inv_sub_cache", inv_sub)):
            halves = (_HalfRoundTables(tuple(by_position[:4])),
                      _HalfRoundTables(tuple(by_position[4:])))
            object.__setattr__(self, name, halves)
        # the tables of byte positions 3..0 (7..4) by a round's low (high) choice byte: bits
        # 2j, 2j+1 of it are the choice of position j (j+4); highest position first
        for name, first in (("_enc_lo", 0), ("_enc_hi", 4)):
            object.__setattr__(self, name, tuple(
                tuple(enc[first + j][v >> 2 * j & 3] for j in (3, 2, 1, 0)) for v in range(256)
            ))
        object.__setattr__(self, "_key_choices", _KEY_CHOICES)
        object.__setattr__(self, "_inv_perm", tuple(map(tuple, inv_perm_byte)))

    @property
    def fingerprints(self) -> dict[str, str]:
        return {"s1": _fingerprint(self.s1), "s2": _fingerprint(self.s2), "p": _fingerprint(self.p)}


def _invert(values: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(values)
    for i, v in enumerate(values):
        out[v] = i
    return tuple(out)


def _byte_images(perm: tuple[int, ...]) -> list[list[int]]:
    """``images[j][v]``: the 64-bit permutation (input bit i -> perm[i]) of ``v << 8 * j``."""
    images = []
    for j in range(8):
        image = [0] * 256
        for v in range(1, 256):
            low = v & -v
            image[v] = image[v ^ low] | 1 << perm[8 * j + low.bit_length() - 1]
        images.append(image)
    return images


def _key_choice_tables() -> tuple[tuple[int, ...], ...]:
    """``t[i][b]``: the encryption table choices that key byte ``i`` (big-endian) with value
    ``b`` makes, as bits of the 256-bit choice number of :class:`Sta`.

    STA works on K0 = ROTL(NOT key, 52) and rotates it left by one bit per round (SPEC §5.3);
    round ``r``, byte position ``j`` reads the bits ``8j+3`` and ``8j+7`` of the rotated key,
    that is bits ``8j+15-r`` and ``8j+19-r`` (mod 64) of NOT key. They become bits
    ``16r+2j`` (box of the low nibble) and ``16r+2j+1`` (box of the high nibble) of the
    choice number. Each choice bit is one key bit, so the number is the OR of one look-up per
    key byte.
    """
    masks = [[0] * 8 for _ in range(8)]  # masks[i][q]: choice bits fed by bit q of key byte i
    for r in range(16):
        for j in range(8):
            for e in (0, 1):
                m = (8 * j + 15 - r + 4 * e) % 64  # bit of the key as a big-endian integer
                masks[7 - m // 8][m % 8] |= 1 << (16 * r + 2 * j + e)
    tables = []
    for byte_masks in masks:
        ones = [0] * 256  # ones[x]: choice bits set when the NOT key byte is x
        for x in range(1, 256):
            low = x & -x
            ones[x] = ones[x ^ low] | byte_masks[low.bit_length() - 1]
        tables.append(tuple(ones[255 ^ b] for b in range(256)))
    return tuple(tables)


_KEY_CHOICES = _key_choice_tables()


def _parse_table_document(doc: object, origin: str) -> StaTables:
    if not isinstance(doc, dict):
        raise StaTableError(f"STA table file {origin}: expected a JSON object")
    lists = [doc.get(key) for key in ("s1", "s2", "p")]
    if not all(isinstance(v, list) and all(is_int(x) for x in v) for v in lists):
        raise StaTableError(f"STA table file {origin}: needs integer lists s1, s2 and p")
    tables = StaTables(
        name=str(doc.get("name", origin)), s1=tuple(lists[0]), s2=tuple(lists[1]),
        p=tuple(lists[2]),
    )
    expected = doc.get("fingerprints")
    if isinstance(expected, dict):
        for key, value in tables.fingerprints.items():
            if key in expected and expected[key] != value:
                raise StaTableError(
                    f"STA table file {origin}: {key} fingerprint {value} != stated {expected[key]}"
                )
    return tables


def load_tables(name_or_path: str = DEFAULT_TABLE_SET) -> StaTables:
    """A built-in table set by name (``production``, ``sample``) or a JSON table file by path.

    Loaded once per name or path for the life of the process (tables are fixed data).
    """
    if not isinstance(name_or_path, str) or not name_or_path or "\0" in name_or_path:
        raise StaTableError(f"STA table set must be a name or a file path, got {name_or_path!r}")
    return _load_tables(name_or_path)


@lru_cache(maxsize=8)
def _load_tables(name_or_path: str) -> StaTables:
    if name_or_path in BUILTIN_TABLE_SETS:
        text = resources.files(__package__).joinpath(f"tables/{name_or_path}.json").read_text()
        origin = name_or_path
    else:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise StaTableError(f"STA table file {name_or_path}: not UTF-8 text") from None
        except OSError as exc:
            raise StaTableError(
                f"STA table set {name_or_path!r}: not a built-in set "
                f"({', '.join(BUILTIN_TABLE_SETS)}) and not a readable file ({exc.strerror})"
            ) from None
        origin = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StaTableError(f"STA table file {origin}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise StaTableError(f"STA table file {origin}: JSON nested too deeply") from None
    return _parse_table_document(doc, origin)


def _rotl(x: int, n: int) -> int:
    n %= 64
    return ((x << n) | (x >> (64 - n))) & MASK64


_BIT_TRANS = bytes.maketrans(b"01", b"\x00\x01")
# Decryption step s reads key bits 8j+3 and 8j+7 of ROTR(D0, s): with c[i] = bit i | bit (i+4)
# << 1 that is an extended slice c[(3+s) % 64 :: 8] of the doubled choice string; its bytes 0-3
# and 4-7 are sliced apart so each half-round pattern (4 bytes, 256 possibilities) is a small
# cache key, which is enough for the meter's one key.
def _half_slices(starts: list[int]) -> tuple[itemgetter, itemgetter]:
    return (
        itemgetter(*[slice(s, s + 32, 8) for s in starts]),
        itemgetter(*[slice(s + 32, s + 64, 8) for s in starts]),
    )


_DEC_LO, _DEC_HI = _half_slices([(3 + s) % 64 for s in range(16)])
_HalfRound = tuple[_Lookup, _Lookup, _Lookup, _Lookup]


class _HalfRoundTables(dict[bytes, _HalfRound]):
    """The four tables of half a round, by its 4-byte choice pattern, built on first use.

    At most 4**4 = 256 patterns per half, so this warms up at once and stays small; it turns a
    key schedule into 32 dictionary look-ups, which matters when every token has a fresh key.
    """

    def __init__(self, by_position: tuple[tuple[_Lookup, ...], ...]) -> None:
        super().__init__()
        self._by_position = by_position

    def __missing__(self, pattern: bytes) -> _HalfRound:
        p = self._by_position
        tables = (p[0][pattern[0]], p[1][pattern[1]], p[2][pattern[2]], p[3][pattern[3]])
        self[pattern] = tables
        return tables


def _choices(key: int) -> bytes:
    """128 bytes: c[i] = bit i | bit (i+4) << 1 of the 64-bit key, twice over (for wrapping)."""
    bits = format(key, "064b")[::-1].encode().translate(_BIT_TRANS)  # bits[i] = bit i of key
    # added bytewise as one 512-bit integer: no carries, since each byte is at most 3
    combos = (
        int.from_bytes(bits, "little") + 2 * int.from_bytes(bits[4:] + bits[:4], "little")
    ).to_bytes(64, "little")
    return combos + combos


class Sta:
    """STA keyed with one 64-bit decoder key; the per-round table choice is resolved here."""

    __slots__ = ("_dec_last", "_dec_rounds", "_enc_rounds", "_key", "tables")

    def __init__(self, key: bytes, tables: StaTables | None = None) -> None:
        if not isinstance(key, (bytes, bytearray)) or len(key) != 8:  # a tuple: faster than a union
            raise DecoderKeyError("EA07 (STA) needs an 8-byte decoder key")
        tables = self.tables = tables or load_tables()
        self._key = key if type(key) is bytes else bytes(key)  # for the decryption schedule
        # the table choices of all 16 rounds, 16 bits a round (see _key_choice_tables) ...
        c0, c1, c2, c3, c4, c5, c6, c7 = tables._key_choices
        b0, b1, b2, b3, b4, b5, b6, b7 = key
        (l0, h0, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5, l6, h6, l7, h7,
         l8, h8, l9, h9, l10, h10, l11, h11, l12, h12, l13, h13, l14, h14, l15, h15) = (
            c0[b0] | c1[b1] | c2[b2] | c3[b3] | c4[b4] | c5[b5] | c6[b6] | c7[b7]
        ).to_bytes(32, "little")
        # ... and each round's eight tables, byte positions 7 down to 0: positions 7-4 chosen
        # by the round's high choice byte, 3-0 by its low byte (written out: a map() over
        # the tables' __getitem__ costs several times more)
        lo, hi = tables._enc_lo, tables._enc_hi
        self._enc_rounds = (
            hi[h0] + lo[l0], hi[h1] + lo[l1], hi[h2] + lo[l2], hi[h3] + lo[l3],
            hi[h4] + lo[l4], hi[h5] + lo[l5], hi[h6] + lo[l6], hi[h7] + lo[l7],
            hi[h8] + lo[l8], hi[h9] + lo[l9], hi[h10] + lo[l10], hi[h11] + lo[l11],
            hi[h12] + lo[l12], hi[h13] + lo[l13], hi[h14] + lo[l14], hi[h15] + lo[l15],
        )
        self._dec_rounds: tuple[tuple[_HalfRound, _HalfRound], ...] | None = None  # lazily
        self._dec_last: tuple[_HalfRound, _HalfRound] | None = None

    def _build_decryption(self) -> tuple[tuple[_HalfRound, _HalfRound], ...]:
        tables = self.tables
        choices = _choices(_rotl(~int.from_bytes(self._key, "big") & MASK64, 3))
        lo, hi = tables._dec_cache
        rounds = tuple(
            zip(map(lo.__getitem__, _DEC_LO(choices)), map(hi.__getitem__, _DEC_HI(choices)),
                strict=True)
        )
        last_lo, last_hi = tables._inv_sub_cache
        self._dec_last = (last_lo[_DEC_LO(choices)[15]], last_hi[_DEC_HI(choices)[15]])
        self._dec_rounds = rounds[:15]
        return self._dec_rounds

    def __repr__(self) -> str:
        return f"Sta(<key redacted>, tables={self.tables.name!r})"

    def encrypt_block(self, block: int) -> int:
        if not 0 <= block <= MASK64:
            raise RangeError("STA block must be a 64-bit unsigned integer")
        # Bytes big-endian (the default order of to_bytes), so byte 7 comes first. The eight
        # contributions have disjoint bits (P is a bijection), so adding them is an OR, and
        # int addition is the cheaper operation in CPython.
        d = block
        for t7, t6, t5, t4, t3, t2, t1, t0 in self._enc_rounds:
            b7, b6, b5, b4, b3, b2, b1, b0 = d.to_bytes(8)
            d = t7[b7] + t6[b6] + t5[b5] + t4[b4] + t3[b3] + t2[b2] + t1[b1] + t0[b0]
        return d

    def decrypt_block(self, block: int) -> int:
        if not 0 <= block <= MASK64:
            raise RangeError("STA block must be a 64-bit unsigned integer")
        rounds = self._dec_rounds or self._build_decryption()
        t0, t1, t2, t3, t4, t5, t6, t7 = self.tables._inv_perm
        d = (
            t0[block & 255] | t1[block >> 8 & 255] | t2[block >> 16 & 255]
            | t3[block >> 24 & 255] | t4[block >> 32 & 255] | t5[block >> 40 & 255]
            | t6[block >> 48 & 255] | t7[block >> 56]
        )
        for (t0, t1, t2, t3), (t4, t5, t6, t7) in rounds:
            d = (
                t0[d & 255] | t1[d >> 8 & 255] | t2[d >> 16 & 255] | t3[d >> 24 & 255]
                | t4[d >> 32 & 255] | t5[d >> 40 & 255] | t6[d >> 48 & 255] | t7[d >> 56]
            )
        (t0, t1, t2, t3), (t4, t5, t6, t7) = self._dec_last  # type: ignore[misc]
        return (
            t0[d & 255] | t1[d >> 8 & 255] | t2[d >> 16 & 255] | t3[d >> 24 & 255]
            | t4[d >> 32 & 255] | t5[d >> 40 & 255] | t6[d >> 48 & 255] | t7[d >> 56]
        )
