"""Decoder keys, key types and the key derivation algorithms DKGA-02 and DKGA-04 (SPEC §6).

Key bytes are held in DES/HMAC output order everywhere (SPEC decision 2). Objects that hold
key material never show it in ``repr``/``str``; the hex form is only available through an
explicit :meth:`DecoderKey.hex` call, for the places that must emit it (the ``derive-key``
command, the meter's own state file).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from functools import lru_cache
from typing import Any, Protocol

from .des import LegacyDes, des_encrypt
from .errors import DecoderKeyError, IdentifierError, RangeError, is_int
from .identifiers import pan_block, validate_pan, validate_sgc
from .misty1 import Misty1
from .sta import Sta, StaTables, load_tables
from .tid import BaseDate


class BlockCipher(Protocol):
    def encrypt_block(self, block: int) -> int: ...
    def decrypt_block(self, block: int) -> int: ...


class EncryptionAlgorithm(StrEnum):
    """Token encryption algorithms (SPEC §5.1)."""

    EA07 = "07"  # STA
    EA09 = "09"  # DES, legacy (withdrawn in Ed 3)
    EA11 = "11"  # MISTY1

    @property
    def key_length(self) -> int:
        return 16 if self is EncryptionAlgorithm.EA11 else 8

    @classmethod
    def parse(cls, value: object) -> EncryptionAlgorithm:
        if type(value) is cls:  # members only (an enum with members has no subclasses)
            return value  # type: ignore[return-value]
        found = _lookup(_EA_BY_TEXT, value)
        if found is None:
            raise DecoderKeyError(f"encryption algorithm must be 07, 09 or 11, got {value!r}")
        return found


class Dkga(StrEnum):
    """Decoder key generation algorithms supported (SPEC decision 8)."""

    DKGA02 = "02"
    DKGA04 = "04"

    @classmethod
    def parse(cls, value: object) -> Dkga:
        if type(value) is cls:
            return value  # type: ignore[return-value]
        found = _lookup(_DKGA_BY_TEXT, value)
        if found is None:
            raise DecoderKeyError(f"DKGA must be 02 or 04, got {value!r}")
        return found


class KeyType(IntEnum):
    """Decoder key types (SPEC §6.2)."""

    DITK = 0  # initialization: factory key, never vends
    DDTK = 1  # default: accepts key changes, rejects credit (DDTK error)
    DUTK = 2  # unique: the normal per-meter key
    DCTK = 3  # common: magnetic-card meters only; keypad meters reject it

    @classmethod
    def parse(cls, value: object) -> KeyType:
        if type(value) is cls:
            return value  # type: ignore[return-value]
        found = _lookup(_KT_BY_VALUE, value)
        if found is None:
            raise DecoderKeyError(f"key type must be 0, 1, 2 or 3, got {value!r}")
        return found


def _lookup(table: dict[object, Any], value: object) -> Any:
    """Enum parsing by dictionary (hot path): ints and their decimal strings, no bools."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return table.get(value)


_EA_BY_TEXT: dict[object, EncryptionAlgorithm] = {
    **{ea.value: ea for ea in EncryptionAlgorithm},
    **{int(ea.value): ea for ea in EncryptionAlgorithm},
}
_DKGA_BY_TEXT: dict[object, Dkga] = {
    **{d.value: d for d in Dkga},
    **{int(d.value): d for d in Dkga},
}
_KT_BY_VALUE: dict[object, KeyType] = {
    **{int(kt): kt for kt in KeyType},
    **{str(int(kt)): kt for kt in KeyType},
}


