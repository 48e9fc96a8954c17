"""How an issue of tokens is written: the meter row's update, the vend, its tokens, its audit
entry, (for a priced vend) its pricing record and (for a bank's vend) the vendor-float debit,
in the caller's transaction.

Two ways, one result. On PostgreSQL the common case (no key change) is a single statement:
data-modifying CTEs update the meter, insert the vend (drawing its receipt number from
``receipt_no_seq``), then its tokens, audit entry and pricing record from the vend's new id,
and last debit the float. One round trip instead of six is much of the difference between
the vend API keeping up with its clients or not (docs/performance.md): each statement costs
the worker more CPU in the driver and SQLAlchemy than the database spends on it. Everywhere
else (SQLite, and a vend that moves the meter to a new key, whose audit entry needs the key
data before and after) the same rows are written one statement each. The tests run every
vend scenario on both databases, and tests/vending/test_vend_rows.py compares the two ways.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from ..errors import BusinessRuleError
from ..models import ApiClient, Counter, IssuedToken, Meter, Vend, VendPricing
from ..models.base import utcnow
from ..models.types import ExactDecimal, UTCDateTime
from . import audit
from .context import Actor

RECEIPT_COUNTER = "receipt_no"

_VENDS, _TOKENS, _METERS = Vend.__table__, IssuedToken.__table__, Meter.__table__
_PRICING, _COUNTERS = VendPricing.__table__, Counter.__table__
_INSERT_VEND = insert(_VENDS)
_INSERT_VEND_PG = insert(_VENDS).values(receipt_no=func.nextval("receipt_no_seq")).returning(
    _VENDS.c.id, _VENDS.c.receipt_no)
_INSERT_TOKEN, _INSERT_PRICING = insert(_TOKENS), insert(_PRICING)
_BUMP_COUNTER = (update(_COUNTERS).where(_COUNTERS.c.name == bindparam("counter"))
                 .values(value=_COUNTERS.c.value + 1).returning(_COUNTERS.c.value))
_NEXTVAL = select(func.nextval("receipt_no_seq"))
_CLIENTS = ApiClient.__table__
# A client's vendor float pays for its vend: one guarded UPDATE, never read-modify-write.
DEBIT_FLOAT = (update(_CLIENTS)
               .where(_CLIENTS.c.id == bindparam("client_id"),
                      _CLIENTS.c.vendor_credit.is_(None)
                      | (_CLIENTS.c.vendor_credit >= bindparam("amount")))
               .values(vendor_credit=_CLIENTS.c.vendor_credit - bindparam("amount"))
               .returning(_CLIENTS.c.id))

_MONEY = ("amount", "units_kwh", "remainder", "carried_credit")
_PRICING_MONEY = ("p_energy_kwh", "p_carried_in", "p_remainder", "p_amount", "p_total", "p_tax",
                  "p_fbe_kwh")
_PG_VEND = """
WITH m AS (
    UPDATE meters SET last_tid = :last_tid,
        carried_credit = COALESCE(:carried_credit, carried_credit), updated_at = :now
    WHERE id = :meter_id
), v AS (
    INSERT INTO vends (kind, status, meter_id, receipt_no, client_ref, request_id,
        request_hash, actor, amount, units_kwh, tariff_code, tariff_version, breakdown,
        remainder, details, created_at)
    VALUES (:kind, 'issued', :meter_id, nextval('receipt_no_seq'), :client_ref, :request_id,
        :request_hash, :actor, :amount, :units_kwh, :tariff_code, :tariff_version,
        CAST(:breakdown AS json), :remainder, CAST(:details AS json), :created_at)
    RETURNING id, receipt_no
), t AS (
    INSERT INTO issued_tokens (vend_id, "position", meter_id, type, token, units_kwh, tid, krn,
        base_date)
    SELECT v.id, x."position", :meter_id, x.type, x.token, x.units_kwh, x.tid, x.krn,
        x.base_date
    FROM v, jsonb_to_recordset(CAST(:tokens AS jsonb)) AS x("position" int, type text,
        token text, units_kwh numeric, tid int, krn int, base_date int)
), a AS (
    INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)
    SELECT :now, :audit_actor, :action, 'vend', CAST(v.id AS text), NULL,
        CAST(jsonb_build_object('receipt_no', v.receipt_no) || CAST(:audit_after AS jsonb)
             AS json)
    FROM v
){pricing}{debit}
SELECT id, receipt_no, {debited} AS debited FROM v
"""
_PG_PRICING = """, p AS (
    INSERT INTO vend_pricing (vend_id, meter_id, tariff_code, tariff_version, block_period_key,
        energy_kwh, carried_in, remainder, amount, total, tax, fbe_kwh)
    SELECT v.id, :meter_id, :p_tariff_code, :p_tariff_version, :p_block_period_key,
        :p_energy_kwh, :p_carried_in, :p_remainder, :p_amount, :p_total, :p_tax, :p_fbe_kwh
    FROM v
)"""
# Last, as in write_each: the float row is locked only for the rest of the statement and the
# commit. A data-modifying CTE's UPDATE waits for and re-checks a concurrently updated row
# like any UPDATE, so the guard holds however vends of one client race.
_PG_DEBIT = """, f AS (
    UPDATE api_clients SET vendor_credit = vendor_credit - :debit_amount
    WHERE id = :debit_client
      AND (vendor_credit IS NULL OR vendor_credit >= :debit_amount)
    RETURNING id
)"""


def _pg_statement(with_pricing: bool, with_debit: bool) -> Any:
    money = [bindparam(name, type_=ExactDecimal())
             for name in _MONEY + (_PRICING_MONEY if with_pricing else ())
             + (("debit_amount",) if with_debit else ())]
    times = [bindparam(name, type_=UTCDateTime()) for name in ("now", "created_at")]
    sql = _PG_VEND.format(pricing=_PG_PRICING if with_pricing else "",
                          debit=_PG_DEBIT if with_debit else "",
                          debited="(SELECT count(*) FROM f)" if with_debit else "1")
    return text(sql).bindparams(*money, *times).columns()


_PG_WRITE = {(pricing, debit): _pg_statement(pricing, debit)
             for pricing in (True, False) for debit in (True, False)}


def _float_exhausted(amount: Decimal) -> BusinessRuleError:
    return BusinessRuleError("vendor_credit_exhausted",
                             f"insufficient vendor credit for a vend of {amount:f}")


@dataclass(frozen=True, slots=True)
class TokenRow:
    """One issued token as stored (``units_kwh`` None: the token carries no credit)."""

    type: str
    token: str
    units_kwh: Decimal | None
    tid: int | None
    krn: int
    base_date: int


def next_receipt_no(connection: Connection) -> int:
    """The next receipt number: a PostgreSQL sequence, or on SQLite a counter row bumped with
    one ``UPDATE ... RETURNING`` in the caller's transaction (held under its write lock)."""
    if connection.dialect.name == "postgresql":
        return int(connection.execute(_NEXTVAL).scalar_one())
    value = connection.execute(_BUMP_COUNTER, {"counter": RECEIPT_COUNTER}).scalar_one_or_none()
    if value is None:
        raise RuntimeError("receipt counter row is missing; run the migrations")
    return int(value)


