"""Hypothesis state machine: credit only rises by accepted credit tokens, never goes below
zero, and no token is ever accepted twice, whatever residents type and however much they use.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from meter_fixtures import T0, credit, new_meter, tid_at

import tokens
from keypad_meter import ResultCode
from keypad_meter.decoder import lockout_remaining

OTHER_KEY = tokens.DecoderKey.from_hex("060b8643c59a27f1", "07")
TID0 = tid_at(T0)


class MeterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.meter = new_meter(tid_memory_size=8, manufacture_tid=TID0)
        self.now = T0
        self.credit_wh = 0
        self.accepted: list[str] = []
        self.next_tid = TID0 + 1

    def _locked(self) -> bool:
        return lockout_remaining(self.meter.state, self.now) > 0

    @rule(units=st.integers(1, 20_000), skip=st.integers(0, 3), rnd=st.integers(0, 15))
    def buy(self, units: int, skip: int, rnd: int) -> None:
        self.next_tid += skip
        token = tokens.encode(tokens.TransferCredit(
            kind=tokens.CreditKind.ELECTRICITY, tid=self.next_tid,
            units=tokens.round_up_units(units), rnd=rnd), tokens.DecoderKey.from_hex(
                self.meter.state.decoder_key, "07"))
        self.next_tid += 1
        locked = self._locked()
        result = self.meter.enter(token, self.now)
        if locked:
            assert result.code is ResultCode.LOCKOUT
            return
        assert result.code is ResultCode.ACCEPT
        self.credit_wh += tokens.round_up_units(units) * 100
        self.accepted.append(token)

    @precondition(lambda self: self.accepted)
    @rule(index=st.integers(0, 10_000))
    def replay(self, index: int) -> None:
        token = self.accepted[index % len(self.accepted)]
        result = self.meter.enter(token, self.now)
        assert not result.accepted
        assert result.code in (ResultCode.USED, ResultCode.OLD, ResultCode.LOCKOUT)

    @rule(text=st.text(alphabet="0123456789 -", max_size=24))
    def mistype(self, text: str) -> None:
        result = self.meter.enter(text, self.now)
        # a random 20-digit string passes the CRC with probability 2^-16: it is then a real (if
        # odd) token for this meter, and the model follows what it did
        if result.accepted:
            self.credit_wh = self.meter.state.credit_wh
        else:
            assert self.meter.state.credit_wh == self.credit_wh

    @rule(tid_offset=st.integers(0, 50))
    def foreign_token(self, tid_offset: int) -> None:
        result = self.meter.enter(credit(self.next_tid + tid_offset, key=OTHER_KEY), self.now)
        assert result.code in (ResultCode.CRC_ERROR, ResultCode.LOCKOUT)

    @rule(wh=st.integers(0, 50_000))
    def use(self, wh: int) -> None:
        self.meter.consume_pulses(wh, self.now)  # 1000 imp/kWh: one pulse is one Wh
        self.credit_wh = max(0, self.credit_wh - wh)

    @rule(seconds=st.integers(1, 2000))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    @invariant()
    def credit_matches_the_model(self) -> None:
        assert self.meter.state.credit_wh == self.credit_wh
        assert self.meter.state.credit_wh >= 0
        assert (self.meter.state.relay == "closed") == (self.credit_wh > 0)

    @invariant()
    def no_token_accepted_twice(self) -> None:
        assert len(set(self.accepted)) == len(self.accepted)


MeterMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40,
                                          deadline=None)
TestMeterMachine = MeterMachine.TestCase
