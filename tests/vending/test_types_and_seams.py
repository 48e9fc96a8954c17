"""Column types that keep Decimal and aware UTC on both databases, and the security module
seam (a module chosen by configuration, as a hardware module adapter would be)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session
from vending_fixtures import CLERK, RecordingSecurityModule, TestWorld, make_config

from vending import create_app
from vending.database import db
from vending.models import AuditEntry, Vend
from vending.security_module import SecurityModule
from vending.services import ServiceContext, vend


def test_decimals_and_times_round_trip_exactly(ctx: ServiceContext, world: TestWorld) -> None:
    answer = vend(ctx, meter_number=world.meters["current"], amount="1234.56",
                  request_id="rt", actor=CLERK)
    ctx.session.expire_all()
    row = ctx.session.get(Vend, answer.vend_id)
    assert row is not None
    assert row.amount == Decimal("1234.56") and isinstance(row.amount, Decimal)
    assert row.units_kwh == Decimal("493.8") and row.remainder == Decimal("0.06")
    assert row.created_at == answer.created_at and row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)


def test_naive_times_and_excess_decimals_are_refused(session: Session) -> None:
    session.add(AuditEntry(actor="t", action="a", entity="e", entity_id="1",
                           at=datetime(2026, 1, 1)))  # noqa: DTZ001 - the naive value under test
    with pytest.raises(StatementError, match="naive datetime"):
        session.flush()
    session.rollback()
    offset = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    entry = AuditEntry(actor="t", action="a", entity="e", entity_id="2", at=offset)
    session.add(entry)
    session.flush()
    session.expire_all()
    stored = session.scalars(select(AuditEntry).where(AuditEntry.entity_id == "2")).one()
    assert stored.at == offset and stored.at.tzinfo == UTC and stored.at.hour == 10


def test_the_security_module_is_chosen_by_configuration(
        app: Any, master_keys: str, world: TestWorld) -> None:
    config = make_config(app.config["DATABASE_URL"], master_keys,
                         STSVEND_SECURITY_MODULE="vending_fixtures:recording_module_factory")
    other = create_app(config)
    other.extensions["stsvend.sessionmaker"] = app.extensions["stsvend.sessionmaker"]
    module = other.extensions["stsvend.security_module"]
    assert isinstance(module, RecordingSecurityModule) and isinstance(module, SecurityModule)
    with other.app_context():
        answer = vend(ServiceContext.from_app(other, db.session),
                      meter_number=world.meters["legacy"], amount="10", request_id="hsm",
                      actor=CLERK)
    assert len(answer.tokens) == 3
    assert module.calls == ["key_change_tokens", "credit_token"]
