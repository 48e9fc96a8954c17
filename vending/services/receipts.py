"""Receipts: everything a printed slip shows about one vend, and its QR code.

A receipt is read from the stored vend (never re-generated), so a reprint is the same slip.
Key-change tokens come first, numbered in the order the customer must enter them, then the
credit or engineering token. The QR code carries the receipt number, the meter and every token
in that order (``STSVEND|R=<receipt>|M=<meter>|T=<token>,<token>``): a customer app or a
support desk can read the tokens without retyping them. It is drawn with the ``qrcode``
package as inline SVG, so the page needs no image request and no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import qrcode
import qrcode.image.svg
from sqlalchemy import select

from ..errors import NotFoundError
from ..models import Meter, Vend
from . import audit
from .context import Actor, ServiceContext


@dataclass(frozen=True, slots=True)
class ReceiptToken:
    step: int  # 1-based order of entry on the keypad
    type: str
    token: str
    units_kwh: Decimal | None
    tid: int | None
    krn: int

    @property
    def groups(self) -> list[str]:
        """The 20 digits in five groups of four, as the customer types them."""
        return [self.token[i:i + 4] for i in range(0, len(self.token), 4)]


@dataclass(frozen=True, slots=True)
class Receipt:
    vend_id: int
    receipt_no: int
    kind: str
    status: str
    created_at: datetime
    meter_number: str
    customer_name: str
    address: str
    account: str
    sgc: str
    krn: int  # the key the meter is on after this receipt's tokens
    old_krn: int | None  # the key before, when the receipt carries a key change
    ti: int
    tariff_code: str | None
    tariff_version: str | None
    amount: Decimal
    units_kwh: Decimal
    remainder: Decimal
    breakdown: tuple[dict[str, Any], ...]
    tokens: tuple[ReceiptToken, ...]
    operator: str
    payment_type: str | None
    details: dict[str, Any]
    reversed_at: datetime | None
    reversed_by: str | None
    reversal_reason: str | None

    @property
    def key_change(self) -> bool:
        return any(t.type == "key_change" for t in self.tokens)

    @property
    def qr_payload(self) -> str:
        return qr_payload(self.receipt_no, self.meter_number, [t.token for t in self.tokens])


def qr_payload(receipt_no: int, meter_number: str, token_digits: list[str]) -> str:
    return f"STSVEND|R={receipt_no}|M={meter_number}|T={','.join(token_digits)}"


def qr_svg(payload: str) -> str:
    """An inline ``<svg>`` QR code (error correction M, quiet zone of 4 modules)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10,
                         border=4, image_factory=qrcode.image.svg.SvgPathImage)
    code.add_data(payload)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    # Drop the XML declaration: the SVG is embedded in an HTML page.
    return svg.split("?>", 1)[1].strip() if svg.startswith("<?xml") else svg


def build_receipt(ctx: ServiceContext, vend_id: int) -> Receipt:
    """The receipt of a stored vend (no write)."""
    session = ctx.session
    try:
        vend = session.scalars(select(Vend).where(Vend.id == vend_id)).first()
        if vend is None:
            raise NotFoundError("unknown_vend", f"vend {vend_id} does not exist")
        meter: Meter = vend.meter
        tokens = tuple(ReceiptToken(step=i + 1, type=t.type.value, token=t.token,
                                    units_kwh=t.units_kwh, tid=t.tid, krn=t.krn)
                       for i, t in enumerate(vend.tokens))
        kct_krns = [t.krn for t in tokens if t.type == "key_change"]
        later = [t.krn for t in tokens if t.type != "key_change"]
        details = dict(vend.details or {})
        return Receipt(
            vend_id=vend.id, receipt_no=vend.receipt_no, kind=vend.kind.value,
            status=vend.status.value, created_at=vend.created_at,
            meter_number=meter.meter_number, customer_name=meter.customer.name,
            address=meter.customer.address, account=meter.customer.account,
            sgc=meter.supply_group.sgc, krn=later[-1] if later else meter.krn,
            old_krn=kct_krns[0] if kct_krns else None, ti=meter.ti,
            tariff_code=vend.tariff_code, tariff_version=vend.tariff_version,
            amount=vend.amount, units_kwh=vend.units_kwh, remainder=vend.remainder,
            breakdown=tuple(vend.breakdown or ()), tokens=tokens,
            operator=vend.actor.split(":", 1)[-1], payment_type=details.get("payment_type"),
            details=details, reversed_at=vend.reversed_at, reversed_by=vend.reversed_by,
            reversal_reason=vend.reversal_reason,
        )
    finally:
        session.rollback()


def record_reprint(ctx: ServiceContext, vend_id: int, *, actor: Actor) -> None:
    """Log a reprint in the audit trail (one commit): a slip printed twice is how a token
    gets sold twice at a counter, so every reprint names who printed it."""
    session = ctx.session
    try:
        receipt_no = session.scalars(select(Vend.receipt_no).where(Vend.id == vend_id)).first()
        if receipt_no is None:
            raise NotFoundError("unknown_vend", f"vend {vend_id} does not exist")
        audit.record(session, actor, "vend.reprinted", "vend", vend_id,
                     after={"receipt_no": receipt_no})
        session.commit()
    finally:
        session.rollback()
