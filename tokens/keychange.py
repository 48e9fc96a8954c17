"""Key-change token sets (SPEC §7): build them (vending side) and assemble them (meter side).

* 64-bit new key (EA07/EA09): 2 tokens, 2/3 and 2/4.
* 64-bit new key with an SGC transfer: 3 tokens; 2/3 has S3KCT = 1 and 2/8 carries the new
  SGC as a 24-bit number in payload bits 43..20.
* 128-bit new key (EA11): 4 tokens, 2/3, 2/4, 2/8, 2/9; the new SGC is split over 2/8 and 2/9.

Every section is encrypted under the meter's **current** key. The RO bit makes the meter clear
its TID memory (the base-date rollover); KEN travels as KENHO/KENLO.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .codec import encode_raw
from .errors import DecoderKeyError, RangeError, is_int
from .identifiers import validate_sgc
from .keys import DecoderKey, EncryptionAlgorithm, KeyType
from .sta import StaTables
from .token_types import KeyChange1, KeyChange2, KeyChange3, KeyChange4, KeyChangeSection


@dataclass(frozen=True, slots=True, kw_only=True)
class NewKeyData:
    """What a key change installs in the meter. ``repr`` hides the key."""

    key: DecoderKey = field(repr=False)
    kt: KeyType
    krn: int
    ti: int
    ken: int = 255
    sgc: str | None = None  # set to transfer the SGC (3-token 64-bit or any 128-bit change)
    ro: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.key, DecoderKey):
            raise DecoderKeyError("the new key must be a DecoderKey")
        object.__setattr__(self, "kt", KeyType.parse(self.kt))
        for name, value, high in (("krn", self.krn, 15), ("ti", self.ti, 255),
                                  ("ken", self.ken, 255)):
            if not is_int(value) or not 0 <= value <= high:
                raise RangeError(f"{name} must be an integer 0..{high}, got {value!r}")
        if self.sgc is not None:
            object.__setattr__(self, "sgc", validate_sgc(self.sgc))
        if self.key.ea is EncryptionAlgorithm.EA11 and self.sgc is None:
            raise DecoderKeyError("a 128-bit (EA11) key change carries the SGC: give sgc")
        if not 1 <= self.krn <= 15 or self.ti > 99:
            raise RangeError("a new key has KRN 1..15 and TI 0..99 (as DKGA derives them)")


def key_change_sections(new: NewKeyData) -> list[KeyChangeSection]:
    """The sections of a key change, in the order they are usually entered."""
    k = new.key.key
    kenho, kenlo = new.ken >> 4, new.ken & 0xF
    ro = int(new.ro)
    if len(k) == 16:
        sgc = int(new.sgc or "0")
        return [
            KeyChange1(kenho=kenho, krn=new.krn, ro=ro, s3kct=0, kt=int(new.kt),
                       nkho=int.from_bytes(k[0:4], "big")),
            KeyChange2(kenlo=kenlo, ti=new.ti, nklo=int.from_bytes(k[12:16], "big")),
            KeyChange3(sgclo=sgc & 0xFFF, nkmo2=int.from_bytes(k[4:8], "big")),
            KeyChange4(sgcho=sgc >> 12, nkmo1=int.from_bytes(k[8:12], "big")),
        ]
    with_sgc = new.sgc is not None
    sections: list[KeyChangeSection] = [
        KeyChange1(kenho=kenho, krn=new.krn, ro=ro, s3kct=int(with_sgc), kt=int(new.kt),
                   nkho=int.from_bytes(k[0:4], "big")),
        KeyChange2(kenlo=kenlo, ti=new.ti, nklo=int.from_bytes(k[4:8], "big")),
    ]
    if with_sgc:
        sgc = int(new.sgc)  # type: ignore[arg-type]
        sections.append(KeyChange3(sgclo=sgc >> 12, nkmo2=(sgc & 0xFFF) << 20))
    return sections


def key_change_tokens(
    current: DecoderKey, new: NewKeyData, tables: StaTables | None = None
) -> list[str]:
    """The 20-digit key-change tokens, each encrypted under the meter's current key."""
    cipher = current.cipher(tables)
    return [encode_raw(2, s.subclass, s.payload(), cipher) for s in key_change_sections(new)]


@dataclass(frozen=True, slots=True)
class AssembledKey:
    """A complete key change, as the meter installs it. ``repr`` hides the key."""

    key: bytes = field(repr=False)
    kt: KeyType
    krn: int
    ti: int
    ken: int
    ro: bool
    sgc: str | None


def _sgc_text(value: int) -> str:
    if value > 999_999:
        raise RangeError(f"the key change carries SGC {value}, which has more than 6 digits")
    return f"{value:06d}"


def sections_needed(first: KeyChange1 | None, new_key_bits: int) -> frozenset[int]:
    """Subclasses a meter must collect: 128-bit keys need 3, 4, 8, 9; 64-bit 3, 4 (+8)."""
    if new_key_bits == 128:
        return frozenset({3, 4, 8, 9})
    if first is not None and first.s3kct:
        return frozenset({3, 4, 8})
    return frozenset({3, 4})


def assemble_key(sections: Iterable[KeyChangeSection], new_key_bits: int) -> AssembledKey:
    """Put the sections of a key change together (any order). Raises if any is missing."""
    if new_key_bits not in (64, 128):
        raise RangeError("a new decoder key has 64 or 128 bits")
    by_sub: dict[int, KeyChangeSection] = {}
    for section in sections:
        if not isinstance(section, KeyChange1 | KeyChange2 | KeyChange3 | KeyChange4):
            raise RangeError("only key-change sections (2/3, 2/4, 2/8, 2/9) assemble a key")
        by_sub[section.subclass] = section
    first = by_sub.get(3)
    needed = sections_needed(first if isinstance(first, KeyChange1) else None, new_key_bits)
    missing = needed - by_sub.keys()
    if missing:
        raise RangeError(f"key change incomplete: sections {sorted(missing)} missing")
    s1, s2 = by_sub[3], by_sub[4]
    assert isinstance(s1, KeyChange1) and isinstance(s2, KeyChange2)
    sgc: str | None = None
    if new_key_bits == 128:
        s3, s4 = by_sub[8], by_sub[9]
        assert isinstance(s3, KeyChange3) and isinstance(s4, KeyChange4)
        key = b"".join(v.to_bytes(4, "big") for v in (s1.nkho, s3.nkmo2, s4.nkmo1, s2.nklo))
        sgc = _sgc_text((s4.sgcho << 12) | s3.sgclo)
    else:
        key = s1.nkho.to_bytes(4, "big") + s2.nklo.to_bytes(4, "big")
        if 8 in needed:
            s3 = by_sub[8]
            assert isinstance(s3, KeyChange3)
            sgc = _sgc_text((s3.sgclo << 12) | (s3.nkmo2 >> 20))
    return AssembledKey(key=key, kt=KeyType(s1.kt), krn=s1.krn, ti=s2.ti,
                        ken=(s1.kenho << 4) | s2.kenlo, ro=bool(s1.ro), sgc=sgc)
