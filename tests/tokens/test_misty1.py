"""MISTY1 (RFC 2994, STS EA11): RFC test data, round trips, errors, and the PRE/POST trick."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokens.errors import DecoderKeyError, RangeError
from tokens.misty1 import POST, PRE, S7, S9, Misty1

RFC_KEY = bytes.fromhex("00112233445566778899aabbccddeeff")
RFC_VECTORS = [
    (0x0123456789ABCDEF, 0x8B1DA5F56AB3D07C),
    (0xFEDCBA9876543210, 0x04B68240B13BE95D),
]

keys = st.binary(min_size=16, max_size=16)
blocks = st.integers(min_value=0, max_value=2**64 - 1)
words = st.integers(min_value=0, max_value=0xFFFF)


# --- a deliberately naive MISTY1, written straight from the RFC 2994 pseudo-code ------------


def naive_fi(fi_in: int, fi_key: int) -> int:
    """RFC 2994 FI, step by step, with no table trick."""
    d9 = fi_in >> 7
    d7 = fi_in & 0x7F
    d9 = S9[d9] ^ d7
    d7 = S7[d7] ^ d9
    d7 = d7 & 0x7F
    d7 = d7 ^ (fi_key >> 9)
    d9 = d9 ^ (fi_key & 0x1FF)
    d9 = S9[d9] ^ d7
    return (d7 << 9) | d9


class NaiveMisty1:
    """RFC 2994 section 2 as written: 1-based subkey indices, 32-bit FO/FL on D0/D1."""

    def __init__(self, key: bytes) -> None:
        # K[1..8], K'[1..8]; index 0 unused so the RFC's formulas read unchanged
        self.k = [0] + [int.from_bytes(key[2 * i : 2 * i + 2], "big") for i in range(8)]
        self.kp = [0] + [naive_fi(self.k[i], self.k[i % 8 + 1]) for i in range(1, 9)]

    def _kk(self, i: int) -> int:
        return self.k[(i - 1) % 8 + 1]

    def _kpp(self, i: int) -> int:
        return self.kp[(i - 1) % 8 + 1]

    def fo(self, fo_in: int, i: int) -> int:
        ko = (self._kk(i), self._kk(i + 2), self._kk(i + 7), self._kk(i + 4))
        ki = (self._kpp(i + 5), self._kpp(i + 1), self._kpp(i + 3))
        t0 = fo_in >> 16
        t1 = fo_in & 0xFFFF
        t0 = t0 ^ ko[0]
        t0 = naive_fi(t0, ki[0])
        t0 = t0 ^ t1
        t1 = t1 ^ ko[1]
        t1 = naive_fi(t1, ki[1])
        t1 = t1 ^ t0
        t0 = t0 ^ ko[2]
        t0 = naive_fi(t0, ki[2])
        t0 = t0 ^ t1
        t1 = t1 ^ ko[3]
        return (t1 << 16) | t0

    def _kl(self, i: int) -> tuple[int, int]:
        if i % 2 == 1:
            return self._kk((i + 1) // 2), self._kpp((i + 1) // 2 + 6)
        return self._kpp(i // 2 + 2), self._kk(i // 2 + 4)

    def fl(self, fl_in: int, i: int) -> int:
        kl1, kl2 = self._kl(i)
        d0 = fl_in >> 16
        d1 = fl_in & 0xFFFF
        d1 = d1 ^ (d0 & kl1)
        d0 = d0 ^ (d1 | kl2)
        return (d0 << 16) | d1

    def flinv(self, fl_in: int, i: int) -> int:
        kl1, kl2 = self._kl(i)
        d0 = fl_in >> 16
        d1 = fl_in & 0xFFFF
        d0 = d0 ^ (d1 | kl2)
        d1 = d1 ^ (d0 & kl1)
        return (d0 << 16) | d1

    def encrypt(self, p: int) -> int:
        d0 = p >> 32
        d1 = p & 0xFFFFFFFF
        for i in range(1, 9, 2):
            d0 = self.fl(d0, i)
            d1 = self.fl(d1, i + 1)
            d1 = d1 ^ self.fo(d0, i)
            d0 = d0 ^ self.fo(d1, i + 1)
        d0 = self.fl(d0, 9)
        d1 = self.fl(d1, 10)
        return (d1 << 32) | d0

    def decrypt(self, c: int) -> int:
        d1 = c >> 32
        d0 = c & 0xFFFFFFFF
        d0 = self.flinv(d0, 9)
        d1 = self.flinv(d1, 10)
        for i in range(7, 0, -2):
            d0 = d0 ^ self.fo(d1, i + 1)
            d1 = d1 ^ self.fo(d0, i)
            d0 = self.flinv(d0, i)
            d1 = self.flinv(d1, i + 1)
        return (d0 << 32) | d1


# --- RFC 2994 test data ---------------------------------------------------------------------


@pytest.mark.parametrize(("plain", "cipher"), RFC_VECTORS)
def test_rfc2994_encrypt(plain: int, cipher: int) -> None:
    assert Misty1(RFC_KEY).encrypt_block(plain) == cipher


@pytest.mark.parametrize(("plain", "cipher"), RFC_VECTORS)
def test_rfc2994_decrypt(plain: int, cipher: int) -> None:
    assert Misty1(RFC_KEY).decrypt_block(cipher) == plain


@pytest.mark.parametrize(("plain", "cipher"), RFC_VECTORS)
def test_naive_reference_matches_rfc(plain: int, cipher: int) -> None:
    ref = NaiveMisty1(RFC_KEY)
    assert ref.encrypt(plain) == cipher
    assert ref.decrypt(cipher) == plain


def test_key_accepts_bytes_like() -> None:
    plain, cipher = RFC_VECTORS[0]
    assert Misty1(bytearray(RFC_KEY)).encrypt_block(plain) == cipher
    assert Misty1(memoryview(RFC_KEY)).encrypt_block(plain) == cipher


# --- round trips and agreement with the naive reference -------------------------------------


@given(key=keys, block=blocks)
def test_decrypt_inverts_encrypt(key: bytes, block: int) -> None:
    m = Misty1(key)
    c = m.encrypt_block(block)
    assert 0 <= c < 2**64
    assert m.decrypt_block(c) == block
    assert m.encrypt_block(m.decrypt_block(block)) == block


@given(key=keys, block=blocks)
def test_matches_naive_reference(key: bytes, block: int) -> None:
    m = Misty1(key)
    ref = NaiveMisty1(key)
    assert m.encrypt_block(block) == ref.encrypt(block)
    assert m.decrypt_block(block) == ref.decrypt(block)


@pytest.mark.parametrize("block", [0, 1, 2**63, 2**64 - 1])
def test_edge_blocks_round_trip(block: int) -> None:
    m = Misty1(RFC_KEY)
    assert m.decrypt_block(m.encrypt_block(block)) == block


# --- the PRE/POST table trick ---------------------------------------------------------------


def test_sboxes_are_permutations() -> None:
    assert sorted(S7) == list(range(128))
    assert sorted(S9) == list(range(512))


def test_pre_post_table_shape() -> None:
    assert len(PRE) == len(POST) == 65536
    # both stages are bijections on 16-bit words
    assert sorted(PRE) == list(range(65536))
    assert sorted(POST) == list(range(65536))


@given(x=words, k=words)
def test_pre_post_equals_rfc_fi(x: int, k: int) -> None:
    assert POST[PRE[x] ^ k] == naive_fi(x, k)


@pytest.mark.parametrize("k", [0x0000, 0xFFFF, 0x1234, 0xFE01])
def test_pre_post_equals_rfc_fi_for_every_input(k: int) -> None:
    assert all(POST[PRE[x] ^ k] == naive_fi(x, k) for x in range(65536))


def test_pre_post_equals_rfc_fi_random_pairs() -> None:
    rng = random.Random(2994)
    for _ in range(20_000):
        x = rng.getrandbits(16)
        k = rng.getrandbits(16)
        assert POST[PRE[x] ^ k] == naive_fi(x, k)


# --- errors and secrecy ---------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 8, 15, 17, 24, 32])
def test_wrong_key_length(length: int) -> None:
    key = bytes(range(0xA0, 0xA0 + length))
    with pytest.raises(DecoderKeyError, match="MISTY1 needs a 16-byte key") as info:
        Misty1(key)
    assert isinstance(info.value, ValueError)
    if key:
        assert key.hex() not in str(info.value).lower()


@pytest.mark.parametrize("key", ["00112233445566778899aabbccddeeff", 16, None, [0] * 16])
def test_non_bytes_key(key: object) -> None:
    with pytest.raises(DecoderKeyError):
        Misty1(key)  # type: ignore[arg-type]


def test_repr_hides_key() -> None:
    m = Misty1(RFC_KEY)
    text = repr(m)
    assert text == "Misty1(<key redacted>)"
    assert str(m) == text
    for needle in (RFC_KEY.hex(), RFC_KEY.hex().upper(), repr(RFC_KEY), "0011", "eeff"):
        assert needle not in text


def test_no_instance_dict() -> None:
    m = Misty1(RFC_KEY)
    assert not hasattr(m, "__dict__")
    with pytest.raises(AttributeError):
        m.key = RFC_KEY  # type: ignore[attr-defined]


@pytest.mark.parametrize("block", [-1, -(2**64), 2**64, 2**64 + 1, 2**100])
def test_block_out_of_range(block: int) -> None:
    m = Misty1(RFC_KEY)
    with pytest.raises(RangeError):
        m.encrypt_block(block)
    with pytest.raises(RangeError):
        m.decrypt_block(block)
