"""What the meter answers when a token is typed: result codes (CONTRACT §2) and the display.

The codes follow the token status register of real keypad meters (Conlog BEC62 list in
DOMAIN.md): one stable machine code per outcome, plus the short text a resident reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ResultCode(StrEnum):
    """Outcome of one token entry; the ``result`` field of ``enter --json``."""

    ACCEPT = "accept"
    KCT_PENDING = "kct_pending"
    KEY_CHANGED = "key_changed"
    USED = "used"
    OLD = "old"
    KEY_EXPIRED = "key_expired"
    CRC_ERROR = "crc_error"
    DDTK_ERROR = "ddtk_error"
    FORMAT_ERROR = "format_error"
    RANGE_ERROR = "range_error"
    FUNCTION_ERROR = "function_error"
    KEY_TYPE_ERROR = "key_type_error"
    OVERFLOW_ERROR = "overflow_error"
    MFR_CODE_ERROR = "mfr_code_error"
    LOCKOUT = "lockout"

    @property
    def accepted(self) -> bool:
        """True for the outcomes that ``enter`` exits 0 on (a stored key-change section too)."""
        return self in _ACCEPTED

    @property
    def label(self) -> str:
        """The short word the meter display shows (the BEC62 status names)."""
        return _LABELS[self]


_ACCEPTED = frozenset({ResultCode.ACCEPT, ResultCode.KCT_PENDING, ResultCode.KEY_CHANGED})

_LABELS = {
    ResultCode.ACCEPT: "Accept",
    ResultCode.KCT_PENDING: "KCT pending",
    ResultCode.KEY_CHANGED: "Key changed",
    ResultCode.USED: "Used",
    ResultCode.OLD: "Old",
    ResultCode.KEY_EXPIRED: "Key expired",
    ResultCode.CRC_ERROR: "Reject",
    ResultCode.DDTK_ERROR: "DDTK error",
    ResultCode.FORMAT_ERROR: "Format error",
    ResultCode.RANGE_ERROR: "Range error",
    ResultCode.FUNCTION_ERROR: "Function error",
    ResultCode.KEY_TYPE_ERROR: "Key type error",
    ResultCode.OVERFLOW_ERROR: "Overflow",
    ResultCode.MFR_CODE_ERROR: "Mfr code error",
    ResultCode.LOCKOUT: "Locked",
}


@dataclass(frozen=True, slots=True)
class EntryResult:
    """The answer to one typed token.

    ``display`` is what the meter shows; ``credit`` the registers after the entry (decimal
    strings); ``token`` what was decoded (class, subclass, TID, ...) when decoding got that far.
    Never carries key material.
    """

    code: ResultCode
    display: str
    credit: dict[str, str]
    token: dict[str, Any] | None = field(default=None)

    @property
    def accepted(self) -> bool:
        return self.code.accepted

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.code.value, "display": self.display,
                               "credit": dict(self.credit)}
        if self.token is not None:
            out["token"] = dict(self.token)
        return out
