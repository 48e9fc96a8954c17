"""Credit vends through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from vending_fixtures import CLERK, FixedClock, TestWorld, decoder_key, drn

import tokens
from vending.errors import (
    BusinessRuleError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from vending.models import AuditEntry, IssuedToken, Vend
from vending.services import ServiceContext, trial_vend, vend


def test_vend_issues_a_credit_token_the_meter_decodes(ctx: ServiceContext, world: TestWorld,
                                                      clock: FixedClock) -> None:
    number = world.meters["current"]
    answer = vend(ctx, meter_number=number, amount="100.00", request_id="r1", actor=CLERK)
    assert answer.status == "issued" and not answer.replayed and not answer.key_change
    assert [t.type for t in answer.tokens] == ["credit"]
    line = answer.tokens[0]
    decoded = tokens.decode(line.token, decoder_key(number, krn=2))
    assert isinstance(decoded, tokens.TransferCredit)
    assert decoded.units == 400  # 100.00 / 2.50 = 40.0 kWh = 400 units of 0.1 kWh
    assert line.units_kwh == Decimal("40.0") == answer.units_kwh
    assert decoded.tid == tokens.tid_from_datetime(clock(), 2014) == line.tid
    body = answer.as_json()
    assert body["amount"] == "100.00" and body["units"] == "40.0"
    assert body["tokens"][0] == {"type": "credit", "token": line.token, "units": "40.0",
                                 "tid": line.tid}
    assert body["breakdown"][0]["rate"] == "2.5000"


def test_energy_is_floored_and_the_receipt_shows_what_the_meter_adds(
        ctx: ServiceContext, world: TestWorld) -> None:
    # 4000.04 / 2.5 = 1600.016 kWh -> 1600.0 kWh = 16000 units (exact in the coding)
    a = vend(ctx, meter_number=world.meters["current"], amount="4000.04", request_id="f1",
             actor=CLERK)
    assert a.units_kwh == Decimal("1600.0") and a.remainder == Decimal("0.04")
    # 4500.25 / 2.5 = 1800.1 kWh = 18001 units; above 16383 the coding steps by 10 from
    # 16384, so the token carries 16384 + 10 * 162 = 18004 units: the receipt says 1800.4.
    b = vend(ctx, meter_number=world.meters["current"], amount="4500.25", request_id="f2",
             actor=CLERK)
    assert b.units_kwh == Decimal("1800.4")
    decoded = tokens.decode(b.tokens[0].token, decoder_key(world.meters["current"], 2))
    assert decoded.units == 18004


def test_tids_in_one_minute_are_distinct_and_increasing(ctx: ServiceContext, world: TestWorld,
                                                        clock: FixedClock) -> None:
    number = world.meters["current"]
    tids = [vend(ctx, meter_number=number, amount="10", request_id=f"t{i}", actor=CLERK)
            .tokens[0].tid for i in range(3)]
    now_tid = tokens.tid_from_datetime(clock(), 2014)
    assert tids == [now_tid, now_tid + 1, now_tid + 2]
    clock.advance(minutes=10)  # the clock overtakes the sequence again
    later = vend(ctx, meter_number=number, amount="10", request_id="t9", actor=CLERK)
    assert later.tokens[0].tid == tokens.tid_from_datetime(clock(), 2014)
    assert world.meter("current").last_tid == later.tokens[0].tid


def test_receipt_numbers_are_unique_and_increasing(ctx: ServiceContext, world: TestWorld) -> None:
    receipts = [vend(ctx, meter_number=world.meters[m], amount="5", request_id=f"q{i}",
                     actor=CLERK).receipt_no for i, m in enumerate(["current", "second"] * 2)]
    assert receipts == sorted(receipts) and len(set(receipts)) == 4


def test_a_replayed_request_returns_the_first_vend(ctx: ServiceContext, world: TestWorld,
                                                   clock: FixedClock) -> None:
    number = world.meters["current"]
    first = vend(ctx, meter_number=number, amount="50", request_id="same", actor=CLERK)
    clock.advance(minutes=3)
    again = vend(ctx, meter_number=number, amount="50.00", request_id="same", actor=CLERK)
    assert again.replayed and again.as_json() == first.as_json()
    assert ctx.session.scalar(select(func.count()).select_from(Vend)) == 1
    with pytest.raises(ConflictError) as err:
        vend(ctx, meter_number=number, amount="60", request_id="same", actor=CLERK)
    assert err.value.status == 409
    # Another client has its own request-id space.
    other = vend(ctx, meter_number=number, amount="50", request_id="same",
                 actor=CLERK.__class__("api", "7"))
    assert other.vend_id != first.vend_id


@pytest.mark.parametrize(("amount", "code"), [
    ("0", "invalid_amount"), ("-5", "invalid_amount"), ("abc", "invalid_amount"),
    ("10.001", "invalid_amount"), (10.5, "invalid_amount"), ("NaN", "invalid_amount"),
])
def test_bad_amounts_are_refused(ctx: ServiceContext, world: TestWorld, amount: object,
                                 code: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        vend(ctx, meter_number=world.meters["current"], amount=amount, request_id="x",
             actor=CLERK)
    assert err.value.code == code


def test_business_rules(ctx: ServiceContext, world: TestWorld) -> None:
    from vending.services import set_meter_status

    number = world.meters["current"]
    with pytest.raises(BusinessRuleError, match="between"):
        vend(ctx, meter_number=number, amount="0.50", request_id="lo", actor=CLERK)
    with pytest.raises(BusinessRuleError, match="between"):
        vend(ctx, meter_number=number, amount="10000.01", request_id="hi", actor=CLERK)
    set_meter_status(ctx, number, "blocked", actor=CLERK)
    with pytest.raises(BusinessRuleError) as err:
        vend(ctx, meter_number=number, amount="10", request_id="b", actor=CLERK)
    assert err.value.code == "meter_blocked" and err.value.status == 422
    with pytest.raises(NotFoundError):
        vend(ctx, meter_number=drn(999), amount="10", request_id="u", actor=CLERK)
    with pytest.raises(InvalidInputError) as bad:
        vend(ctx, meter_number=number[:-1] + str((int(number[-1]) + 1) % 10), amount="10",
             request_id="c", actor=CLERK)
    assert bad.value.code == "check_digit"
    assert ctx.session.scalar(select(func.count()).select_from(Vend)) == 0


def test_trial_vend_consumes_nothing(ctx: ServiceContext, world: TestWorld) -> None:
    before_tid = world.meter("current").last_tid
    trial = trial_vend(ctx, meter_number=world.meters["current"], amount="100")
    assert trial.status == "trial" and trial.tokens == () and trial.vend_id is None
    assert trial.units_kwh == Decimal("40.0")
    assert ctx.session.scalar(select(func.count()).select_from(Vend)) == 0
    assert world.meter("current").last_tid == before_tid
    real = vend(ctx, meter_number=world.meters["current"], amount="100", request_id="after",
                actor=CLERK)
    assert real.units_kwh == trial.units_kwh and real.breakdown == trial.breakdown


def test_a_failure_between_token_and_commit_leaves_neither(
        ctx: ServiceContext, world: TestWorld) -> None:
    from sqlalchemy import event

    session = ctx.session
    before_tid = world.meter("current").last_tid
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))

    def fail(sess: object) -> None:  # the tokens exist and are flushed; the commit dies
        assert session.scalar(select(func.count()).select_from(IssuedToken)) == 1
        raise RuntimeError("injected failure before commit")

    event.listen(session, "before_commit", fail)
    try:
        with pytest.raises(RuntimeError, match="injected"):
            vend(ctx, meter_number=world.meters["current"], amount="20", request_id="boom",
                 actor=CLERK)
    finally:
        event.remove(session, "before_commit", fail)
    assert session.scalar(select(func.count()).select_from(Vend)) == 0
    assert session.scalar(select(func.count()).select_from(IssuedToken)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    assert world.meter("current").last_tid == before_tid
    # and the same request then succeeds normally
    ok = vend(ctx, meter_number=world.meters["current"], amount="20", request_id="boom",
              actor=CLERK)
    assert not ok.replayed


def test_every_vend_is_audited(ctx: ServiceContext, world: TestWorld) -> None:
    answer = vend(ctx, meter_number=world.meters["current"], amount="30", request_id="aud",
                  actor=CLERK)
    entry = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action == "vend.credit")
                                ).one()
    assert entry.actor == "user:clerk1" and entry.entity_id == str(answer.vend_id)
    assert entry.after["tids"] == [answer.tokens[0].tid]
    assert entry.at.tzinfo is not None
