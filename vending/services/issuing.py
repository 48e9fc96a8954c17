"""The core shared by every service that issues tokens: under the meter's row lock, prepend a
key-change set when one is due (and move the meter record), allocate each TID as
``max(now_TID, last_TID + 1)``, number the receipt, and write the vend, its tokens and the
audit entries. It flushes but never commits: the calling service owns the unit of work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

import tokens

from ..errors import BusinessRuleError, ConflictError, InvalidInputError
from ..models import Counter, IssuedToken, Meter, TokenType, Vend, VendKind, VendStatus
from ..security_module import MeterKeyRef, SecurityModule
from . import audit
from .answers import TokenLine, VendAnswer
from .context import Actor
from .keystate import KeyPlan, MeterState, key_move

RECEIPT_COUNTER = "receipt_no"


_COUNTERS = Counter.__table__
_BUMP_COUNTER = (update(_COUNTERS).where(_COUNTERS.c.name == bindparam("counter"))
                 .values(value=_COUNTERS.c.value + 1).returning(_COUNTERS.c.value))
_NEXTVAL = select(func.nextval("receipt_no_seq"))


def next_receipt_no(connection: Connection) -> int:
    """The next receipt number: a PostgreSQL sequence, or on SQLite a counter row bumped with
    one ``UPDATE ... RETURNING`` in the caller's transaction (held under its write lock)."""
    if connection.dialect.name == "postgresql":
        return int(connection.execute(_NEXTVAL).scalar_one())
    value = connection.execute(_BUMP_COUNTER, {"counter": RECEIPT_COUNTER}).scalar_one_or_none()
    if value is None:
        raise RuntimeError("receipt counter row is missing; run the migrations")
    return int(value)


def allocate_tid(base_date: int, last_tid: int, at: datetime) -> int:
    """``max(now_TID, last_TID + 1)`` for a meter's key on ``base_date`` whose (locked) row
    says ``last_tid`` (SPEC §4.4)."""
    tid = max(tokens.tid_from_datetime(at, base_date), last_tid + 1)
    if tid > 0xFFFFFF:
        raise BusinessRuleError("tid_exhausted", "no TID is left on this key's base date")
    return tid


def request_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request body (idempotency: same id, same body)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_request_id(value: object) -> str:
    """A client's idempotency key: 1 to 80 characters."""
    text = str(value or "").strip()
    if not text or len(text) > 80:
        raise InvalidInputError("invalid_request_id", "request_id must be 1 to 80 characters")
    return text


_V = Vend.__table__
_REQUEST = select(_V.c.id, _V.c.request_hash).where(
    _V.c.client_ref == bindparam("client_ref"), _V.c.request_id == bindparam("request_id"))


def find_request(session: Session, client_ref: str, request_id: str) -> Vend | None:
    return session.scalars(
        select(Vend).where(Vend.client_ref == client_ref, Vend.request_id == request_id)
    ).first()


def replayed(
    session: Session, actor: Actor, request_id: str, body_hash: str
) -> VendAnswer | None:
    """The answer of an earlier request with this id (same body), or None if there is none.

    Every issuing service asks this twice: before taking the meter lock (a cheap answer to a
    retry) and under it (a duplicate may have committed while it waited), and once more when
    its own insert lost the unique (client, request_id) race.
    """
    # A plain lookup first: on the hot path of a new vend there is nothing to load.
    found = session.connection().execute(
        _REQUEST, {"client_ref": actor.ref, "request_id": request_id}).first()
    if found is None:
        return None
    existing = session.get(Vend, found.id)
    assert existing is not None
    return VendAnswer.from_vend(check_replay(existing, body_hash), replayed=True)


def check_replay(vend: Vend, body_hash: str) -> Vend:
    if vend.request_hash != body_hash:
        raise ConflictError(
            "request_id_reused",
            f"request_id {vend.request_id!r} was already used with another request",
        )
    return vend


@dataclass(frozen=True, slots=True)
class TokenSpec:
    """One token to issue after any key change: its type, credit, and how to build it
    once its TID is known (``tid`` is None for Class 1)."""

    type: TokenType
    build: Callable[[SecurityModule, MeterKeyRef | None, int | None], str]
    needs_tid: bool = True
    units: int | None = None  # 0.1 kWh units a credit token carries


@dataclass(frozen=True, slots=True)
class Issue:
    """What to record about the issue besides its tokens."""

    kind: VendKind
    actor: Actor
    request_id: str
    request_hash: str
    amount: Decimal = Decimal(0)
    tariff_code: str | None = None
    tariff_version: str | None = None
    breakdown: Sequence[dict[str, Any]] = ()
    remainder: Decimal = Decimal(0)
    details: dict[str, Any] | None = None


_VENDS, _TOKENS, _METERS = Vend.__table__, IssuedToken.__table__, Meter.__table__
_INSERT_VEND = insert(_VENDS)
_INSERT_VEND_PG = insert(_VENDS).values(receipt_no=func.nextval("receipt_no_seq")).returning(
    _VENDS.c.id, _VENDS.c.receipt_no)
_INSERT_TOKEN = insert(_TOKENS)
_ZERO_KWH = Decimal(0)


