"""The meter as one object: manufacture it, type tokens, meter energy, read its status.

:class:`Meter` is the transport-free state machine the keypad, the CLI and the serial port all
drive. It wraps a :class:`~keypad_meter.state.MeterState` and mutates it; whoever owns the
storage saves the state afterwards (see :meth:`keypad_meter.storage.StateFile.transaction`).
Time is always passed in, so tests control the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tokens import (
    BaseDate,
    DecoderKey,
    EncryptionAlgorithm,
    KeyType,
    StsError,
    load_tables,
    tid_from_datetime,
    validate_pan,
)
from tokens.identifiers import drn_from_pan, validate_sgc

from .decoder import credit_view, enter_token, expire_key_change, lockout_remaining
from .metering import (
    Consumption,
    average_power_w,
    consume,
    hours_to_zero,
    is_low_credit,
    relay_events,
    wh_from_kwh,
    wh_from_pulses,
)
from .results import EntryResult
from .state import (
    DEFAULT_KCT_TIMEOUT_S,
    DEFAULT_LOW_CREDIT_WH,
    DEFAULT_MAX_CREDIT_WH,
    DEFAULT_TID_MEMORY,
    MAX_PENDING_READINGS,
    MeterState,
    Reading,
    utc_iso,
)


class ManufactureError(ValueError):
    """The data given to make a meter is inconsistent or out of range."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MeterSpec:
    """What the factory programs into a new meter (CONTRACT §2 ``init``)."""

    pan: str
    sgc: str
    ti: int
    krn: int
    kt: int
    ea: str
    decoder_key: str
    ken: int = 255
    base_date: int = 1993
    imp_per_kwh: int = 1000
    tid_memory_size: int = DEFAULT_TID_MEMORY
    manufacture_tid: int | None = None  # None: 0 (the base date) unless manufactured_at
    kct_timeout_s: int = DEFAULT_KCT_TIMEOUT_S
    max_credit_wh: int = DEFAULT_MAX_CREDIT_WH
    low_credit_wh: int = DEFAULT_LOW_CREDIT_WH
    tariff_rate: int = 0
    mfr_code: str | None = None
    sta_tables: str = "production"


