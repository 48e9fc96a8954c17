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

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

import tokens

from ..errors import BusinessRuleError, ConflictError, InvalidInputError
from ..models import Counter, IssuedToken, Meter, TokenType, Vend, VendKind
from ..security_module import MeterKeyRef, SecurityModule
from . import audit
from .answers import VendAnswer
from .context import Actor
from .keystate import KeyPlan, apply_key_move

RECEIPT_COUNTER = "receipt_no"


def next_receipt_no(session: Session) -> int:
    """The next receipt number: a PostgreSQL sequence, or on SQLite a counter row bumped with
    one ``UPDATE ... RETURNING`` in the caller's transaction (held under its write lock)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(text("SELECT nextval('receipt_no_seq')")).scalar_one())
    value = session.execute(
        update(Counter).where(Counter.name == RECEIPT_COUNTER)
        .values(value=Counter.value + 1).returning(Counter.value)
    ).scalar_one_or_none()
    if value is None:
        raise RuntimeError("receipt counter row is missing; run the migrations")
    return int(value)


def allocate_tid(meter: Meter, at: datetime) -> int:
    """``max(now_TID, last_TID + 1)`` on the meter's (locked) row (SPEC §4.4)."""
    now_tid = tokens.tid_from_datetime(at, meter.base_date)
    tid = max(now_tid, meter.last_tid + 1)
    if tid > 0xFFFFFF:
        raise BusinessRuleError("tid_exhausted", "no TID is left on this key's base date")
    meter.last_tid = tid
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
    existing = find_request(session, actor.ref, request_id)
    if existing is None:
        return None
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


def issue_tokens(
    session: Session,
    security: SecurityModule,
    meter: Meter,
    plan: KeyPlan | None,
    specs: Sequence[TokenSpec],
    issue: Issue,
    at: datetime,
) -> Vend:
    """Issue the key-change set of ``plan`` (if any) and then ``specs``; record it all.

    ``plan`` is None only for tokens that need no key (Class 1 tests)."""
    rows: list[IssuedToken] = []
    before = meter.key_state()
    if plan is not None and plan.target is not None:
        kcts = security.key_change_tokens(plan.current, plan.target, ken=255, ro=plan.rollover)
        rows += [IssuedToken(meter_id=meter.id, type=TokenType.KEY_CHANGE, token=t, tid=None,
                             units_kwh=None, krn=meter.krn, base_date=meter.base_date)
                 for t in kcts]
        apply_key_move(meter, plan)
    units_total = 0
    for spec in specs:
        tid = allocate_tid(meter, at) if spec.needs_tid else None
        digits = spec.build(security, plan.active if plan else None, tid)
        units_kwh = None if spec.units is None else tokens.quantity_from_units(spec.units)
        units_total += spec.units or 0
        rows.append(IssuedToken(meter_id=meter.id, type=spec.type, token=digits, tid=tid,
                                units_kwh=units_kwh, krn=meter.krn, base_date=meter.base_date))
    vend = Vend(
        kind=issue.kind, meter_id=meter.id, meter=meter, receipt_no=next_receipt_no(session),
        client_ref=issue.actor.ref, request_id=issue.request_id,
        request_hash=issue.request_hash, actor=issue.actor.ref, amount=issue.amount,
        units_kwh=tokens.quantity_from_units(units_total), tariff_code=issue.tariff_code,
        tariff_version=issue.tariff_version, breakdown=list(issue.breakdown),
        remainder=issue.remainder, details=dict(issue.details or {}), created_at=at,
    )
    session.add(vend)
    for position, row in enumerate(rows):
        row.position = position
        row.vend = vend
        session.add(row)
    session.flush()
    if plan is not None and plan.target is not None:
        audit.record(session, issue.actor, "meter.key_changed", "meter", meter.meter_number,
                     before=before,
                     after=meter.key_state() | {"reasons": list(plan.reasons),
                                                "vend_id": vend.id})
    audit.record(session, issue.actor, f"vend.{issue.kind.value}", "vend", vend.id,
                 after={"receipt_no": vend.receipt_no, "meter_number": meter.meter_number,
                        "amount": str(vend.amount), "units_kwh": str(vend.units_kwh),
                        "tokens": [r.type.value for r in rows],
                        "tids": [r.tid for r in rows if r.tid is not None]})
    session.flush()
    return vend
