"""EA07, the Standard Transfer Algorithm (SPEC §5.3), table-driven.

STA is 16 rounds of nibble substitution (S1 or S2, chosen per nibble by a key bit) followed by
a 64-bit bit permutation. Done bit by bit that is ~1 000 Python operations a block. Here each
round is 8 table look-ups instead: for every byte position ``j`` of the block and each of the
four S-box choices for its two nibbles, a 256-entry table holds the *substituted and permuted*
contribution of that byte to the 64-bit output. The permutation is linear over bits, so a
round is the OR of the eight contributions. The key schedule fixes which of the four tables a
byte position uses in each round, so a :class:`Sta` object resolves that once per key and an
encryption is 16 × 8 look-ups.

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
    # whole encryption rounds by their 8-byte pattern (see _RoundTables): bulk encoding
    _enc_rounds: _RoundTables = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for label, box in (("S1", self.s1), ("S2", self.s2)):
            if sorted(box) != list(range(16)):
                raise StaTableError(f"STA table {self.name}: {label} is not a permutation of 0..15")
        if sorted(self.p) != list(range(64)):
            raise StaTableError(f"STA table {self.name}: P is not a permutation of 0..63")
        inv1 = _invert(self.s1)
        inv2 = _invert(self.s2)
        perm = self.p
        inv_p = _invert(perm)

        def permute(x: int) -> int:
            out = 0
            for i in range(64):
                if x >> i & 1:
                    out |= 1 << perm[i]
            return out

        def inverse_permute(x: int) -> int:
            out = 0
            for i in range(64):
                if x >> i & 1:
                    out |= 1 << inv_p[i]
            return out

        boxes = ((self.s1, self.s1), (self.s2, self.s1), (self.s1, self.s2), (self.s2, self.s2))
        inv_boxes = ((inv1, inv1), (inv2, inv1), (inv1, inv2), (inv2, inv2))
        # combo bit 0 selects the low nibble's box, bit 1 the high nibble's (0 -> S1, 1 -> S2)
        enc = []
        dec = []
        inv_sub = []
        for j in range(8):
            enc_j, dec_j, sub_j = [], [], []
            for (lo, hi), (ilo, ihi) in zip(boxes, inv_boxes, strict=True):
                subst = [(hi[v >> 4] << 4 | lo[v & 15]) << (8 * j) for v in range(256)]
                isubst = [(ihi[v >> 4] << 4 | ilo[v & 15]) << (8 * j) for v in range(256)]
                enc_j.append(tuple(permute(x) for x in subst))
                dec_j.append(tuple(inverse_permute(x) for x in isubst))
                sub_j.append(tuple(isubst))
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
        object.__setattr__(self, "_enc_rounds", _RoundTables(tuple(enc)))
        object.__setattr__(
            self,
            "_inv_perm",
            tuple(tuple(inverse_permute(v << (8 * j)) for v in range(256)) for j in range(8)),
        )

    @property
    def fingerprints(self) -> dict[str, str]:
        return {"s1": _fingerprint(self.s1), "s2": _fingerprint(self.s2), "p": _fingerprint(self.p)}


def _invert(values: tuple[int, ...]) -> tuple[int, ...]:
    out = [0] * len(values)
    for i, v in enumerate(values):
        out[v] = i
    return tuple(out)


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
# Round r, byte j of encryption reads key bits 8j+3 and 8j+7 of ROTL(K0, r), that is bits
# (8j+3-r) and (8j+7-r) of K0: with c[i] = bit i | bit (i+4) << 1 that is an extended slice
# c[(3-r) % 64 :: 8] of the doubled choice string, the key of a whole-round cache (encryption
# is the bulk-vending hot path). Decryption step s reads ROTR(D0, s), the slice starting at
# (3+s) % 64; its bytes 0-3 and 4-7 are sliced apart so each half-round pattern (4 bytes, 256
# possibilities) is a small cache key, which is enough for the meter's one key.
def _half_slices(starts: list[int]) -> tuple[itemgetter, itemgetter]:
    return (
        itemgetter(*[slice(s, s + 32, 8) for s in starts]),
        itemgetter(*[slice(s + 32, s + 64, 8) for s in starts]),
    )


_ENC_SLICES = itemgetter(*[slice((3 - r) % 64, (3 - r) % 64 + 64, 8) for r in range(16)])
_DEC_LO, _DEC_HI = _half_slices([(3 + s) % 64 for s in range(16)])
_HalfRound = tuple[_Lookup, _Lookup, _Lookup, _Lookup]


class _RoundTables(dict[bytes, tuple[_Lookup, ...]]):
    """The eight tables of a whole encryption round by its 8-byte choice pattern.

    Up to 4**8 patterns (about 13 MB when all are seen, a bounded ceiling): one look-up per
    round makes a fresh key's schedule cost 16 slices and 16 look-ups, which is what bulk
    vending with a derivation per token pays on every line.
    """

    def __init__(self, by_position: tuple[tuple[_Lookup, ...], ...]) -> None:
        super().__init__()
        self._by_position = by_position

    def __missing__(self, pattern: bytes) -> tuple[_Lookup, ...]:
        tables = tuple(self._by_position[j][c] for j, c in enumerate(pattern))
        self[pattern] = tables
        return tables


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
        if not isinstance(key, bytes | bytearray) or len(key) != 8:
            raise DecoderKeyError("EA07 (STA) needs an 8-byte decoder key")
        tables = self.tables = tables or load_tables()
        self._key = ~int.from_bytes(key, "big") & MASK64
        self._enc_rounds = tuple(
            map(tables._enc_rounds.__getitem__, _ENC_SLICES(_choices(_rotl(self._key, 52))))
        )
        self._dec_rounds: tuple[tuple[_HalfRound, _HalfRound], ...] | None = None  # lazily
        self._dec_last: tuple[_HalfRound, _HalfRound] | None = None

    def _build_decryption(self) -> tuple[tuple[_HalfRound, _HalfRound], ...]:
        tables = self.tables
        choices = _choices(_rotl(self._key, 3))
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
        d = block
        for t0, t1, t2, t3, t4, t5, t6, t7 in self._enc_rounds:
            d = (
                t0[d & 255] | t1[d >> 8 & 255] | t2[d >> 16 & 255] | t3[d >> 24 & 255]
                | t4[d >> 32 & 255] | t5[d >> 40 & 255] | t6[d >> 48 & 255] | t7[d >> 56]
            )
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