@dataclass(frozen=True, slots=True)
class DecoderKey:
    """A ready decoder key for one algorithm. ``repr`` never shows the key."""

    key: bytes = field(repr=False)
    ea: EncryptionAlgorithm

    def __post_init__(self) -> None:
        if not isinstance(self.key, bytes):
            raise DecoderKeyError("decoder key must be bytes")
        ea = EncryptionAlgorithm.parse(self.ea)
        object.__setattr__(self, "ea", ea)
        if len(self.key) != ea.key_length:
            raise DecoderKeyError(
                f"EA{ea.value} needs a {ea.key_length * 8}-bit decoder key, "
                f"got {len(self.key) * 8} bits"
            )

    @classmethod
    def _trusted(cls, key: bytes, ea: EncryptionAlgorithm) -> DecoderKey:
        """A key straight from a DKGA (already the right length): skips re-validation."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "key", key)
        object.__setattr__(obj, "ea", ea)
        return obj

    @classmethod
    def from_hex(cls, text: str, ea: EncryptionAlgorithm | str) -> DecoderKey:
        try:
            key = bytes.fromhex(text)
        except (TypeError, ValueError):
            raise DecoderKeyError("decoder key must be hexadecimal") from None
        return cls(key, EncryptionAlgorithm.parse(ea))

    def hex(self) -> str:
        """Lower-case hex of the key. Only for outputs that must carry it; never log it."""
        return self.key.hex()

    def cipher(self, tables: StaTables | None = None) -> BlockCipher:
        return cipher_for(self.key, self.ea, tables)


def make_cipher(key: bytes, ea: EncryptionAlgorithm, tables: StaTables) -> BlockCipher:
    """A new block cipher object for a key (no caching: see :func:`cipher_for`)."""
    if ea is EncryptionAlgorithm.EA07:
        return Sta(key, tables)
    if ea is EncryptionAlgorithm.EA11:
        return Misty1(key)
    return LegacyDes(key)


def cipher_for(key: bytes, ea: EncryptionAlgorithm, tables: StaTables | None = None) -> BlockCipher:
    """The block cipher for a key; a bounded cache keeps the per-key set-up off the hot path."""
    return _cached_cipher(key, ea, tables or load_tables())


_cached_cipher = lru_cache(maxsize=1024)(make_cipher)


@dataclass(frozen=True, slots=True)
class KeyDerivation:
    """Everything a DKGA needs to derive one meter's decoder key. ``repr`` hides the VK."""

    dkga: Dkga
    vending_key: bytes = field(repr=False)
    pan: str
    kt: KeyType
    sgc: str
    ti: int
    krn: int
    base_date: BaseDate
    ea: EncryptionAlgorithm

    def __post_init__(self) -> None:
        values = validate_derivation(
            self.dkga, self.vending_key, self.pan, self.kt, self.sgc, self.ti, self.krn,
            self.base_date, self.ea,
        )
        for name, value in zip(_DERIVATION_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def derive(self) -> DecoderKey:
        return derive_decoder_key(self)


_DERIVATION_FIELDS = ("dkga", "vending_key", "pan", "kt", "sgc", "ti", "krn", "base_date", "ea")
_Derivation = tuple[Dkga, bytes, str, KeyType, str, int, int, BaseDate, EncryptionAlgorithm]


def validate_derivation(
    dkga: object, vending_key: object, pan: object, kt: object, sgc: object, ti: object,
    krn: object, base_date: object, ea: object,
) -> _Derivation:
    """Check and normalise key-derivation inputs; every failure is a :class:`DecoderKeyError`."""
    # enum members pass without a call (the per-token path of bulk encoding gives members)
    dkga_ = dkga if type(dkga) is Dkga else Dkga.parse(dkga)
    ea_ = ea if type(ea) is EncryptionAlgorithm else EncryptionAlgorithm.parse(ea)
    kt_ = kt if type(kt) is KeyType else KeyType.parse(kt)
    base_date_ = base_date if type(base_date) is BaseDate else _parse_base_date(base_date)
    try:
        pan_ = validate_pan(pan)  # type: ignore[arg-type]
        sgc_ = validate_sgc(sgc)  # type: ignore[arg-type]
    except IdentifierError as exc:
        raise DecoderKeyError(str(exc)) from None
    if not isinstance(vending_key, bytes):
        raise DecoderKeyError("vending key must be bytes")
    if not is_int(ti) or not 0 <= ti <= 99:  # type: ignore[operator]
        raise DecoderKeyError(f"TI must be an integer 0..99, got {ti!r}")
    if not is_int(krn) or not 1 <= krn <= 15:  # type: ignore[operator]
        raise DecoderKeyError(f"KRN must be an integer 1..15, got {krn!r}")
    if dkga_ is Dkga.DKGA02:
        if len(vending_key) != 8:
            raise DecoderKeyError("DKGA-02 needs a 64-bit vending key")
        if ea_ is EncryptionAlgorithm.EA11:
            raise DecoderKeyError("EA11 needs a 128-bit key, which only DKGA-04 derives")
    elif len(vending_key) != 20:
        raise DecoderKeyError("DKGA-04 needs a 160-bit vending key")
    return dkga_, vending_key, pan_, kt_, sgc_, ti, krn, base_date_, ea_  # type: ignore[return-value]


def derive_key(
    dkga: object, vending_key: object, pan: object, kt: object, sgc: object, ti: object,
    krn: object, base_date: object, ea: object,
) -> DecoderKey:
    """Validate derivation inputs and derive the decoder key, without building a
    :class:`KeyDerivation` (the per-token path of bulk encoding, which keeps HMAC states of
    the last few vending keys)."""
    return _derive(*validate_derivation(dkga, vending_key, pan, kt, sgc, ti, krn, base_date, ea),
                   bulk=True)


def derive_key_bytes(
    dkga: object, vending_key: object, pan: object, kt: object, sgc: object, ti: object,
    krn: object, base_date: object, ea: object,
) -> bytes:
    """:func:`derive_key` without the :class:`DecoderKey` around the key bytes, for bulk paths
    that only make a cipher of it. The bytes are key material: never log them."""
    return _derive_bytes(
        *validate_derivation(dkga, vending_key, pan, kt, sgc, ti, krn, base_date, ea),
        bulk=True,
    )


def _parse_base_date(value: object) -> BaseDate:
    if type(value) is BaseDate:
        return value  # type: ignore[return-value]
    try:
        return BaseDate.parse(value)
    except RangeError as exc:
        raise DecoderKeyError(str(exc)) from None


def control_block(kt: int, sgc: str, ti: int, krn: int) -> bytes:
    """DKGA-01/02 control block: KT ‖ SGC ‖ TI ‖ KRN ‖ FFFFFF (SPEC §6.3)."""
    return bytes.fromhex(f"{kt:x}{sgc}{ti:02d}{krn:x}ffffff")


def dkga02(
    vending_key: bytes, pan: str, kt: int, sgc: str, ti: int, krn: int
) -> bytes:
    """DKGA-02: DK = DES(VK, X) ⊕ X ⊕ VK with X = PANblock ⊕ control block (SPEC §6.4)."""
    x = int.from_bytes(pan_block(pan, common=kt == KeyType.DCTK), "big") ^ int.from_bytes(
        control_block(kt, sgc, ti, krn), "big"
    )
    xb = x.to_bytes(8, "big")
    out = int.from_bytes(des_encrypt(vending_key, xb), "big") ^ x ^ int.from_bytes(
        vending_key, "big"
    )
    return out.to_bytes(8, "big")


def dkga04_message(
    pan: str, kt: int, sgc: str, ti: int, krn: int, base_date: BaseDate, ea: EncryptionAlgorithm
) -> bytes:
    """The HMAC message of DKGA-04 (SPEC §6.5): length-prefixed labels and context."""
    return _DKGA04_HEAD[base_date, ea] + _DKGA04_TAIL % (
        ti, sgc.encode(), kt, krn, pan.encode(), _DKGA04_L[ea]
    )


# count(4) | "04" | BD | EA | TI | 00 | count(4) | SGC | KT | KRN | PAN | L: each text field is
# preceded by its length byte (SPEC §6.5). The head depends on the base date and the EA only.
_DKGA04_HEAD = {
    (bd, ea): b"\x04\x0204\x02%s\x02%s\x02" % (bd.code.encode(), ea.value.encode())
    for bd in BaseDate
    for ea in EncryptionAlgorithm
}
_DKGA04_TAIL = b"%02d\x00\x04\x06%s\x01%x\x01%x\x12%s%s"
_DKGA04_L = {ea: b"\x00\x00\x00\x80" if ea is EncryptionAlgorithm.EA11 else b"\x00\x00\x00\x40"
             for ea in EncryptionAlgorithm}


def dkga04(
    vending_key: bytes,
    pan: str,
    kt: int,
    sgc: str,
    ti: int,
    krn: int,
    base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> bytes:
    """DKGA-04: the first 8 (EA07/EA09) or 16 (EA11) bytes of HMAC-SHA-256(VK, M). Keeps
    nothing of the vending key (the vending server derives with this)."""
    message = dkga04_message(pan, kt, sgc, ti, krn, base_date, ea)
    return hmac.digest(vending_key, message, "sha256")[: ea.key_length]


def _dkga04_bulk(
    vending_key: bytes, pan: str, kt: int, sgc: str, ti: int, krn: int, base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> bytes:
    """:func:`dkga04` from HMAC states kept for the last few vending keys: bulk derivation
    (the ``tokens`` CLI) derives many meters' keys under one vending key."""
    inner, outer = _hmac_sha256_states(vending_key)
    inner = inner.copy()
    inner.update(dkga04_message(pan, kt, sgc, ti, krn, base_date, ea))
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.digest()[: ea.key_length]


@lru_cache(maxsize=16)
def _hmac_sha256_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the HMAC inner and outer pads of ``key`` (RFC 2104).

    Bulk re-keying derives a key per meter under one vending key; starting each HMAC from
    these states saves the two pad blocks and the set-up of ``hmac.digest`` on every token.
    The states hold key material: they never leave this module.
    """
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    return (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))


_SHA256_BLOCK = 64
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def derive_decoder_key(params: KeyDerivation) -> DecoderKey:
    """Derive a meter's decoder key from its vending key and key data."""
    p = params
    return _derive(p.dkga, p.vending_key, p.pan, p.kt, p.sgc, p.ti, p.krn, p.base_date, p.ea)


def _derive(
    dkga: Dkga, vending_key: bytes, pan: str, kt: KeyType, sgc: str, ti: int, krn: int,
    base_date: BaseDate, ea: EncryptionAlgorithm, *, bulk: bool = False,
) -> DecoderKey:
    key = _derive_bytes(dkga, vending_key, pan, kt, sgc, ti, krn, base_date, ea, bulk=bulk)
    return DecoderKey._trusted(key, ea)


def _derive_bytes(
    dkga: Dkga, vending_key: bytes, pan: str, kt: KeyType, sgc: str, ti: int, krn: int,
    base_date: BaseDate, ea: EncryptionAlgorithm, *, bulk: bool = False,
) -> bytes:
    if dkga is Dkga.DKGA02:
        return dkga02(vending_key, pan, kt, sgc, ti, krn)
    if bulk:
        return _dkga04_bulk(vending_key, pan, kt, sgc, ti, krn, base_date, ea)
    return dkga04(vending_key, pan, kt, sgc, ti, krn, base_date, ea)
