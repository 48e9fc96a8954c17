"""Meter registration: the ``import-meters`` CSV, validated row by row, all or nothing."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import select

import tokens
from tokens.identifiers import validate_sgc

from ..errors import InvalidInputError, NotFoundError
from ..models import Customer, Meter, MeterStatus, SupplyGroup, Tariff, VendingKey
from . import audit
from .context import Actor, ServiceContext
from .keystate import find_meter, validate_meter_number

CSV_HEADER = ("meter_number", "customer_name", "address", "account", "sgc", "ti", "krn", "kt",
              "ea", "dkga", "base_date", "tariff")
OPTIONAL_COLUMNS = ("phone", "email")


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    meter_number: str
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    imported: int = 0
    rejected: tuple[RowError, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.rejected


class MeterImportError(InvalidInputError):
    """Some rows were rejected; nothing was imported. ``report`` lists every rejected row."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("import_rejected",
                         f"{len(report.rejected)} row(s) rejected; nothing was imported")
        self.report = report


def _int(row: dict[str, str], name: str, low: int, high: int) -> int:
    text = (row.get(name) or "").strip()
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{name} must be an integer {low}..{high}, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"{name} must be {low}..{high}, got {value}")
    return value


def import_meters(ctx: ServiceContext, source: TextIO, *, actor: Actor) -> ImportReport:
    """Validate every row, then insert all of them in one transaction, or none.

    Raises :class:`MeterImportError` (with the report of rejected rows and line numbers)
    when any row is invalid."""
    session = ctx.session
    reader = csv.DictReader(source)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    if header[: len(CSV_HEADER)] != CSV_HEADER or not set(header[len(CSV_HEADER):]) <= set(
        OPTIONAL_COLUMNS
    ):
        raise InvalidInputError(
            "invalid_header", "the header must be " + ",".join(CSV_HEADER)
            + " (optionally followed by phone,email)"
        )
    try:
        groups = {g.sgc: g for g in session.scalars(select(SupplyGroup))}
        keys = {(k.supply_group_id, k.krn): k for k in session.scalars(select(VendingKey))}
        tariffs = set(session.scalars(select(Tariff.code).distinct()))
        known_numbers = set(session.scalars(select(Meter.meter_number)))
        customers = {c.account: c for c in session.scalars(select(Customer))}
        errors: list[RowError] = []
        accepted: list[tuple[dict[str, str], dict[str, object]]] = []
        seen: dict[str, int] = {}
        names = {account: c.name for account, c in customers.items()}
        for row in reader:
            line = reader.line_num
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            number = row.get("meter_number", "")
            try:
                values = _validate_row(row, seen, line, groups, keys, tariffs, known_numbers)
                owner = names.setdefault(row["account"], row["customer_name"])
                if owner != row["customer_name"]:
                    raise ValueError(f"account {row['account']} belongs to {owner!r}, "
                                     f"not {row['customer_name']!r}")
                accepted.append((row, values))
                seen[str(values["meter_number"])] = line
            except (ValueError, tokens.StsError) as exc:
                errors.append(RowError(line=line, meter_number=number, reason=str(exc)))
        if errors:
            raise MeterImportError(ImportReport(imported=0, rejected=tuple(errors)))
        for row, values in accepted:
            customer = customers.get(row["account"])
            if customer is None:
                customer = Customer(name=row["customer_name"], address=row["address"],
                                    account=row["account"], phone=row.get("phone") or None,
                                    email=row.get("email") or None)
                customers[row["account"]] = customer
                session.add(customer)
            session.add(Meter(customer=customer, **values))
        session.flush()
        audit.record(session, actor, "meters.imported", "meters", "*",
                     after={"count": len(accepted),
                            "meter_numbers": [v["meter_number"] for _, v in accepted][:1000]})
        session.commit()
        return ImportReport(imported=len(accepted))
    finally:
        session.rollback()


def _validate_row(
    row: dict[str, str], seen: dict[str, int], line: int, groups: dict[str, SupplyGroup],
    keys: dict[tuple[int, int], VendingKey], tariffs: set[str], known: set[str],
) -> dict[str, object]:
    number = tokens.validate_drn(row.get("meter_number", ""))
    if number in known:
        raise ValueError(f"meter {number} is already registered")
    if number in seen:
        raise ValueError(f"meter {number} is repeated (first on line {seen[number]})")
    for name in ("customer_name", "account"):
        if not row.get(name):
            raise ValueError(f"{name} is empty")
    if len(row["customer_name"]) > 200 or len(row["account"]) > 64:
        raise ValueError("customer_name or account is too long")
    sgc = validate_sgc(row.get("sgc", ""))
    group = groups.get(sgc)
    if group is None:
        raise ValueError(f"supply group {sgc} has no vending key loaded")
    ti = _int(row, "ti", 0, 99)
    krn = _int(row, "krn", 1, 15)
    kt = _int(row, "kt", 0, 3)
    if kt != int(tokens.KeyType.DUTK):
        raise ValueError("kt must be 2: keypad meters vend on a unique key (DUTK)")
    ea = tokens.EncryptionAlgorithm.parse(row.get("ea", ""))
    dkga = tokens.Dkga.parse(row.get("dkga", ""))
    base_date = tokens.BaseDate.parse(row.get("base_date", ""))
    key = keys.get((group.id, krn))
    if key is None:
        raise ValueError(f"SGC {sgc} has no vending key with KRN {krn}")
    if (key.dkga, key.ea, key.base_date) != (dkga.value, ea.value, int(base_date)):
        raise ValueError(
            f"key data dkga={dkga.value} ea={ea.value} base_date={int(base_date)} does not "
            f"match SGC {sgc} KRN {krn} (dkga={key.dkga} ea={key.ea} base_date={key.base_date})"
        )
    tariff = row.get("tariff") or None
    if tariff is not None and tariff not in tariffs:
        raise ValueError(f"tariff {tariff!r} is not loaded")
    return {"meter_number": number, "pan": tokens.pan_from_drn(number), "supply_group": group,
            "ti": ti, "krn": krn, "kt": kt, "ea": ea.value, "dkga": dkga.value,
            "base_date": int(base_date), "ken": 255, "status": MeterStatus.ACTIVE,
            "tariff_code": tariff, "last_tid": 0}


def set_meter_status(
    ctx: ServiceContext, meter_number: str, status: MeterStatus | str, *, actor: Actor
) -> None:
    """Block or unblock a meter (a blocked meter cannot buy credit)."""
    session = ctx.session
    try:
        try:
            new = MeterStatus(status)
        except ValueError:
            raise InvalidInputError("invalid_status", "status is active or blocked") from None
        meter = find_meter(session, validate_meter_number(meter_number))
        if meter.status is not new:
            audit.record(session, actor, "meter.status", "meter", meter.meter_number,
                         before={"status": meter.status.value}, after={"status": new.value})
            meter.status = new
        session.commit()
    finally:
        session.rollback()


def iter_meter_numbers(ctx: ServiceContext, sgc: str) -> Iterable[str]:
    group = ctx.session.scalars(select(SupplyGroup).where(SupplyGroup.sgc == sgc)).first()
    if group is None:
        raise NotFoundError("unknown_sgc", f"supply group {sgc} does not exist")
    return ctx.session.scalars(select(Meter.meter_number)
                               .where(Meter.supply_group_id == group.id).order_by(Meter.id))
