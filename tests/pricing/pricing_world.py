"""A small world for the server-side tariff tests: one supply group with a current key, one
tariff per feature (blocks, fixed charge, debt recovery, FBE, tax added on top) and a meter on
each, every customer with its own account. Built through the services, as an operator would."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from vending_fixtures import ADMIN, CSV_HEADER, SGC, VK_04, decoder_key, drn

import tokens
from vending.models import Meter
from vending.services import ServiceContext, add_vending_key, import_meters, load_tariff
from vending.services.fbe import set_customer_category

JOHANNESBURG = "Africa/Johannesburg"


def block_tariff(effective_from: str = "2026-01-01", prices: tuple[str, str, str] = (
        "1.7300", "2.1100", "2.9900"), code: str = "BLOCK") -> dict[str, Any]:
    """Monthly inclining blocks 0-50, 50-150, over 150 kWh, Johannesburg time, no tax."""
    return {"code": code, "currency": "ZAR", "timezone": JOHANNESBURG,
            "effective_from": effective_from,
            "energy": {"blocks": {"period": "month", "steps": [
                {"up_to_kwh": "50", "price": prices[0]},
                {"up_to_kwh": "150", "price": prices[1]},
                {"up_to_kwh": None, "price": prices[2]}]}}}


TARIFFS: dict[str, dict[str, Any]] = {
    "BLOCK": block_tariff(),
    "CHG": {"code": "CHG", "currency": "ZAR", "timezone": JOHANNESBURG,
            "effective_from": "2026-01-01", "energy": {"flat": "2.0000"},
            "fixed_charges": [{"name": "Service fee", "amount": "20.00", "period": "month"}]},
    "DEBT": {"code": "DEBT", "currency": "ZAR", "effective_from": "2026-01-01",
             "energy": {"flat": "2.0000"}, "debt_recovery": {"percent": "0.25"}},
    "FBE": {"code": "FBE", "currency": "ZAR", "timezone": JOHANNESBURG,
            "effective_from": "2026-01-01", "energy": {"flat": "2.0000"},
            "free_basic_kwh": {"kwh": "50", "period": "month", "eligible": "indigent"}},
    "TAXX": {"code": "TAXX", "currency": "ZAR", "effective_from": "2026-01-01",
             "tax": {"name": "VAT", "rate": "0.15", "inclusive": False},
             "energy": {"flat": "2.0000"}, "vend_limits": {"min": "20.00", "max": "500.00"}},
}

# meter name -> (serial, tariff code, customer category)
METERS: dict[str, tuple[int, str, str | None]] = {
    "block": (11, "BLOCK", None), "block2": (12, "BLOCK", None), "charge": (13, "CHG", None),
    "debt": (14, "DEBT", None), "fbe": (15, "FBE", "indigent"), "fbe_no": (16, "FBE", None),
    "taxx": (17, "TAXX", None),
}


@dataclass
class PricingWorld:
    """Meters by name (``world.meters["block"]`` is a meter number), accounts ``ACC-<name>``."""

    __test__ = False

    ctx: ServiceContext
    meters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, ctx: ServiceContext) -> PricingWorld:
        add_vending_key(ctx, sgc=SGC, krn=2, dkga="04", base_date=2014, ea="07", key=VK_04,
                        actor=ADMIN, make_current=True)
        for document in TARIFFS.values():
            load_tariff(ctx, document, actor=ADMIN)
        world = cls(ctx=ctx, meters={name: drn(serial) for name, (serial, _, _) in
                                     METERS.items()})
        text = CSV_HEADER + "".join(
            f"{world.meters[name]},Customer {name},{name} Street,{world.account(name)},{SGC},"
            f"1,2,2,07,04,2014,{code}\n" for name, (_, code, _) in METERS.items())
        import_meters(ctx, io.StringIO(text), actor=ADMIN)
        for name, (_, _, category) in METERS.items():
            if category is not None:
                set_customer_category(ctx, account=world.account(name), category=category,
                                      actor=ADMIN)
        return world

    @staticmethod
    def account(name: str) -> str:
        return f"ACC-{name.upper()}"

    def meter(self, name: str) -> Meter:
        meter = self.ctx.session.scalars(
            select(Meter).where(Meter.meter_number == self.meters[name])).one()
        self.ctx.session.refresh(meter)
        return meter

    def decode_units(self, name: str, token: str) -> Decimal:
        """kWh a token carries, decoded under the meter's key derived independently."""
        decoded = tokens.decode(token, decoder_key(self.meters[name], krn=2))
        assert isinstance(decoded, tokens.TransferCredit)
        return tokens.quantity_from_units(decoded.units)
