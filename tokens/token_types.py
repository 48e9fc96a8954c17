"""Typed token values (SPEC §1.2): one frozen dataclass per kind of token.

``encode(token, key)`` and ``decode(digits, key)`` convert between these and the 20 digits.
Quantities are kept in their meaningful form (0.1-unit counts, watts, ``Decimal`` currency);
a value the 16-bit coding cannot represent exactly is refused with a :class:`RangeError` that
names the value the token would carry instead (see :func:`tokens.amount.round_up_units`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import ClassVar, TypeVar

from .amount import (
    decode_currency_amount,
    decode_transfer_amount,
    encode_currency_amount,
    encode_transfer_amount,
)
from .codec import RawToken, decode_raw, encode_raw, pack_fields
from .errors import FunctionError, RangeError, is_int
from .keys import DecoderKey, KeyType
from .sta import StaTables

_K = TypeVar("_K", bound=IntEnum)


class TokenClass(IntEnum):
    TRANSFER_CREDIT = 0
    INITIATE_METER_TEST = 1
    MANAGEMENT = 2


class CreditKind(IntEnum):
    """Class 0 subclasses 0–3 (units of 0.1 kWh, 0.1 kL, 0.1 m³, 0.1 min)."""

    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3


class CurrencyKind(IntEnum):
    """Class 0 subclasses 4–7: Ed 3 currency credit (base unit 10⁻⁵)."""

    ELECTRICITY = 4
    WATER = 5
    GAS = 6
    TIME = 7


class Register(IntEnum):
    """ClearCredit register selectors (class 2 subclass 1)."""

    ELECTRICITY = 0
    WATER = 1
    GAS = 2
    TIME = 3
    ELECTRICITY_CURRENCY = 4
    WATER_CURRENCY = 5
    GAS_CURRENCY = 6
    TIME_CURRENCY = 7
    ALL = 0xFFFF


def _check(name: str, value: int, bits: int) -> None:
    if not is_int(value) or not 0 <= value < 1 << bits:
        raise RangeError(f"{name}={value!r} does not fit {bits} bits")


def _kind(enum: type[_K], value: object) -> _K:
    if not is_int(value) or value not in enum._value2member_map_:
        raise FunctionError(f"{value!r} is not a {enum.__name__} subclass")
    return enum(value)


class Token:
    """Base of the typed tokens."""

    token_class: ClassVar[TokenClass]

    @property
    def subclass(self) -> int:
        raise NotImplementedError

    def fields(self) -> dict[str, int]:
        """The raw named fields (CONTRACT §1) of this token."""
        raise NotImplementedError

    def payload(self) -> int:
        return pack_fields(self.token_class, self.subclass, self.fields())

    @property
    def tid(self) -> int | None:
        return None


def _exact_transfer_field(units: int, what: str) -> int:
    field = encode_transfer_amount(units)
    if decode_transfer_amount(field) != units:
        raise RangeError(
            f"{what} {units} cannot be coded exactly; the token would carry "
            f"{decode_transfer_amount(field)} (use tokens.amount.round_up_units)"
        )
    return field


@dataclass(frozen=True, slots=True, kw_only=True)
class _TidToken(Token):
    tid: int  # type: ignore[misc]
    rnd: int = 0

    def _check_common(self) -> None:
        _check("tid", self.tid, 24)
        _check("rnd", self.rnd, 4)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCredit(_TidToken):
    """Class 0 subclasses 0–3: credit in 0.1 units (0.1 kWh for electricity)."""

    token_class: ClassVar[TokenClass] = TokenClass.TRANSFER_CREDIT
    kind: CreditKind
    units: int

    def __post_init__(self) -> None:
        self._check_common()
        object.__setattr__(self, "kind", _kind(CreditKind, self.kind))
        _exact_transfer_field(self.units, "credit")

    @property
    def subclass(self) -> int:
        return int(self.kind)

    def fields(self) -> dict[str, int]:
        return {"rnd": self.rnd, "tid": self.tid, "amount": encode_transfer_amount(self.units)}


@dataclass(frozen=True, slots=True, kw_only=True)
class CurrencyCredit(Token):
    """Class 0 subclasses 4–7: signed currency credit (Ed 3), CRC_C."""

    token_class: ClassVar[TokenClass] = TokenClass.TRANSFER_CREDIT
    kind: CurrencyKind
    tid: int  # type: ignore[misc]
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _kind(CurrencyKind, self.kind))
        _check("tid", self.tid, 24)
        carried = decode_currency_amount(*encode_currency_amount(self.amount))
        if carried != self.amount:
            raise RangeError(
                f"currency amount {self.amount} cannot be coded exactly; the token would "
                f"carry {carried} (use tokens.amount.round_currency)"
            )

    @property
    def subclass(self) -> int:
        return int(self.kind)

    def fields(self) -> dict[str, int]:
        se, field = encode_currency_amount(self.amount)
        return {"se": se, "tid": self.tid, "amount": field}


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterTest(Token):
    """Class 1: initiate a meter test or display (not encrypted, not meter-specific).

    Subclass 0: 36-bit control, 8-bit (2-digit) manufacturer code; subclass 1: 28-bit control,
    16-bit (4-digit) code; subclass 2: extended-token read (STS 202-5), raw fields only.
    """

    token_class: ClassVar[TokenClass] = TokenClass.INITIATE_METER_TEST
    control: int
    mfr_code: int
    variant: int = 0  # the subclass: 0, 1 or 2

    def __post_init__(self) -> None:
        if not is_int(self.variant) or self.variant not in (0, 1, 2):
            raise RangeError(f"class 1 subclass {self.variant} is not defined")
        control_bits, mfr_bits = (28, 16) if self.variant == 1 else (36, 8)
        _check("control", self.control, control_bits)
        _check("mfr_code", self.mfr_code, mfr_bits)

    @property
    def subclass(self) -> int:
        return self.variant

    def fields(self) -> dict[str, int]:
        return {"control": self.control, "mfr_code": self.mfr_code}


@dataclass(frozen=True, slots=True, kw_only=True)
class _ValueManagement(_TidToken):
    """Class 2 tokens with RND, TID and one 16-bit value."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    _subclass: ClassVar[int]

    @property
    def subclass(self) -> int:
        return self._subclass

    def _field16(self) -> int:
        raise NotImplementedError

    def fields(self) -> dict[str, int]:
        return {"rnd": self.rnd, "tid": self.tid, "amount": self._field16()}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMaximumPowerLimit(_ValueManagement):
    """2/0: maximum power in watts (TransferAmount coding, no ×10)."""

    _subclass: ClassVar[int] = 0
    watts: int

    def __post_init__(self) -> None:
        self._check_common()
        _exact_transfer_field(self.watts, "power limit (W)")

    def _field16(self) -> int:
        return encode_transfer_amount(self.watts)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearCredit(_ValueManagement):
    """2/1: clear one credit register (0–7) or all (0xFFFF)."""

    _subclass: ClassVar[int] = 1
    register: int

    def __post_init__(self) -> None:
        self._check_common()
        _check("register", self.register, 16)

    def _field16(self) -> int:
        return self.register


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTariffRate(_ValueManagement):
    """2/2: tariff rate (16-bit, semantics manufacturer-defined; see the meter's docs)."""

    _subclass: ClassVar[int] = 2
    rate: int

    def __post_init__(self) -> None:
        self._check_common()
        _check("rate", self.rate, 16)

    def _field16(self) -> int:
        return self.rate


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearTamperCondition(_ValueManagement):
    """2/5: clear the tamper flag (the 16-bit pad is 0)."""

    _subclass: ClassVar[int] = 5
    pad: int = 0

    def __post_init__(self) -> None:
        self._check_common()
        _check("pad", self.pad, 16)

    def _field16(self) -> int:
        return self.pad


