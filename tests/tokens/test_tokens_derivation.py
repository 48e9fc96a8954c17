"""DKGA-02 / DKGA-04 and the CRC against reference code written from SPEC §2, §6.3-§6.5."""

from __future__ import annotations

import hashlib
import hmac

import tokens_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from tokens_strategies import BASE_DATES, pans

import tokens
from tokens.crc import crc_field, crc_register, uses_crc_c
from tokens.keys import dkga04_message

DERIVE = settings(max_examples=120, deadline=None)
sgcs = st.text(alphabet="0123456789", min_size=6, max_size=6)


def ref_control_block(kt: int, sgc: str, ti: int, krn: int) -> int:
    """SPEC §6.3: KT(1) ‖ SGC(6 decimal digits) ‖ TI(2 decimal digits) ‖ KRN(1) ‖ FFFFFF."""
    return int(f"{kt}{sgc}{ti:02d}{krn:X}FFFFFF", 16)


def ref_pan_block(pan: str, kt: int) -> int:
    """SPEC §6.1: PAN[1:17] as BCD; for a common key (KT 3) IIN[1:] then zeros."""
    if kt == 3:
        assert pan.startswith("600727")
        return int("00727".ljust(16, "0"), 16)
    return int(pan[1:17], 16)


def ref_dkga02(vk: bytes, pan: str, kt: int, sgc: str, ti: int, krn: int) -> bytes:
    x = ref_pan_block(pan, kt) ^ ref_control_block(kt, sgc, ti, krn)
    des = int.from_bytes(ref.ref_des_encrypt(vk, x.to_bytes(8, "big")), "big")
    return (des ^ x ^ int.from_bytes(vk, "big")).to_bytes(8, "big")


def ref_dkga04_message(
    pan: str, kt: int, sgc: str, ti: int, krn: int, base_date: int, ea: str
) -> bytes:
    """SPEC §6.5 table: length-prefixed ASCII fields, KT and KRN as one hex digit."""

    def field(text: str) -> bytes:
        return bytes([len(text)]) + text.encode("ascii")

    labels = field("04") + field(f"{base_date % 100:02d}") + field(ea) + field(f"{ti:02d}")
    context = field(sgc) + field(f"{kt:X}".lower()) + field(f"{krn:x}") + field(pan)
    bits = 128 if ea == "11" else 64
    return b"\x04" + labels + b"\x00" + b"\x04" + context + bits.to_bytes(4, "big")


@DERIVE
@given(
    vk=st.binary(min_size=8, max_size=8),
    pan=pans(),
    kt=st.integers(0, 2),
    sgc=sgcs,
    ti=st.integers(0, 99),
    krn=st.integers(1, 15),
    base=st.sampled_from(BASE_DATES),
    ea=st.sampled_from(["07", "09"]),
)
def test_dkga02_matches_reference(
    vk: bytes, pan: str, kt: int, sgc: str, ti: int, krn: int, base: int, ea: str
) -> None:
    derived = tokens.KeyDerivation(
        dkga="02", vending_key=vk, pan=pan, kt=kt, sgc=sgc, ti=ti, krn=krn, base_date=base, ea=ea
    ).derive()
    assert derived.key == ref_dkga02(vk, pan, kt, sgc, ti, krn)  # base date plays no part
    assert derived.ea == tokens.EncryptionAlgorithm(ea)


def test_dkga02_common_key_uses_the_iin_only_pan_block() -> None:
    vk = bytes.fromhex("abababababababab")
    one = tokens.KeyDerivation(
        dkga="02",
        vending_key=vk,
        pan="600727000000000009",
        kt=3,
        sgc="123456",
        ti=1,
        krn=1,
        base_date=1993,
        ea="07",
    ).derive()
    other = tokens.KeyDerivation(
        dkga="02",
        vending_key=vk,
        pan="600727111111111153",
        kt=3,
        sgc="123456",
        ti=1,
        krn=1,
        base_date=1993,
        ea="07",
    ).derive()
    assert one.key == other.key == ref_dkga02(vk, "600727000000000009", 3, "123456", 1, 1)


@DERIVE
@given(
    vk=st.binary(min_size=20, max_size=20),
    pan=pans(),
    kt=st.integers(0, 3),
    sgc=sgcs,
    ti=st.integers(0, 99),
    krn=st.integers(1, 15),
    base=st.sampled_from(BASE_DATES),
    ea=st.sampled_from(["07", "09", "11"]),
)
def test_dkga04_matches_reference(
    vk: bytes, pan: str, kt: int, sgc: str, ti: int, krn: int, base: int, ea: str
) -> None:
    message = ref_dkga04_message(pan, kt, sgc, ti, krn, int(base), ea)
    assert (
        dkga04_message(pan, kt, sgc, ti, krn, tokens.BaseDate(base), tokens.EncryptionAlgorithm(ea))
        == message
    )
    digest = hmac.new(vk, message, hashlib.sha256).digest()
    derived = tokens.KeyDerivation(
        dkga="04", vending_key=vk, pan=pan, kt=kt, sgc=sgc, ti=ti, krn=krn, base_date=base, ea=ea
    ).derive()
    assert derived.key == digest[: 16 if ea == "11" else 8]


def test_dkga04_spec_worked_message() -> None:
    """SPEC §6.5 worked example, 49 bytes, transcribed from the SPEC text."""
    spec = bytes.fromhex(
        "04 02 3034 02 3933 02 3037 02 3031 00 04 06 313233343537 01 32 01 31 12"
        " 363030373237303030303030303030303039 00000040"
    )
    assert len(spec) == 49
    assert ref_dkga04_message("600727000000000009", 2, "123457", 1, 1, 1993, "07") == spec
    assert (
        dkga04_message(
            "600727000000000009",
            2,
            "123457",
            1,
            1,
            tokens.BaseDate(1993),
            tokens.EncryptionAlgorithm.EA07,
        )
        == spec
    )


@settings(max_examples=300, deadline=None)
@given(
    token_class=st.integers(0, 3), subclass=st.integers(0, 15), payload=st.integers(0, 2**44 - 1)
)
def test_crc_matches_reference(token_class: int, subclass: int, payload: int) -> None:
    currency = uses_crc_c(token_class, subclass)
    assert currency == (token_class == 0 and 4 <= subclass <= 7)
    data = ((token_class << 48) | (subclass << 44) | payload).to_bytes(7, "big")
    if currency:
        data += b"\x01"
    assert crc_register(token_class, subclass, payload, currency=currency) == (
        ref.ref_crc16_modbus(data)
    )
    assert crc_field(token_class, subclass, payload, currency=currency) == ref.ref_crc_field(
        token_class, subclass, payload
    )
    assert tokens.crc.crc16(data) == ref.ref_crc16_modbus(data)
