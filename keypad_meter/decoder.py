"""The token decoder: what happens between the ``#`` key and the display (SPEC §7, §8).

:func:`enter_token` checks a typed token in the order of SPEC §8 (format, class and function,
CRC under the active key, DDTK, key expiry, TID memory, range and overflow) and, when every
check passes, applies it to the :class:`~keypad_meter.state.MeterState` **and** records its
TID in the same step. The caller stores the state as one atomic write, so a token is either
fully applied with its TID remembered, or not at all.

Pure with respect to I/O: the time comes in as an argument, nothing is read or written here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tokens import (
    ClearCredit,
    ClearTamperCondition,
    CrcError,
    CreditKind,
    CurrencyCredit,
    CurrencyKind,
    ExtendedManagement,
    FunctionError,
    KeyChange1,
    KeyType,
    MeterTest,
    RangeError,
    Register,
    SetMaximumPhasePowerUnbalanceLimit,
    SetMaximumPowerLimit,
    SetTariffRate,
    StsError,
    Token,
    TokenFormatError,
    TransferCredit,
    assemble_key,
    decode_raw,
    from_raw,
    parse_token,
)
from tokens.codec import RawToken
from tokens.keychange import sections_needed
from tokens.tid import BaseDate

from .diagnostics import UnknownTestError, run_tests
from .results import EntryResult, ResultCode
from .state import CURRENCY_SCALE, WH_PER_UNIT, MeterState, PendingSection, parse_utc, utc_iso

LOCKOUT_AFTER = 3  # rejected entries before the keypad locks
LOCKOUT_FIRST_S = 10
LOCKOUT_MAX_S = 1280
LOCKOUT_MAX_DOUBLINGS = 7  # 10 s × 2⁷ = 1 280 s
KEY_CHANGE_SUBCLASSES = frozenset({3, 4, 8, 9})
TEST_MFR_CODE = 0  # "00"/"0000": test tokens every make accepts (CTSA02 uses it on any meter)
_NOT_ELECTRICITY = {
    CreditKind.WATER: "water", CreditKind.GAS: "gas", CreditKind.TIME: "time",
    CurrencyKind.WATER: "water", CurrencyKind.GAS: "gas", CurrencyKind.TIME: "time",
}


class Rejected(Exception):  # noqa: N818 - a control-flow signal, not an error report
    """A check failed: the entry ends with ``code``.

    Nothing changes but the lockout count, except that a refused key change drops its sections.
    """

    def __init__(self, code: ResultCode, detail: str = "") -> None:
        super().__init__(code.value)
        self.code = code
        self.detail = detail


def credit_view(state: MeterState) -> dict[str, str]:
    """The registers as decimal strings (the ``credit`` object of ``enter --json``)."""
    return {"credit_kwh": str(state.credit_kwh), "credit_currency": str(state.credit_currency)}


def lockout_remaining(state: MeterState, now: datetime) -> int:
    """Whole seconds the keypad stays locked (0 when it accepts entries)."""
    if state.locked_until is None:
        return 0
    left = (parse_utc(state.locked_until) - now).total_seconds()
    return max(0, int(-(-left // 1)))


def expire_key_change(state: MeterState, now: datetime) -> None:
    """Forget a half-entered key change older than the meter's timeout."""
    if state.kct_pending:
        started = min(parse_utc(s.at) for s in state.kct_pending)
        if now - started >= timedelta(seconds=state.kct_timeout_s):
            state.kct_pending = []


def enter_token(state: MeterState, text: str, now: datetime) -> EntryResult:
    """Type ``text`` on the keypad at ``now``: check it, apply it, and say what the meter shows.

    Mutates ``state`` (registers, TID memory, key data, lockout); store it afterwards.
    """
    wait = lockout_remaining(state, now)
    if wait:
        return _result(state, ResultCode.LOCKOUT, f"Locked {wait} s", None)
    expire_key_change(state, now)
    info: dict[str, Any] | None = None
    try:
        raw = _decode(state, text)
        try:
            token = from_raw(raw)
        except RangeError as exc:  # a field no valid token carries (defensive: CRC passed)
            raise Rejected(ResultCode.RANGE_ERROR) from exc
        info = _describe(raw, token)
        code, display = _apply(state, raw, token, now)
    except Rejected as rejected:
        state.failures += 1
        if state.failures >= LOCKOUT_AFTER:
            doublings = min(state.failures - LOCKOUT_AFTER, LOCKOUT_MAX_DOUBLINGS)
            seconds = min(LOCKOUT_FIRST_S << doublings, LOCKOUT_MAX_S)
            state.locked_until = utc_iso(now + timedelta(seconds=seconds))
        label = rejected.code.label
        display = f"{label}: {rejected.detail}" if rejected.detail else label
        return _result(state, rejected.code, display, info)
    if raw.token_class != 1:  # an accepted meter-specific token ends the lockout
        state.failures = 0
        state.locked_until = None
    return _result(state, code, display, info)