def write_issue(
    connection: Connection, *, meter_id: int, meter_values: dict[str, Any],
    vend: dict[str, Any], tokens: Sequence[TokenRow], actor: Actor,
    vend_audit: dict[str, Any], pricing: dict[str, Any] | None,
    key_change_audit: tuple[dict[str, Any], dict[str, Any], str] | None = None,
    debit_client: int | None = None,
) -> tuple[int, int]:
    """Write one issue; returns (vend id, receipt number).

    ``meter_values``: the meter row's new ``last_tid`` (always), ``carried_credit`` (credit
    vends) and key columns (a key change). ``vend``: the vend row without id, status and
    receipt number. ``vend_audit``: the ``after`` of the vend's audit entry, to which the
    receipt number is added. ``pricing``: the ``vend_pricing`` row without ids, or None.
    ``key_change_audit``: (before, after, meter number) when the meter moves to a new key
    (the vend id is added to ``after``). ``debit_client``: the API client whose vendor float
    pays the vend's amount, last; :class:`BusinessRuleError` ``vendor_credit_exhausted``
    when it does not cover it (the caller's rollback then undoes everything)."""
    keys = set(meter_values) - {"last_tid", "carried_credit"}
    if connection.dialect.name == "postgresql" and not keys and key_change_audit is None:
        return write_in_one_statement(
            connection, meter_id=meter_id, meter_values=meter_values, vend=vend,
            tokens=tokens, actor=actor, vend_audit=vend_audit, pricing=pricing,
            debit_client=debit_client)
    return write_each(connection, meter_id=meter_id, meter_values=meter_values, vend=vend,
                      tokens=tokens, actor=actor, vend_audit=vend_audit, pricing=pricing,
                      key_change_audit=key_change_audit, debit_client=debit_client)