def _insert_vend(connection: Connection, values: dict[str, Any]) -> tuple[int, int]:
    """Insert the vend row; returns (id, receipt_no). On PostgreSQL the receipt number is
    drawn from its sequence inside the same ``INSERT ... RETURNING`` (one round trip)."""
    if connection.dialect.name == "postgresql":
        row = connection.execute(_INSERT_VEND_PG, values).one()
        return int(row.id), int(row.receipt_no)
    receipt_no = next_receipt_no(connection)
    vend_id = connection.execute(_INSERT_VEND.values(receipt_no=receipt_no),
                                 values).inserted_primary_key[0]
    return int(vend_id), receipt_no


def issue_tokens(
    connection: Connection,
    security: SecurityModule,
    meter: MeterState,
    plan: KeyPlan | None,
    specs: Sequence[TokenSpec],
    issue: Issue,
    at: datetime,
) -> VendAnswer:
    """Issue the key-change set of ``plan`` (if any) and then ``specs``; record it all with
    explicit statements: one ``UPDATE`` of the meter row, one ``INSERT`` each for the vend,
    its tokens and the audit entries. Returns the answer of the new vend.

    ``plan`` is None only for tokens that need no key (Class 1 tests)."""
    lines: list[TokenLine] = []
    stored_units: list[Decimal | None] = []  # None: the token carries no credit
    moves = key_move(meter, plan) if plan is not None else {}
    # The key the tokens are made under, and the meter's key data once they are entered.
    krn = int(moves.get("krn", meter.krn))
    base_date = int(moves.get("base_date", meter.base_date))
    last_tid = int(moves.get("last_tid", meter.last_tid))
    if plan is not None and plan.target is not None:
        kcts = security.key_change_tokens(plan.current, plan.target, ken=255, ro=plan.rollover)
        lines += [TokenLine(type=TokenType.KEY_CHANGE.value, token=t, units_kwh=_ZERO_KWH,
                            tid=None) for t in kcts]
        stored_units += [None] * len(kcts)
    units_total = 0
    for spec in specs:
        tid = None
        if spec.needs_tid:
            tid = allocate_tid(base_date, last_tid, at)
            last_tid = tid
        digits = spec.build(security, plan.active if plan else None, tid)
        units_kwh = None if spec.units is None else tokens.quantity_from_units(spec.units)
        units_total += spec.units or 0
        stored_units.append(units_kwh)
        lines.append(TokenLine(type=spec.type.value, token=digits,
                               units_kwh=units_kwh or _ZERO_KWH, tid=tid))
    meter_values: dict[str, Any] = {**moves, "last_tid": last_tid}
    if issue.kind is VendKind.CREDIT:  # the carry the next credit vend spends first
        meter_values["carried_credit"] = issue.remainder
    connection.execute(update(_METERS).where(_METERS.c.id == meter.id), meter_values)
    units = tokens.quantity_from_units(units_total)
    breakdown = list(issue.breakdown)
    details = dict(issue.details or {})
    vend_id, receipt_no = _insert_vend(connection, {
        "kind": issue.kind, "status": VendStatus.ISSUED, "meter_id": meter.id,
        "client_ref": issue.actor.ref, "request_id": issue.request_id,
        "request_hash": issue.request_hash, "actor": issue.actor.ref, "amount": issue.amount,
        "units_kwh": units, "tariff_code": issue.tariff_code,
        "tariff_version": issue.tariff_version, "breakdown": breakdown,
        "remainder": issue.remainder, "details": details, "created_at": at,
    })
    if lines:
        connection.execute(_INSERT_TOKEN, [
            {"vend_id": vend_id, "position": position, "meter_id": meter.id,
             "type": TokenType(line.type), "token": line.token,
             "units_kwh": stored_units[position], "tid": line.tid,
             # key-change tokens are made under the old key, the others under the new one
             "krn": meter.krn if line.type == "key_change" else krn,
             "base_date": meter.base_date if line.type == "key_change" else base_date}
            for position, line in enumerate(lines)])
    if moves:
        after = {**meter.key_state(), **moves, "last_tid": last_tid}
        audit.record(connection, issue.actor, "meter.key_changed", "meter", meter.meter_number,
                     before=meter.key_state(),
                     after=after | {"reasons": list(plan.reasons) if plan else [],
                                    "vend_id": vend_id})
    audit.record(connection, issue.actor, f"vend.{issue.kind.value}", "vend", vend_id,
                 after={"receipt_no": receipt_no, "meter_number": meter.meter_number,
                        "amount": str(issue.amount), "units_kwh": str(units),
                        "tokens": [line.type for line in lines],
                        "tids": [line.tid for line in lines if line.tid is not None]})
    return VendAnswer(
        vend_id=vend_id, receipt_no=receipt_no, kind=issue.kind.value,
        meter_number=meter.meter_number, amount=issue.amount, units_kwh=units,
        status=VendStatus.ISSUED.value, created_at=at, tokens=tuple(lines),
        breakdown=tuple(breakdown), tariff_code=issue.tariff_code,
        tariff_version=issue.tariff_version, remainder=issue.remainder,
        key_change=any(line.type == "key_change" for line in lines), details=details,
    )
