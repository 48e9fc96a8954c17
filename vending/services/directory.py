"""Read-only look-ups for the POS screens: find a meter by number or customer name, list
recent vends, list meters and loaded vending keys (by identity and check value only).

Nothing here writes; every function ends its read transaction so a request never holds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select

from ..models import Customer, Meter, SupplyGroup, Vend, VendingKey
from .context import ServiceContext
from .keys import VendingKeyInfo
from .keystate import vending_key_ref


@dataclass(frozen=True, slots=True)
class MeterRow:
    meter_number: str
    customer_name: str
    address: str
    account: str
    status: str
    sgc: str
    krn: int
    ti: int
    tariff_code: str | None


@dataclass(frozen=True, slots=True)
class VendRow:
    vend_id: int
    receipt_no: int
    kind: str
    status: str
    created_at: datetime
    meter_number: str
    customer_name: str
    amount: Decimal
    units_kwh: Decimal
    operator: str


def _meter_row(m: Meter) -> MeterRow:
    return MeterRow(meter_number=m.meter_number, customer_name=m.customer.name,
                    address=m.customer.address, account=m.customer.account,
                    status=m.status.value, sgc=m.supply_group.sgc, krn=m.krn, ti=m.ti,
                    tariff_code=m.tariff_code)


def search_meters(ctx: ServiceContext, query: str, *, limit: int = 25) -> list[MeterRow]:
    """Meters whose number starts with ``query`` (spaces ignored) or whose customer name or
    account contains it, case-insensitively."""
    text = (query or "").strip()
    if not text:
        return []
    digits = "".join(text.split())
    like = f"%{text.lower()}%"
    try:
        stmt = (select(Meter).join(Customer)
                .where(or_(Meter.meter_number.startswith(digits, autoescape=True),
                           func.lower(Customer.name).like(like),
                           func.lower(Customer.account).like(like)))
                .order_by(Meter.meter_number).limit(limit))
        return [_meter_row(m) for m in ctx.session.scalars(stmt)]
    finally:
        ctx.session.rollback()


def list_meters(ctx: ServiceContext, *, limit: int = 200) -> list[MeterRow]:
    try:
        stmt = select(Meter).order_by(Meter.meter_number).limit(limit)
        return [_meter_row(m) for m in ctx.session.scalars(stmt)]
    finally:
        ctx.session.rollback()


def recent_vends(ctx: ServiceContext, *, meter_number: str | None = None,
                 actor_ref: str | None = None, limit: int = 20) -> list[VendRow]:
    """Newest first; optionally one meter's or one operator's."""
    try:
        stmt = select(Vend).join(Meter).order_by(Vend.id.desc()).limit(limit)
        if meter_number:
            stmt = stmt.where(Meter.meter_number == meter_number)
        if actor_ref:
            stmt = stmt.where(Vend.actor == actor_ref)
        return [VendRow(vend_id=v.id, receipt_no=v.receipt_no, kind=v.kind.value,
                        status=v.status.value, created_at=v.created_at,
                        meter_number=v.meter.meter_number, customer_name=v.meter.customer.name,
                        amount=v.amount, units_kwh=v.units_kwh,
                        operator=v.actor.split(":", 1)[-1])
                for v in ctx.session.scalars(stmt)]
    finally:
        ctx.session.rollback()


def find_receipt_vend(ctx: ServiceContext, receipt_no: str) -> int | None:
    """The vend id of a receipt number, for the reprint search."""
    text = (receipt_no or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    try:
        return ctx.session.scalars(select(Vend.id).where(Vend.receipt_no == int(text))).first()
    finally:
        ctx.session.rollback()


def list_vending_keys(ctx: ServiceContext) -> list[VendingKeyInfo]:
    """Every loaded key by its identity and key check value; the key itself never leaves
    the security module."""
    try:
        rows = ctx.session.scalars(select(VendingKey).join(SupplyGroup)
                                   .order_by(SupplyGroup.sgc, VendingKey.krn)).all()
        return [VendingKeyInfo(sgc=r.supply_group.sgc, krn=r.krn, dkga=r.dkga,
                               base_date=r.base_date, ea=r.ea, kid=r.kid,
                               kcv=ctx.security.key_check_value(vending_key_ref(r)),
                               current=r.supply_group.current_krn == r.krn) for r in rows]
    finally:
        ctx.session.rollback()