def write_each(
    connection: Connection, *, meter_id: int, meter_values: dict[str, Any],
    vend: dict[str, Any], tokens: Sequence[TokenRow], actor: Actor,
    vend_audit: dict[str, Any], pricing: dict[str, Any] | None,
    key_change_audit: tuple[dict[str, Any], dict[str, Any], str] | None = None,
    debit_client: int | None = None,
) -> tuple[int, int]:
    """:func:`write_issue` one statement per row (any database, any issue)."""
    connection.execute(update(_METERS).where(_METERS.c.id == meter_id), meter_values)
    if connection.dialect.name == "postgresql":
        row = connection.execute(_INSERT_VEND_PG, vend).one()
        vend_id, receipt_no = int(row.id), int(row.receipt_no)
    else:
        receipt_no = next_receipt_no(connection)
        vend_id = int(connection.execute(_INSERT_VEND.values(receipt_no=receipt_no),
                                         vend).inserted_primary_key[0])
    if tokens:
        connection.execute(_INSERT_TOKEN, [
            {"vend_id": vend_id, "position": position, "meter_id": meter_id, "type": t.type,
             "token": t.token, "units_kwh": t.units_kwh, "tid": t.tid, "krn": t.krn,
             "base_date": t.base_date} for position, t in enumerate(tokens)])
    if key_change_audit is not None:
        before, after, meter_number = key_change_audit
        audit.record(connection, actor, "meter.key_changed", "meter", meter_number,
                     before=before, after=after | {"vend_id": vend_id})
    audit.record(connection, actor, f"vend.{vend['kind'].value}", "vend", vend_id,
                 after={"receipt_no": receipt_no, **vend_audit})
    if pricing is not None:
        connection.execute(_INSERT_PRICING, {"vend_id": vend_id, "meter_id": meter_id,
                                             **pricing})
    if debit_client is not None and connection.execute(
            DEBIT_FLOAT, {"client_id": debit_client, "amount": vend["amount"]}).first() is None:
        raise _float_exhausted(vend["amount"])
    return vend_id, receipt_no


def write_in_one_statement(
    connection: Connection, *, meter_id: int, meter_values: dict[str, Any],
    vend: dict[str, Any], tokens: Sequence[TokenRow], actor: Actor,
    vend_audit: dict[str, Any], pricing: dict[str, Any] | None,
    debit_client: int | None = None,
) -> tuple[int, int]:
    """:func:`write_issue` as one statement of data-modifying CTEs (PostgreSQL; no key
    columns in ``meter_values``)."""
    params: dict[str, Any] = {
        **vend, "kind": vend["kind"].value, "meter_id": meter_id,
        "last_tid": meter_values["last_tid"],
        "carried_credit": meter_values.get("carried_credit"), "now": utcnow(),
        "breakdown": json.dumps(vend["breakdown"]), "details": json.dumps(vend["details"]),
        "tokens": json.dumps([
            {"position": position, "type": t.type, "token": t.token,
             "units_kwh": None if t.units_kwh is None else str(t.units_kwh), "tid": t.tid,
             "krn": t.krn, "base_date": t.base_date} for position, t in enumerate(tokens)]),
        "action": f"vend.{vend['kind'].value}", "audit_actor": str(actor),
        "audit_after": json.dumps(vend_audit),
    }
    params.pop("status", None)
    if pricing is not None:
        params.update({f"p_{name}": value for name, value in pricing.items()})
    if debit_client is not None:
        params.update(debit_client=debit_client, debit_amount=vend["amount"])
    row = connection.execute(_PG_WRITE[pricing is not None, debit_client is not None],
                             params).one()
    if not row.debited:
        raise _float_exhausted(vend["amount"])
    return int(row.id), int(row.receipt_no)
