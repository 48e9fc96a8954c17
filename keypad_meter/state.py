"""The meter's non-volatile memory: every value that survives a power cut, and nothing else.

One :class:`MeterState` is what the state file holds (see :mod:`keypad_meter.storage`).
Quantities are integers in the meter's own resolution so that arithmetic is exact:
energy in Wh, currency in 10⁻⁵ of the currency (the token's base unit), the tariff rate in
hundredths of the currency per kWh. Derivable values (the relay position, kWh strings, the
meter number) are computed, not stored, so they can never disagree with the registers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from tokens import DecoderKey, EncryptionAlgorithm, KeyType, load_tables
from tokens.identifiers import drn_from_pan
from tokens.keys import BlockCipher
from tokens.sta import StaTables

WH_PER_UNIT = 100  # one 0.1 kWh token unit
CURRENCY_SCALE = 100_000  # currency base unit 10⁻⁵ (SPEC §3.3)
DEFAULT_TID_MEMORY = 50  # SPEC decision 6
DEFAULT_KCT_TIMEOUT_S = 600  # a field meter forgets a half-entered key change after 10 minutes
DEFAULT_MAX_CREDIT_WH = 9_999_999_900  # 9 999 999.9 kWh: above five maximum-value tokens
DEFAULT_MAX_CURRENCY = 10**11 * CURRENCY_SCALE
DEFAULT_LOW_CREDIT_WH = 5_000  # low-credit alarm at 5 kWh
MAX_PENDING_READINGS = 10_000  # telemetry backlog kept while the server is unreachable


@cache
def _tables(name_or_path: str) -> StaTables:
    """Table sets are loaded once per process (a token entry must not re-read a file)."""
    return load_tables(name_or_path)


@dataclass(slots=True)
class PendingSection:
    """A key-change section accepted under the current key, waiting for the others."""

    subclass: int
    payload: int = field(repr=False)  # carries part of the new key
    at: str = ""  # ISO-8601 UTC time it was entered


@dataclass(slots=True)
class Reading:
    """A cumulative register reading waiting to be posted to the vending server."""

    seq: int
    at: str
    energy_kwh: str


@dataclass(slots=True)
class MeterState:
    """Everything the meter remembers. Mutable: the meter works on a copy and stores it whole."""

    # identity and key data
    pan: str
    mfr_code: str
    decoder_key: str = field(repr=False)  # hex; only this file and the cipher ever see it
    ea: str
    kt: int
    krn: int
    ti: int
    sgc: str
    ken: int
    base_date: int
    sta_tables: str  # EA07 table set: "production", "sample" or a table file path
    # token identifier memory (SPEC §8)
    tid_memory: list[int]
    tid_memory_size: int
    # credit registers
    credit_wh: int = 0
    currency: int = 0  # 10⁻⁵ currency units
    tariff_rate: int = 0  # hundredths of the currency per kWh; 0 = no tariff set
    max_credit_wh: int = DEFAULT_MAX_CREDIT_WH
    max_currency: int = DEFAULT_MAX_CURRENCY
    low_credit_wh: int = DEFAULT_LOW_CREDIT_WH
    # metering
    imp_per_kwh: int = 1000
    energy_wh: int = 0  # cumulative register, never reset
    pulse_remainder: int = 0  # (pulses × 1000) not yet worth a whole Wh, in pulse-Wh
    last_power_w: int | None = None
    consumption: list[list[int]] = field(default_factory=list)  # [hour index, Wh] for 24 h
    metering_since: str = ""
    # load switch and management settings
    tamper: bool = False
    overload: bool = False  # tripped by the maximum power limit, until reconnected
    max_power_w: int | None = None
    max_phase_unbalance_w: int | None = None
    # key change in progress
    kct_pending: list[PendingSection] = field(default_factory=list)
    kct_timeout_s: int = DEFAULT_KCT_TIMEOUT_S
    # keypad lockout (vendor practice, DOMAIN.md §5)
    failures: int = 0
    locked_until: str | None = None
    # telemetry backlog
    readings: list[Reading] = field(default_factory=list)
    next_reading_seq: int = 1
    last_display: str = ""

    @property
    def key(self) -> DecoderKey:
        return DecoderKey.from_hex(self.decoder_key, self.ea)

    def cipher(self) -> BlockCipher:
        """The block cipher of the active decoder key (with this meter's STA tables)."""
        return self.key.cipher(_tables(self.sta_tables))

    @property
    def key_type(self) -> KeyType:
        return KeyType(self.kt)

    @property
    def algorithm(self) -> EncryptionAlgorithm:
        return EncryptionAlgorithm.parse(self.ea)

    @property
    def meter_number(self) -> str:
        return drn_from_pan(self.pan)

    def has_credit(self) -> bool:
        """Credit worth at least one Wh is left in either register."""
        return self.credit_wh > 0 or (self.tariff_rate > 0 and self.currency >= self.tariff_rate)

    @property
    def relay_reason(self) -> str | None:
        """Why the load switch is open (``None`` when it is closed); derived, never stored."""
        if self.tamper:
            return "tamper"
        if self.overload:
            return "power_limit"
        if not self.has_credit():
            return "no_credit"
        return None

    @property
    def relay(self) -> str:
        return "closed" if self.relay_reason is None else "open"

    @property
    def credit_kwh(self) -> Decimal:
        return Decimal(self.credit_wh).scaleb(-3)

    @property
    def credit_currency(self) -> Decimal:
        return Decimal(self.currency).scaleb(-5)

    @property
    def energy_kwh(self) -> Decimal:
        return Decimal(self.energy_wh).scaleb(-3)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeterState:
        """Rebuild from the stored form; raises ``TypeError``/``KeyError`` on a wrong shape."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise KeyError(f"unknown state fields {sorted(unknown)}")
        values = dict(data)
        values["kct_pending"] = [PendingSection(**s) for s in data.get("kct_pending", [])]
        values["readings"] = [Reading(**r) for r in data.get("readings", [])]
        return cls(**values)


def utc_iso(when: datetime) -> str:
    """ISO-8601 text of an aware time, in UTC."""
    if when.tzinfo is None:
        raise ValueError("the meter works with aware UTC times only")
    return when.astimezone(UTC).isoformat()


def parse_utc(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return when.astimezone(UTC)