def _result(state: MeterState, code: ResultCode, display: str,
            info: dict[str, Any] | None) -> EntryResult:
    state.last_display = display
    return EntryResult(code=code, display=display, credit=credit_view(state), token=info)


def _decode(state: MeterState, text: str) -> RawToken:
    try:
        number = parse_token(text)
    except TokenFormatError as exc:
        raise Rejected(ResultCode.FORMAT_ERROR) from exc
    try:
        return decode_raw(number, state.cipher())
    except FunctionError as exc:
        raise Rejected(ResultCode.FUNCTION_ERROR) from exc
    except CrcError as exc:
        raise Rejected(ResultCode.CRC_ERROR) from exc


def _describe(raw: RawToken, token: Token) -> dict[str, Any]:
    info: dict[str, Any] = {"class": raw.token_class, "subclass": raw.subclass,
                            "type": type(token).__name__}
    if raw.tid is not None:
        info["tid"] = raw.tid
    return info


def _apply(state: MeterState, raw: RawToken, token: Token,
           now: datetime) -> tuple[ResultCode, str]:
    if isinstance(token, MeterTest):
        return _meter_test(state, token)
    if raw.token_class == 2 and raw.subclass in KEY_CHANGE_SUBCLASSES:
        return _key_change_section(state, raw, now)
    _check_function(state, token)
    if raw.token_class == 0 and state.key_type is KeyType.DDTK:
        raise Rejected(ResultCode.DDTK_ERROR)
    tid = raw.tid
    assert tid is not None  # every remaining token type carries a TID
    _check_tid(state, tid)
    display = _act(state, token)
    _remember_tid(state, tid)
    return ResultCode.ACCEPT, display


def _check_function(state: MeterState, token: Token) -> None:
    """Tokens this electricity meter recognises but has no function for."""
    kind = getattr(token, "kind", None)
    if kind in _NOT_ELECTRICITY:
        raise Rejected(ResultCode.FUNCTION_ERROR,
                       f"{_NOT_ELECTRICITY[kind]} credit is not for an electricity meter")
    if token.token_class == 2 and token.subclass == 7:
        raise Rejected(ResultCode.FUNCTION_ERROR, "no water meter factor on an electricity meter")


def _check_tid(state: MeterState, tid: int) -> None:
    if tid >> 16 > state.ken:
        raise Rejected(ResultCode.KEY_EXPIRED)
    if tid in state.tid_memory:
        raise Rejected(ResultCode.USED)
    if len(state.tid_memory) >= state.tid_memory_size and tid < min(state.tid_memory):
        raise Rejected(ResultCode.OLD)


def _remember_tid(state: MeterState, tid: int) -> None:
    memory = sorted(state.tid_memory)
    if len(memory) >= state.tid_memory_size:
        memory.pop(0)  # the smallest entry makes room
    memory.append(tid)
    state.tid_memory = sorted(memory)


