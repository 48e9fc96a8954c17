"""Re-key campaigns: move every meter of a supply group to a new key ahead of their next
purchase (the TID rollover programme), one meter per unit of work.

A campaign first makes the target KRN the supply group's current key (so vends from then on
hand out the same move), then issues each meter's key-change set. Each move is a vend of kind
``rekey`` with the request id ``rekey:SGC:KRN:BASE:METER`` under the campaign actor: running
the campaign again never issues a second set to a meter, it returns the recorded one. That is
what makes the CLI resumable: a meter already written to the output file is skipped, a meter
moved but not yet written (a crash between commit and write) is written from its record.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tokens import BaseDate

from ..errors import BusinessRuleError, NotFoundError, VendingError
from ..models import Meter, SupplyGroup, VendKind
from . import audit
from .answers import VendAnswer
from .context import Actor, ServiceContext
from .issuing import Issue, find_request, issue_tokens, request_hash
from .keystate import lock_meter_state, plan_key, vending_key_row

CAMPAIGN_ACTOR = Actor("system", "rekey-campaign")


class RekeyOutcome(enum.StrEnum):
    MOVED = "moved"  # key-change set issued now
    RECORDED = "recorded"  # issued by an earlier run: the recorded set
    CURRENT = "current"  # the meter was already on the target key: nothing to issue
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RekeyResult:
    meter_number: str
    outcome: RekeyOutcome
    answer: VendAnswer | None = None
    error: str | None = None


def start_campaign(
    ctx: ServiceContext, *, sgc: str, to_krn: int, to_base_date: int, actor: Actor
) -> list[str]:
    """Check the target key, make it current, and list the group's meters (in id order)."""
    session = ctx.session
    try:
        group = session.scalars(select(SupplyGroup).where(SupplyGroup.sgc == sgc)).first()
        if group is None:
            raise NotFoundError("unknown_sgc", f"supply group {sgc} does not exist")
        key = vending_key_row(session, group.id, to_krn)
        if key is None:
            raise NotFoundError("unknown_key", f"SGC {sgc} has no vending key with KRN {to_krn}")
        if key.base_date != int(BaseDate.parse(to_base_date)):
            raise BusinessRuleError(
                "base_date_mismatch",
                f"SGC {sgc} KRN {to_krn} is on base date {key.base_date}, not {to_base_date}")
        if group.current_krn != to_krn:
            audit.record(session, actor, "supply_group.current_krn", "supply_group", sgc,
                         before={"current_krn": group.current_krn},
                         after={"current_krn": to_krn, "campaign": True})
            group.current_krn = to_krn
        numbers = list(session.scalars(select(Meter.meter_number)
                                       .where(Meter.supply_group_id == group.id)
                                       .order_by(Meter.id)))
        audit.record(session, actor, "rekey.started", "supply_group", sgc,
                     after={"to_krn": to_krn, "to_base_date": key.base_date,
                            "meters": len(numbers)})
        session.commit()
        return numbers
    finally:
        session.rollback()


def rekey_meter(
    ctx: ServiceContext, meter_number: str, *, sgc: str, to_krn: int, to_base_date: int
) -> RekeyResult:
    """Move one meter to (``to_krn``, ``to_base_date``) in its own transaction."""
    session = ctx.session
    rid = f"rekey:{sgc}:{to_krn}:{to_base_date}:{meter_number}"
    body_hash = request_hash({"op": "rekey", "meter_number": meter_number, "sgc": sgc,
                              "to_krn": to_krn, "to_base_date": to_base_date})
    try:
        existing = find_request(session, CAMPAIGN_ACTOR.ref, rid)
        if existing is not None:
            return RekeyResult(meter_number, RekeyOutcome.RECORDED,
                               VendAnswer.from_vend(existing, replayed=True))
        connection = session.connection()
        meter = lock_meter_state(connection, meter_number)
        if meter.krn == to_krn and meter.base_date == int(to_base_date):
            return RekeyResult(meter_number, RekeyOutcome.CURRENT)
        at = ctx.now()
        plan = plan_key(connection, meter, at, to_krn=to_krn)
        answer = issue_tokens(
            connection, ctx.security, meter, plan, [],
            Issue(kind=VendKind.REKEY, actor=CAMPAIGN_ACTOR, request_id=rid,
                  request_hash=body_hash,
                  details={"from": {"krn": plan.current.krn,
                                    "base_date": int(plan.current.base_date)},
                           "to": {"krn": to_krn, "base_date": int(to_base_date)}}),
            at,
        )
        session.commit()
        return RekeyResult(meter_number, RekeyOutcome.MOVED, answer)
    except IntegrityError:
        session.rollback()
        winner = find_request(session, CAMPAIGN_ACTOR.ref, rid)
        if winner is None:
            raise
        return RekeyResult(meter_number, RekeyOutcome.RECORDED,
                           VendAnswer.from_vend(winner, replayed=True))
    except VendingError as exc:
        return RekeyResult(meter_number, RekeyOutcome.FAILED, error=f"{exc.code}: {exc}")
    finally:
        session.rollback()
