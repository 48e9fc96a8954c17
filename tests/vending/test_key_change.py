"""Key changes inside vends: a new supply group key, the 1993 base-date rollover, and the
explicit key change of the engineering menu. Every token is decoded with keys the test derives
itself, the way the meter would see them."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from vending_fixtures import ADMIN, CLERK, SGC, FixedClock, TestWorld, decoder_key

import tokens
from vending.errors import BusinessRuleError
from vending.models import AuditEntry, IssuedToken
from vending.services import (
    ServiceContext,
    confirm_meter,
    engineering_token,
    set_current_krn,
    trial_vend,
    vend,
)


def _assemble(kcts: list[str], old: tokens.DecoderKey) -> tokens.AssembledKey:
    sections = [tokens.decode(t, old) for t in kcts]
    return tokens.assemble_key(sections, new_key_bits=len(old.key) * 8)


def test_a_meter_behind_its_group_gets_the_key_change_first(
        ctx: ServiceContext, world: TestWorld, clock: FixedClock) -> None:
    number = world.meters["current"]
    set_current_krn(ctx, sgc=SGC, krn=3, actor=ADMIN)
    assert confirm_meter(ctx, number).key_change_due
    assert trial_vend(ctx, meter_number=number, amount="10").key_change
    answer = vend(ctx, meter_number=number, amount="25", request_id="kc", actor=CLERK)
    assert [t.type for t in answer.tokens] == ["key_change", "key_change", "credit"]
    assert answer.key_change
    new = _assemble([t.token for t in answer.tokens[:2]], decoder_key(number, krn=2))
    assert new.krn == 3 and new.ti == 1 and new.ken == 255 and not new.ro
    assert new.key == decoder_key(number, krn=3).key
    credit = tokens.decode(answer.tokens[2].token, decoder_key(number, krn=3))
    assert credit.units == 100 and credit.tid == tokens.tid_from_datetime(clock(), 2014)
    meter = world.meter("current")
    assert (meter.krn, meter.base_date, meter.last_tid) == (3, 2014, credit.tid)
    entry = ctx.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "meter.key_changed")).one()
    assert entry.before["krn"] == 2 and entry.after["krn"] == 3
    # The next vend is a plain credit vend on the new key.
    nxt = vend(ctx, meter_number=number, amount="25", request_id="kc2", actor=CLERK)
    assert [t.type for t in nxt.tokens] == ["credit"]
    assert tokens.decode(nxt.tokens[0].token, decoder_key(number, krn=3)).tid == credit.tid + 1


def test_the_1993_rollover_moves_the_meter_to_base_date_2014(
        ctx: ServiceContext, world: TestWorld, clock: FixedClock) -> None:
    number = world.meters["legacy"]  # KRN 1, DKGA-02, base date 1993; the clock is in 2026
    confirmation = confirm_meter(ctx, number)
    assert confirmation.key_change_due and "tid_rollover" in confirmation.key_change_reasons
    answer = vend(ctx, meter_number=number, amount="10", request_id="ro", actor=CLERK)
    assert [t.type for t in answer.tokens] == ["key_change", "key_change", "credit"]
    new = _assemble([t.token for t in answer.tokens[:2]], decoder_key(number, krn=1))
    assert new.ro and new.krn == 2 and new.key == decoder_key(number, krn=2).key
    credit = tokens.decode(answer.tokens[2].token, decoder_key(number, krn=2))
    assert credit.tid == tokens.tid_from_datetime(clock(), 2014) and credit.units == 40
    meter = world.meter("legacy")
    assert (meter.krn, meter.base_date, meter.dkga) == (2, 2014, "04")
    rows = ctx.session.scalars(select(IssuedToken).where(IssuedToken.vend_id == answer.vend_id)
                               .order_by(IssuedToken.position)).all()
    # key-change tokens are made under the old key, the credit under the new one
    assert [(r.krn, r.base_date) for r in rows] == [(1, 1993), (1, 1993), (2, 2014)]


def test_rollover_without_a_later_key_is_refused(ctx: ServiceContext, world: TestWorld) -> None:
    set_current_krn(ctx, sgc=SGC, krn=1, actor=ADMIN)  # only the 1993 key is current
    with pytest.raises(BusinessRuleError) as err:
        vend(ctx, meter_number=world.meters["legacy"], amount="10", request_id="x",
             actor=CLERK)
    assert err.value.code == "key_change_impossible" and err.value.status == 422
    assert not confirm_meter(ctx, world.meters["legacy"]).can_vend


def test_an_expired_key_is_changed(ctx: ServiceContext, world: TestWorld,
                                   clock: FixedClock) -> None:
    meter = world.meter("current")
    tid = tokens.tid_from_datetime(clock(), 2014)
    meter.ken = (tid >> 16) - 1  # the current TID is past the key's expiry number
    ctx.session.commit()
    set_current_krn(ctx, sgc=SGC, krn=3, actor=ADMIN)
    answer = vend(ctx, meter_number=meter.meter_number, amount="10", request_id="ken",
                  actor=CLERK)
    assert [t.type for t in answer.tokens][:2] == ["key_change", "key_change"]
    assert world.meter("current").ken == 255


def test_explicit_key_change_to_a_new_tariff_index(ctx: ServiceContext, world: TestWorld) -> None:
    number = world.meters["second"]
    answer = engineering_token(ctx, meter_number=number, kind="key_change", request_id="ti",
                               actor=ADMIN, params={"to_ti": 7})
    assert answer.kind == "key_change" and [t.type for t in answer.tokens] == ["key_change"] * 2
    new = _assemble([t.token for t in answer.tokens], decoder_key(number, krn=2))
    assert (new.krn, new.ti) == (2, 7)
    assert new.key == decoder_key(number, krn=2, ti=7).key
    assert world.meter("second").ti == 7
    credit = vend(ctx, meter_number=number, amount="10", request_id="after-ti", actor=CLERK)
    assert tokens.decode(credit.tokens[0].token, decoder_key(number, krn=2, ti=7)).units == 40
    with pytest.raises(BusinessRuleError, match="already on that key"):
        engineering_token(ctx, meter_number=number, kind="key_change", request_id="ti2",
                          actor=ADMIN, params={"to_ti": 7})