def manufacture(spec: MeterSpec, now: datetime, manufactured_at: datetime | None = None
                ) -> MeterState:
    """A new meter with its decoder key and a TID memory pre-filled with the manufacture TID.

    The default manufacture TID is 0 (the base date): a meter made "today" on a base date whose
    TIDs have long passed 2004 would otherwise reject every conformance vector as Old. Give
    ``manufacture_tid`` or ``manufactured_at`` to model a real production date.
    """
    try:
        pan = validate_pan(spec.pan)
        sgc = validate_sgc(spec.sgc)
        ea = EncryptionAlgorithm.parse(spec.ea)
        kt = KeyType.parse(spec.kt)
        DecoderKey.from_hex(spec.decoder_key, ea)
        load_tables(spec.sta_tables)
        base = BaseDate.parse(spec.base_date)
        tid = spec.manufacture_tid
        if tid is None:
            tid = tid_from_datetime(manufactured_at, base) if manufactured_at else 0
    except StsError as exc:
        raise ManufactureError(str(exc)) from None
    if kt is KeyType.DCTK:
        raise ManufactureError("a keypad meter does not take a common key (KT 3)")
    for name, value, low, high in (
        ("ti", spec.ti, 0, 99), ("krn", spec.krn, 1, 15), ("ken", spec.ken, 0, 255),
        ("imp_per_kwh", spec.imp_per_kwh, 1, 1_000_000),
        ("tid_memory_size", spec.tid_memory_size, 1, 10_000),
        ("manufacture_tid", tid, 0, 0xFFFFFF), ("kct_timeout_s", spec.kct_timeout_s, 1, 86_400),
        ("max_credit_wh", spec.max_credit_wh, 1, 10**15),
        ("low_credit_wh", spec.low_credit_wh, 0, 10**15),
        ("tariff_rate", spec.tariff_rate, 0, 0xFFFF),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ManufactureError(f"{name} must be an integer {low}..{high}, got {value!r}")
    drn = drn_from_pan(pan)
    mfr_code = spec.mfr_code or drn[: 2 if len(drn) == 11 else 4]
    if not mfr_code.isascii() or not mfr_code.isdecimal() or len(mfr_code) not in (2, 4):
        raise ManufactureError("the manufacturer code is 2 or 4 digits")
    return MeterState(
        pan=pan, mfr_code=mfr_code, decoder_key=spec.decoder_key.lower(), ea=ea.value,
        kt=int(kt), krn=spec.krn, ti=spec.ti, sgc=sgc, ken=spec.ken, base_date=int(base),
        sta_tables=spec.sta_tables,
        tid_memory=[tid] * spec.tid_memory_size, tid_memory_size=spec.tid_memory_size,
        imp_per_kwh=spec.imp_per_kwh, kct_timeout_s=spec.kct_timeout_s,
        max_credit_wh=spec.max_credit_wh, low_credit_wh=spec.low_credit_wh,
        tariff_rate=spec.tariff_rate, metering_since=utc_iso(now),
    )


class Meter:
    """Operations on one meter's state; every method takes the current time."""

    def __init__(self, state: MeterState) -> None:
        self.state = state

    def enter(self, token: str, now: datetime) -> EntryResult:
        """Type a whole token (digits; spaces and dashes between groups are ignored)."""
        return enter_token(self.state, token, now)

    def consume_pulses(self, pulses: int, now: datetime, seconds: Decimal | None = None
                       ) -> Consumption:
        return consume(self.state, wh_from_pulses(self.state, pulses), now, seconds)

    def consume_kwh(self, kwh: Decimal, now: datetime, seconds: Decimal | None = None
                    ) -> Consumption:
        return consume(self.state, wh_from_kwh(kwh), now, seconds)

    def signal_tamper(self) -> tuple[str, ...]:
        """The tamper switch closed (cover opened, magnet): flag it and open the relay."""
        before, low = self.state.relay_reason, is_low_credit(self.state)
        self.state.tamper = True
        return relay_events(self.state, before, low)

    def reconnect(self) -> tuple[str, ...]:
        """The resident presses reconnect after a power-limit trip (the load was reduced)."""
        before, low = self.state.relay_reason, is_low_credit(self.state)
        self.state.overload = False
        return relay_events(self.state, before, low)

    def take_reading(self, now: datetime) -> Reading:
        """Queue a cumulative register reading for the vending server (telemetry)."""
        reading = Reading(seq=self.state.next_reading_seq, at=utc_iso(now),
                          energy_kwh=str(self.state.energy_kwh))
        self.state.next_reading_seq += 1
        self.state.readings = [*self.state.readings, reading][-MAX_PENDING_READINGS:]
        return reading

    def readings_sent(self, up_to_seq: int) -> None:
        """Forget the queued readings the server has acknowledged."""
        self.state.readings = [r for r in self.state.readings if r.seq > up_to_seq]

    def status(self, now: datetime) -> dict[str, Any]:
        """Registers, relay, key data and TID memory (CONTRACT §2 ``status --json``)."""
        s = self.state
        expire_key_change(s, now)
        average = average_power_w(s, now)
        to_zero = hours_to_zero(s, now)
        return {
            "meter_number": s.meter_number,
            "pan": s.pan,
            **credit_view(s),
            "tariff_rate": str(Decimal(s.tariff_rate).scaleb(-2)),
            "relay": s.relay,
            "relay_reason": s.relay_reason,
            "low_credit": is_low_credit(s),
            "low_credit_kwh": str(Decimal(s.low_credit_wh).scaleb(-3)),
            "energy_kwh": str(s.energy_kwh),
            "average_power_w": None if average is None else str(average),
            "hours_to_zero": None if to_zero is None else str(to_zero),
            "last_power_w": s.last_power_w,
            "max_power_w": s.max_power_w,
            "max_phase_unbalance_w": s.max_phase_unbalance_w,
            "tamper": s.tamper,
            "krn": s.krn,
            "ti": s.ti,
            "sgc": s.sgc,
            "kt": s.kt,
            "ken": s.ken,
            "ea": s.ea,
            "base_date": s.base_date,
            "mfr_code": s.mfr_code,
            "imp_per_kwh": s.imp_per_kwh,
            "tid_memory": list(s.tid_memory),
            "tid_memory_size": s.tid_memory_size,
            "kct_pending": [p.subclass for p in s.kct_pending],
            "lockout_s": lockout_remaining(s, now),
            "failures": s.failures,
            "pending_readings": len(s.readings),
            "display": s.last_display,
        }
