"""The core shared by every service that issues tokens: under the meter's row lock, prepend a
key-change set when one is due (and move the meter record), allocate each TID as
``max(now_TID, last_TID + 1)``, and write the vend (numbering its receipt), its tokens and
the audit entries through :mod:`.vend_rows`. It writes but never commits: the calling
service owns the unit of work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

import tokens

from ..errors import BusinessRuleError, ConflictError, InvalidInputError
from ..models import TokenType, Vend, VendKind, VendStatus
from ..security_module import MeterKeyRef, SecurityModule
from .answers import TokenLine, VendAnswer
from .context import Actor
from .keystate import KeyPlan, MeterState, key_move
from .vend_rows import TokenRow, write_issue

_ZERO_KWH = Decimal(0)


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
    """The answer of an earlier request with this id (same body), or None if there is none;
    another body under the same id raises :class:`ConflictError`.

    The issuing services ask it under the meter's lock (a credit vend learns from its locked
    meter read whether there is anything to load) and again when their own insert lost the
    unique (client, request_id) race to a duplicate that committed meanwhile.
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
    # The vend_pricing row of a priced credit vend (vending.pricing.pricing_row), or None.
    pricing: dict[str, Any] | None = None
    # The API client whose vendor float pays ``amount`` (debited with the vend), or None.
    debit_client: int | None = None


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
    explicit statements (:func:`.vend_rows.write_issue`): the meter row's update, the vend,
    its tokens, the audit entries and the pricing record. Returns the answer of the new vend.

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
    units = tokens.quantity_from_units(units_total)
    breakdown = list(issue.breakdown)
    details = dict(issue.details or {})
    key_change_audit = None
    if moves:
        key_change_audit = (meter.key_state(),
                            {**meter.key_state(), **moves, "last_tid": last_tid,
                             "reasons": list(plan.reasons) if plan else []},
                            meter.meter_number)
    vend_id, receipt_no = write_issue(
        connection, meter_id=meter.id, meter_values=meter_values,
        vend={"kind": issue.kind, "status": VendStatus.ISSUED, "meter_id": meter.id,
              "client_ref": issue.actor.ref, "request_id": issue.request_id,
              "request_hash": issue.request_hash, "actor": issue.actor.ref,
              "amount": issue.amount, "units_kwh": units, "tariff_code": issue.tariff_code,
              "tariff_version": issue.tariff_version, "breakdown": breakdown,
              "remainder": issue.remainder, "details": details, "created_at": at},
        tokens=[TokenRow(
            type=line.type, token=line.token, units_kwh=stored_units[position], tid=line.tid,
            # key-change tokens are made under the old key, the others under the new one
            krn=meter.krn if line.type == "key_change" else krn,
            base_date=meter.base_date if line.type == "key_change" else base_date)
            for position, line in enumerate(lines)],
        actor=issue.actor,
        vend_audit={"meter_number": meter.meter_number, "amount": str(issue.amount),
                    "units_kwh": str(units), "tokens": [line.type for line in lines],
                    "tids": [line.tid for line in lines if line.tid is not None]},
        pricing=issue.pricing, key_change_audit=key_change_audit,
        debit_client=issue.debit_client)
    return VendAnswer(
        vend_id=vend_id, receipt_no=receipt_no, kind=issue.kind.value,
        meter_number=meter.meter_number, amount=issue.amount, units_kwh=units,
        status=VendStatus.ISSUED.value, created_at=at, tokens=tuple(lines),
        breakdown=tuple(breakdown), tariff_code=issue.tariff_code,
        tariff_version=issue.tariff_version, remainder=issue.remainder,
        key_change=any(line.type == "key_change" for line in lines), details=details,
    )