@dataclass(frozen=True, slots=True, kw_only=True)
class SetMaximumPhasePowerUnbalanceLimit(_ValueManagement):
    """2/6: maximum phase power unbalance in watts (TransferAmount coding)."""

    _subclass: ClassVar[int] = 6
    watts: int

    def __post_init__(self) -> None:
        self._check_common()
        _exact_transfer_field(self.watts, "phase unbalance limit (W)")

    def _field16(self) -> int:
        return encode_transfer_amount(self.watts)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetWaterMeterFactor(_ValueManagement):
    """2/7: water meter factor (16-bit raw)."""

    _subclass: ClassVar[int] = 7
    factor: int

    def __post_init__(self) -> None:
        self._check_common()
        _check("factor", self.factor, 16)

    def _field16(self) -> int:
        return self.factor


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedManagement(_ValueManagement):
    """2/10: extended token set (STS 202-5), raw 16-bit field (SPEC decision 10)."""

    _subclass: ClassVar[int] = 10
    value: int

    def __post_init__(self) -> None:
        self._check_common()
        _check("value", self.value, 16)

    def _field16(self) -> int:
        return self.value


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange1(Token):
    """2/3 Set1stSectionDecoderKey: KENHO, new KRN, RO, S3KCT, new KT, NKHO."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    kenho: int
    krn: int
    ro: int
    s3kct: int
    kt: int
    nkho: int

    def __post_init__(self) -> None:
        for name, bits in (("kenho", 4), ("krn", 4), ("ro", 1), ("s3kct", 1), ("kt", 2),
                           ("nkho", 32)):
            _check(name, getattr(self, name), bits)

    @property
    def subclass(self) -> int:
        return 3

    @property
    def key_type(self) -> KeyType:
        return KeyType(self.kt)

    def fields(self) -> dict[str, int]:
        return {"kenho": self.kenho, "krn": self.krn, "ro": self.ro, "s3kct": self.s3kct,
                "kt": self.kt, "nkho": self.nkho}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange2(Token):
    """2/4 Set2ndSectionDecoderKey: KENLO, new TI, NKLO."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    kenlo: int
    ti: int
    nklo: int

    def __post_init__(self) -> None:
        for name, bits in (("kenlo", 4), ("ti", 8), ("nklo", 32)):
            _check(name, getattr(self, name), bits)

    @property
    def subclass(self) -> int:
        return 4

    def fields(self) -> dict[str, int]:
        return {"kenlo": self.kenlo, "ti": self.ti, "nklo": self.nklo}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange3(Token):
    """2/8 Set3rdSectionDecoderKey: SGCLO and NKMO2 (128-bit) or the new SGC (64-bit + SGC)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    sgclo: int
    nkmo2: int

    def __post_init__(self) -> None:
        _check("sgclo", self.sgclo, 12)
        _check("nkmo2", self.nkmo2, 32)

    @property
    def subclass(self) -> int:
        return 8

    def fields(self) -> dict[str, int]:
        return {"sgclo": self.sgclo, "nkmo2": self.nkmo2}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyChange4(Token):
    """2/9 Set4thSectionDecoderKey: SGCHO and NKMO1 (128-bit key change only)."""

    token_class: ClassVar[TokenClass] = TokenClass.MANAGEMENT
    sgcho: int
    nkmo1: int

    def __post_init__(self) -> None:
        _check("sgcho", self.sgcho, 12)
        _check("nkmo1", self.nkmo1, 32)

    @property
    def subclass(self) -> int:
        return 9

    def fields(self) -> dict[str, int]:
        return {"sgcho": self.sgcho, "nkmo1": self.nkmo1}


KeyChangeSection = KeyChange1 | KeyChange2 | KeyChange3 | KeyChange4
_MANAGEMENT_VALUE = {
    0: (SetMaximumPowerLimit, "watts", decode_transfer_amount),
    1: (ClearCredit, "register", int),
    2: (SetTariffRate, "rate", int),
    5: (ClearTamperCondition, "pad", int),
    6: (SetMaximumPhasePowerUnbalanceLimit, "watts", decode_transfer_amount),
    7: (SetWaterMeterFactor, "factor", int),
    10: (ExtendedManagement, "value", int),
}


def from_raw(raw: RawToken) -> Token:
    """The typed value of a raw token."""
    f = raw.fields
    c, s = raw.token_class, raw.subclass
    if c == 0 and s < 4:
        return TransferCredit(tid=f["tid"], rnd=f["rnd"], kind=CreditKind(s),
                              units=decode_transfer_amount(f["amount"]))
    if c == 0:
        return CurrencyCredit(kind=CurrencyKind(s), tid=f["tid"],
                              amount=decode_currency_amount(f["se"], f["amount"]))
    if c == 1:
        return MeterTest(control=f["control"], mfr_code=f["mfr_code"], variant=s)
    if s in _MANAGEMENT_VALUE:
        cls, name, convert = _MANAGEMENT_VALUE[s]
        return cls(tid=f["tid"], rnd=f["rnd"], **{name: convert(f["amount"])})
    return {3: KeyChange1, 4: KeyChange2, 8: KeyChange3, 9: KeyChange4}[s](**f)


def encode(token: Token, key: DecoderKey | None, tables: StaTables | None = None) -> str:
    """The 20 digits of ``token`` under a meter's decoder key (``None`` for class 1)."""
    cipher = key.cipher(tables) if key is not None else None
    return encode_raw(token.token_class, token.subclass, token.payload(), cipher)


def decode(digits: str, key: DecoderKey | None, tables: StaTables | None = None) -> Token:
    """Decode and check 20 digits under a decoder key (``None`` decodes class 1 only)."""
    cipher = key.cipher(tables) if key is not None else None
    return from_raw(decode_raw(digits, cipher))
