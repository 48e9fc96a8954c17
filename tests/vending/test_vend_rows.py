"""The two ways an issue is written (vending/services/vend_rows.py) write the same rows.

On PostgreSQL a vend without a key change is one statement of data-modifying CTEs; anything
else is one statement per row. Here both write the same issue to two twin meters in one
PostgreSQL transaction, and every column of every row they wrote is compared, ids, receipt
numbers and the clock aside."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, select
from sqlalchemy.orm import Session
from vending_fixtures import FixedClock, TestWorld

from vending.errors import BusinessRuleError
from vending.models import (
    ApiClient,
    AuditEntry,
    IssuedToken,
    Meter,
    TokenType,
    Vend,
    VendKind,
    VendPricing,
    VendStatus,
)
from vending.security_module import SoftwareSecurityModule
from vending.services import Actor, ServiceContext, VendingPolicy
from vending.services.api_clients import create_api_client
from vending.services.vend_rows import TokenRow, write_each, write_in_one_statement

pytestmark = pytest.mark.postgres
AT = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)
ACTOR = Actor("api", "7")


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Connection]:
    engine: Engine = create_engine(postgres_url)
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()
    engine.dispose()


def _issue(meter_id: int, request_id: str, *, tokens: int, pricing: bool
           ) -> dict[str, Any]:
    rows = [TokenRow(type=TokenType.CREDIT.value, token=f"{12345678901234567890 + i}",
                     units_kwh=Decimal("20.5") if i == 0 else None, tid=1000 + i, krn=2,
                     base_date=2014) for i in range(tokens)]
    return {
        "meter_id": meter_id,
        "meter_values": {"last_tid": 1000 + tokens, "carried_credit": Decimal("0.04321")},
        "vend": {"kind": VendKind.CREDIT, "status": VendStatus.ISSUED, "meter_id": meter_id,
                 "client_ref": ACTOR.ref, "request_id": request_id, "request_hash": "h" * 64,
                 "actor": ACTOR.ref, "amount": Decimal("50.00"), "units_kwh": Decimal("20.5"),
                 "tariff_code": "RES", "tariff_version": "2020-01-01",
                 "breakdown": [{"kind": "energy", "amount": "49.96"}],
                 "remainder": Decimal("0.04321"), "details": {"pricing": {"x": "1.50"}},
                 "created_at": AT},
        "tokens": rows, "actor": ACTOR,
        "vend_audit": {"meter_number": "m", "amount": "50.00", "units_kwh": "20.5",
                       "tokens": [r.type for r in rows], "tids": [r.tid for r in rows]},
        "pricing": None if not pricing else {
            "tariff_code": "RES", "tariff_version": "2020-01-01", "block_period_key": "2026-03",
            "energy_kwh": Decimal("20.5"), "carried_in": Decimal("0.01"),
            "remainder": Decimal("0.04321"), "amount": Decimal("50.00"),
            "total": Decimal("50.00"), "tax": Decimal("6.52"), "fbe_kwh": Decimal(0)},
    }


def _written(session: Session, vend_id: int) -> dict[str, Any]:
    vend = session.get(Vend, vend_id)
    assert vend is not None
    meter = session.get(Meter, vend.meter_id)
    assert meter is not None
    skip = {"id", "receipt_no", "meter_id", "request_id", "vend_id"}

    def columns(row: Any) -> dict[str, Any]:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}

    tokens = session.scalars(select(IssuedToken).where(IssuedToken.vend_id == vend_id)
                             .order_by(IssuedToken.position)).all()
    audit = session.scalars(select(AuditEntry).where(AuditEntry.entity == "vend",
                                                     AuditEntry.entity_id == str(vend_id))).one()
    pricing = session.get(VendPricing, vend_id)
    after = dict(audit.after or {})
    assert after.pop("receipt_no") == vend.receipt_no
    return {"vend": columns(vend), "tokens": [columns(t) for t in tokens],
            "audit": (audit.actor, audit.action, audit.before, after),
            "pricing": None if pricing is None else columns(pricing),
            "meter": (meter.last_tid, meter.carried_credit)}


@pytest.mark.parametrize(("tokens", "pricing"), [(1, True), (2, False), (0, False)])
def test_one_statement_writes_what_one_statement_per_row_writes(
        pg: Connection, security: SoftwareSecurityModule, tokens: int, pricing: bool) -> None:
    session = Session(bind=pg, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    world = TestWorld.build(ServiceContext(session=session, security=security,
                                           policy=VendingPolicy(), clock=FixedClock(AT)))
    one, two = (world.meter("current").id, world.meter("second").id)
    connection = session.connection()
    fast, _ = write_in_one_statement(connection, **_issue(one, "a", tokens=tokens,
                                                          pricing=pricing))
    slow, _ = write_each(connection, **_issue(two, "b", tokens=tokens, pricing=pricing))
    session.expire_all()
    written = _written(session, fast)
    assert written == _written(session, slow)
    assert written["meter"] == (1000 + tokens, Decimal("0.04321"))
    assert len(written["tokens"]) == tokens and (written["pricing"] is None) is not pricing
    session.close()


@pytest.mark.parametrize("write", [write_in_one_statement, write_each])
def test_the_vendor_float_pays_with_the_vend_or_nothing_is_written(
        pg: Connection, security: SoftwareSecurityModule, write: Any) -> None:
    session = Session(bind=pg, join_transaction_mode="create_savepoint",
                      expire_on_commit=False)
    ctx = ServiceContext(session=session, security=security, policy=VendingPolicy(),
                         clock=FixedClock(AT))
    world = TestWorld.build(ctx)
    client = create_api_client(ctx, name="float", scopes="vend", actor=ACTOR,
                               vendor_credit="75.00")
    meter = world.meter("current").id
    connection = session.connection()
    write(connection, **_issue(meter, "paid", tokens=1, pricing=True), debit_client=client.id)
    balance = select(ApiClient.vendor_credit).where(ApiClient.id == client.id)
    assert connection.execute(balance).scalar_one() == Decimal("25.00")
    savepoint = connection.begin_nested()
    with pytest.raises(BusinessRuleError) as refused:  # 50.00 more than the 25.00 left
        write(connection, **_issue(world.meter("second").id, "unpaid", tokens=1,
                                   pricing=True), debit_client=client.id)
    assert refused.value.code == "vendor_credit_exhausted"
    savepoint.rollback()
    assert connection.execute(balance).scalar_one() == Decimal("25.00")
    assert session.scalars(select(Vend.request_id)).all() == ["paid"]
    session.close()
