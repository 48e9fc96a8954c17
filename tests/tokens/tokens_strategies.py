"""Hypothesis strategies for the token tests (random keys, identities and typed tokens)."""

from __future__ import annotations

from hypothesis import strategies as st
from tokens_reference import ref_currency_value, ref_transfer_value

import tokens


def luhn_digit(digits: str) -> str:
    """Luhn check digit, written here from SPEC §6.1 (rightmost payload digit doubled)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


EAS = list(tokens.EncryptionAlgorithm)
BASE_DATES = list(tokens.BaseDate)


@st.composite
def decoder_keys(
    draw: st.DrawFn, ea: tokens.EncryptionAlgorithm | None = None
) -> tokens.DecoderKey:
    ea = ea if ea is not None else draw(st.sampled_from(EAS))
    size = 16 if ea is tokens.EncryptionAlgorithm.EA11 else 8
    return tokens.DecoderKey(draw(st.binary(min_size=size, max_size=size)), ea)


@st.composite
def pans(draw: st.DrawFn) -> str:
    body = draw(st.text(alphabet="0123456789", min_size=17, max_size=17))
    return body + luhn_digit(body)


@st.composite
def key_derivations(draw: st.DrawFn) -> tokens.KeyDerivation:
    dkga = draw(st.sampled_from(["02", "04"]))
    ea = draw(st.sampled_from(["07", "09"] if dkga == "02" else ["07", "09", "11"]))
    return tokens.KeyDerivation(
        dkga=dkga,
        vending_key=draw(
            st.binary(min_size=8, max_size=8)
            if dkga == "02"
            else st.binary(min_size=20, max_size=20)
        ),
        pan=draw(pans()),
        kt=draw(st.integers(0, 3)),
        sgc=draw(st.text(alphabet="0123456789", min_size=6, max_size=6)),
        ti=draw(st.integers(0, 99)),
        krn=draw(st.integers(1, 15)),
        base_date=draw(st.sampled_from(BASE_DATES)),
        ea=ea,
    )


tids = st.integers(0, 0xFFFFFF)
rnds = st.integers(0, 15)
fields16 = st.integers(0, 0xFFFF)


def _transfer(kind: int, tid: int, rnd: int, field: int) -> tokens.Token:
    return tokens.TransferCredit(
        kind=tokens.CreditKind(kind), tid=tid, rnd=rnd, units=ref_transfer_value(field)
    )


def _currency(kind: int, tid: int, se: int, field: int) -> tokens.Token:
    return tokens.CurrencyCredit(
        kind=tokens.CurrencyKind(kind), tid=tid, amount=ref_currency_value(se, field)
    )


def _management(sub: int, tid: int, rnd: int, field: int) -> tokens.Token:
    common = {"tid": tid, "rnd": rnd}
    if sub == 0:
        return tokens.SetMaximumPowerLimit(watts=ref_transfer_value(field), **common)
    if sub == 1:
        return tokens.ClearCredit(register=field, **common)
    if sub == 2:
        return tokens.SetTariffRate(rate=field, **common)
    if sub == 5:
        return tokens.ClearTamperCondition(pad=field, **common)
    if sub == 6:
        return tokens.SetMaximumPhasePowerUnbalanceLimit(watts=ref_transfer_value(field), **common)
    if sub == 7:
        return tokens.SetWaterMeterFactor(factor=field, **common)
    return tokens.ExtendedManagement(value=field, **common)


def _meter_test(variant: int, control: int, mfr: int) -> tokens.Token:
    control_bits, mfr_bits = (28, 16) if variant == 1 else (36, 8)
    return tokens.MeterTest(
        control=control % (1 << control_bits), mfr_code=mfr % (1 << mfr_bits), variant=variant
    )


u32 = st.integers(0, 0xFFFFFFFF)

#: A typed token of every defined class and subclass (values drawn over their whole range).
typed_tokens: st.SearchStrategy[tokens.Token] = st.one_of(
    st.builds(_transfer, st.integers(0, 3), tids, rnds, fields16),
    st.builds(_currency, st.integers(4, 7), tids, st.integers(0, 15), fields16),
    st.builds(_meter_test, st.integers(0, 2), st.integers(0, 2**36 - 1), st.integers(0, 0xFFFF)),
    st.builds(_management, st.sampled_from([0, 1, 2, 5, 6, 7, 10]), tids, rnds, fields16),
    st.builds(
        tokens.KeyChange1,
        kenho=rnds,
        krn=rnds,
        ro=st.integers(0, 1),
        s3kct=st.integers(0, 1),
        kt=st.integers(0, 3),
        nkho=u32,
    ),
    st.builds(tokens.KeyChange2, kenlo=rnds, ti=st.integers(0, 255), nklo=u32),
    st.builds(tokens.KeyChange3, sgclo=st.integers(0, 0xFFF), nkmo2=u32),
    st.builds(tokens.KeyChange4, sgcho=st.integers(0, 0xFFF), nkmo1=u32),
)