def _act(state: MeterState, token: Token) -> str:
    """Apply a checked TID-bearing token; raise :class:`Rejected` for range and overflow."""
    if isinstance(token, TransferCredit):
        added = token.units * WH_PER_UNIT
        if state.credit_wh + added > state.max_credit_wh:
            raise Rejected(ResultCode.OVERFLOW_ERROR, "the credit register would overflow")
        state.credit_wh += added
        return f"Accept +{Decimal(added).scaleb(-3)} kWh, credit {state.credit_kwh} kWh"
    if isinstance(token, CurrencyCredit):
        change = int(token.amount * CURRENCY_SCALE)
        total = state.currency + change
        if total < 0:
            raise Rejected(ResultCode.RANGE_ERROR, "a debit larger than the credit")
        if total > state.max_currency:
            raise Rejected(ResultCode.OVERFLOW_ERROR, "the currency register would overflow")
        state.currency = total
        return f"Accept {token.amount:+} currency, credit {state.credit_currency}"
    if isinstance(token, SetMaximumPowerLimit):
        state.max_power_w = token.watts
        state.overload = False
        return f"Accept: power limit {token.watts} W"
    if isinstance(token, ClearCredit):
        return _clear_credit(state, token.register)
    if isinstance(token, SetTariffRate):
        state.tariff_rate = token.rate
        return f"Accept: tariff rate {Decimal(token.rate).scaleb(-2)} per kWh"
    if isinstance(token, ClearTamperCondition):
        state.tamper = False
        return "Accept: tamper cleared"
    if isinstance(token, SetMaximumPhasePowerUnbalanceLimit):
        state.max_phase_unbalance_w = token.watts
        return f"Accept: phase unbalance limit {token.watts} W"
    if isinstance(token, ExtendedManagement):
        return f"Accept: extended token {token.value:04x}"
    raise Rejected(ResultCode.FUNCTION_ERROR)  # pragma: no cover - every TID type is handled


def _clear_credit(state: MeterState, register: int) -> str:
    if register not in Register.__members__.values():
        raise Rejected(ResultCode.RANGE_ERROR, f"no credit register {register}")
    if register in (Register.ELECTRICITY, Register.ALL):
        state.credit_wh = 0
    if register in (Register.ELECTRICITY_CURRENCY, Register.ALL):
        state.currency = 0
    name = "all registers" if register == Register.ALL else Register(register).name.lower()
    return f"Accept: cleared {name.replace('_', ' ')}"


def _meter_test(state: MeterState, token: MeterTest) -> tuple[ResultCode, str]:
    if token.mfr_code not in (TEST_MFR_CODE, int(state.mfr_code)):
        raise Rejected(ResultCode.MFR_CODE_ERROR)
    if token.variant == 2:
        return ResultCode.ACCEPT, f"Read {token.control:09x}"
    try:
        return ResultCode.ACCEPT, run_tests(token, state)
    except UnknownTestError as exc:
        raise Rejected(ResultCode.RANGE_ERROR, "no such test") from exc


def _key_change_section(state: MeterState, raw: RawToken,
                        now: datetime) -> tuple[ResultCode, str]:
    bits = state.algorithm.key_length * 8
    if bits == 64 and raw.subclass == 9:
        raise Rejected(ResultCode.FUNCTION_ERROR, "a 4th key-change section needs a 128-bit key")
    pending = [s for s in state.kct_pending if s.subclass != raw.subclass]
    pending.append(PendingSection(subclass=raw.subclass, payload=raw.payload, at=utc_iso(now)))
    sections = {s.subclass: from_raw(RawToken(2, s.subclass, s.payload)) for s in pending}
    first = sections.get(3)
    needed = sections_needed(first if isinstance(first, KeyChange1) else None, bits)
    if not needed <= sections.keys():
        state.kct_pending = sorted(pending, key=lambda s: s.subclass)
        have = len(needed & sections.keys())
        return ResultCode.KCT_PENDING, f"KCT {have} of {len(needed)}"
    state.kct_pending = []
    try:
        new = assemble_key((sections[s] for s in needed), bits)  # type: ignore[misc]
    except StsError as exc:
        raise Rejected(ResultCode.RANGE_ERROR, "the key change carries invalid data") from exc
    if new.sgc is not None and len(new.sgc) != 6:  # 24 bits hold more than six digits
        raise Rejected(ResultCode.RANGE_ERROR, "the key change carries an invalid SGC")
    if new.kt is KeyType.DCTK:
        raise Rejected(ResultCode.KEY_TYPE_ERROR, "a keypad meter takes no common key")
    if new.kt is KeyType.DITK and state.key_type is not KeyType.DITK:
        raise Rejected(ResultCode.KEY_TYPE_ERROR, "only an initialisation key may change to KT 0")
    state.decoder_key = new.key.hex()
    state.kt, state.krn, state.ti, state.ken = int(new.kt), new.krn, new.ti, new.ken
    if new.sgc is not None:
        state.sgc = new.sgc
    if new.ro:
        state.tid_memory = []
        following = BaseDate.parse(state.base_date).next()
        if following is not None:
            state.base_date = int(following)
    return ResultCode.KEY_CHANGED, f"Key changed: KRN {new.krn} TI {new.ti:02d}"
