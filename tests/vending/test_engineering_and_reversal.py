"""Engineering tokens, reprints and reversals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from vending_fixtures import ADMIN, CLERK, FixedClock, TestWorld, decoder_key

import tokens
from vending.errors import BusinessRuleError, ConflictError, InvalidInputError, NotFoundError
from vending.models import AuditEntry, Vend
from vending.services import (
    ServiceContext,
    engineering_token,
    find_vend,
    reprint,
    reverse,
    vend,
)


@pytest.mark.parametrize(("kind", "params", "expected"), [
    ("clear_credit", {}, tokens.ClearCredit),
    ("clear_credit", {"register": 0}, tokens.ClearCredit),
    ("clear_tamper", {}, tokens.ClearTamperCondition),
    ("set_power_limit", {"watts": 5000}, tokens.SetMaximumPowerLimit),
    ("set_phase_unbalance", {"watts": 1500}, tokens.SetMaximumPhasePowerUnbalanceLimit),
])
def test_management_tokens_decode_on_the_meter(
        ctx: ServiceContext, world: TestWorld, clock: FixedClock, kind: str,
        params: dict[str, int], expected: type) -> None:
    number = world.meters["current"]
    answer = engineering_token(ctx, meter_number=number, kind=kind, params=params,
                               request_id="e1", actor=ADMIN)
    assert answer.kind == "engineering" and answer.amount == 0 and answer.receipt_no
    (line,) = answer.tokens
    assert line.type == kind
    decoded = tokens.decode(line.token, decoder_key(number, krn=2))
    assert isinstance(decoded, expected)
    assert decoded.tid == line.tid == tokens.tid_from_datetime(clock(), 2014)
    if "watts" in params:
        assert decoded.watts == params["watts"]
    if kind == "clear_credit":
        assert decoded.register == params.get("register", 0xFFFF)
    # engineering TIDs share the meter's sequence with credit tokens
    credit = vend(ctx, meter_number=number, amount="10", request_id="after", actor=CLERK)
    assert credit.tokens[0].tid == line.tid + 1


def test_meter_test_token_is_class_1_with_the_meters_manufacturer_code(
        ctx: ServiceContext, world: TestWorld) -> None:
    number = world.meters["current"]  # 11 digits: manufacturer code "07"
    answer = engineering_token(ctx, meter_number=number, kind="meter_test",
                               params={"control": 1 << 3}, request_id="t", actor=ADMIN)
    (line,) = answer.tokens
    decoded = tokens.decode(line.token, None)
    assert isinstance(decoded, tokens.MeterTest)
    assert (decoded.control, decoded.mfr_code, decoded.variant) == (8, 7, 0)
    assert line.tid is None and world.meter("current").last_tid == 0


def test_engineering_input_is_validated_and_idempotent(ctx: ServiceContext,
                                                      world: TestWorld) -> None:
    number = world.meters["current"]
    with pytest.raises(InvalidInputError):
        engineering_token(ctx, meter_number=number, kind="set_power_limit", request_id="w",
                          actor=ADMIN)  # watts missing
    with pytest.raises(InvalidInputError):
        engineering_token(ctx, meter_number=number, kind="clear_credit",
                          params={"register": 9}, request_id="r", actor=ADMIN)
    with pytest.raises(InvalidInputError):
        engineering_token(ctx, meter_number=number, kind="self_destruct", request_id="k",
                          actor=ADMIN)
    first = engineering_token(ctx, meter_number=number, kind="clear_tamper", request_id="i",
                              actor=ADMIN)
    again = engineering_token(ctx, meter_number=number, kind="clear_tamper", request_id="i",
                              actor=ADMIN)
    assert again.replayed and again.as_json() == first.as_json()
    with pytest.raises(ConflictError):
        engineering_token(ctx, meter_number=number, kind="clear_credit", request_id="i",
                          actor=ADMIN)


def test_reprint_and_last_response(ctx: ServiceContext, world: TestWorld) -> None:
    answer = vend(ctx, meter_number=world.meters["current"], amount="40", request_id="p",
                  actor=CLERK)
    assert reprint(ctx, answer.vend_id).as_json() == answer.as_json()
    assert find_vend(ctx, request_id="p", actor=CLERK).vend_id == answer.vend_id
    with pytest.raises(NotFoundError):
        reprint(ctx, 999_999)
    with pytest.raises(NotFoundError):
        find_vend(ctx, request_id="nope", actor=CLERK)


def test_reversal_records_who_and_why(ctx: ServiceContext, world: TestWorld,
                                      clock: FixedClock) -> None:
    answer = vend(ctx, meter_number=world.meters["current"], amount="40", request_id="rv",
                  actor=CLERK)
    with pytest.raises(InvalidInputError):
        reverse(ctx, answer.vend_id, reason="  ", actor=ADMIN)
    clock.advance(minutes=5)
    reversed_ = reverse(ctx, answer.vend_id, reason="card payment declined", actor=ADMIN)
    assert reversed_.status == "reversed"
    assert reversed_.tokens == answer.tokens  # the token itself is kept, marked by the vend
    row = ctx.session.get(Vend, answer.vend_id)
    ctx.session.refresh(row)
    assert (row.reversed_by, row.reversal_reason) == ("cli:test-admin", "card payment declined")
    assert row.reversed_at == clock()
    entry = ctx.session.scalars(select(AuditEntry).where(AuditEntry.action == "vend.reversed")
                                ).one()
    assert entry.before == {"status": "issued"} and entry.after["status"] == "reversed"
    with pytest.raises(BusinessRuleError, match="already reversed"):
        reverse(ctx, answer.vend_id, reason="again", actor=ADMIN)
    # the replay of the original request now shows the reversed vend
    assert vend(ctx, meter_number=world.meters["current"], amount="40", request_id="rv",
                actor=CLERK).status == "reversed"


def test_reversal_window_and_kind(ctx: ServiceContext, world: TestWorld,
                                  clock: FixedClock) -> None:
    answer = vend(ctx, meter_number=world.meters["current"], amount="40", request_id="late",
                  actor=CLERK)
    clock.advance(seconds=ctx.policy.reversal_window / timedelta(seconds=1) + 1)
    with pytest.raises(BusinessRuleError, match="window") as err:
        reverse(ctx, answer.vend_id, reason="too late", actor=ADMIN)
    assert err.value.code == "not_reversible"
    eng = engineering_token(ctx, meter_number=world.meters["current"], kind="clear_tamper",
                            request_id="ct", actor=ADMIN)
    with pytest.raises(BusinessRuleError, match="only credit"):
        reverse(ctx, eng.vend_id, reason="no", actor=ADMIN)
