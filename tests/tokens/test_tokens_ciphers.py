"""Differential checks of the block ciphers against the independent reference code.

* DES (EA09 and the DKGA-02 primitive) against a FIPS 46-3 DES written in the tests.
* STA (EA07, table-driven in the library) against SPEC §5.3 done bit by bit, both table sets.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tokens_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import tokens
from tokens.des import LegacyDes, des_encrypt
from tokens.misty1 import Misty1
from tokens.sta import Sta, StaTables, load_tables

DIFF = settings(max_examples=120, deadline=None)
blocks = st.integers(0, 2**64 - 1)
keys8 = st.binary(min_size=8, max_size=8)

FIPS_KEY = bytes.fromhex("133457799BBCDFF1")
FIPS_PLAIN = bytes.fromhex("0123456789ABCDEF")
FIPS_CIPHER = bytes.fromhex("85e813540f0ab405")


# ------------------------------------------------------------------------------ DES
def test_reference_des_known_answer() -> None:
    assert ref.ref_des_encrypt(FIPS_KEY, FIPS_PLAIN) == FIPS_CIPHER
    assert ref.ref_des_decrypt(FIPS_KEY, FIPS_CIPHER) == FIPS_PLAIN


def test_des_known_answer() -> None:
    assert des_encrypt(FIPS_KEY, FIPS_PLAIN) == FIPS_CIPHER
    legacy = LegacyDes(FIPS_KEY)
    assert legacy.encrypt_block(int.from_bytes(FIPS_PLAIN, "big")) == int.from_bytes(
        FIPS_CIPHER, "big"
    )
    assert legacy.decrypt_block(int.from_bytes(FIPS_CIPHER, "big")) == int.from_bytes(
        FIPS_PLAIN, "big"
    )


@DIFF
@given(key=keys8, block=st.binary(min_size=8, max_size=8))
def test_des_encrypt_matches_reference(key: bytes, block: bytes) -> None:
    assert des_encrypt(key, block) == ref.ref_des_encrypt(key, block)


@DIFF
@given(key=keys8, block=blocks)
def test_legacy_des_matches_reference(key: bytes, block: int) -> None:
    legacy = LegacyDes(key)
    raw = block.to_bytes(8, "big")
    expected = int.from_bytes(ref.ref_des_encrypt(key, raw), "big")
    assert legacy.encrypt_block(block) == expected
    assert legacy.decrypt_block(block) == int.from_bytes(ref.ref_des_decrypt(key, raw), "big")
    assert legacy.decrypt_block(expected) == block


@DIFF
@given(key=keys8, block=blocks)
def test_ea09_decoder_key_cipher_is_des(key: bytes, block: int) -> None:
    cipher = tokens.DecoderKey(key, "09").cipher()
    expected = ref.ref_des_encrypt(key, block.to_bytes(8, "big"))
    assert cipher.encrypt_block(block) == int.from_bytes(expected, "big")


@pytest.mark.parametrize(
    ("key", "block"),
    [
        (b"\x00" * 7, b"\x00" * 8),
        (b"\x00" * 9, b"\x00" * 8),
        (b"\x00" * 8, b"\x00" * 7),
        (b"", b""),
    ],
)
def test_des_encrypt_sizes(key: bytes, block: bytes) -> None:
    with pytest.raises(tokens.DecoderKeyError):
        des_encrypt(key, block)


@pytest.mark.parametrize("key", [b"\x00" * 7, b"\x00" * 16, "0123456789abcdef", None, 7])
def test_legacy_des_key_checks(key: object) -> None:
    with pytest.raises(tokens.DecoderKeyError):
        LegacyDes(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("block", [-1, 2**64])
def test_block_range_checks(block: int) -> None:
    for cipher in (LegacyDes(FIPS_KEY), Sta(FIPS_KEY), Misty1(bytes(16))):
        with pytest.raises(tokens.RangeError):
            cipher.encrypt_block(block)
        with pytest.raises(tokens.RangeError):
            cipher.decrypt_block(block)


# ------------------------------------------------------------------------------ STA
@pytest.mark.parametrize("table_set", ["production", "sample"])
def test_reference_sta_decrypts_its_encryption(table_set: str) -> None:
    key, block = 0x0123456789ABCDEF, 0xFEDCBA9876543210
    assert ref.ref_sta_decrypt(key, ref.ref_sta_encrypt(key, block, table_set), table_set) == block


@DIFF
@given(key=keys8, block=blocks, table_set=st.sampled_from(["production", "sample"]))
def test_sta_matches_bit_by_bit_reference(key: bytes, block: int, table_set: str) -> None:
    sta = Sta(key, load_tables(table_set))
    k = int.from_bytes(key, "big")
    encrypted = ref.ref_sta_encrypt(k, block, table_set)
    assert sta.encrypt_block(block) == encrypted
    assert sta.decrypt_block(encrypted) == block
    assert sta.decrypt_block(block) == ref.ref_sta_decrypt(k, block, table_set)


@pytest.mark.parametrize("table_set", ["production", "sample"])
@pytest.mark.parametrize("key", [bytes(8), b"\xff" * 8, bytes.fromhex("8000000000000001")])
def test_sta_edge_keys_match_reference(table_set: str, key: bytes) -> None:
    sta = Sta(key, load_tables(table_set))
    k = int.from_bytes(key, "big")
    for block in (0, 2**64 - 1, 0x8000000000000000, 1):
        assert sta.encrypt_block(block) == ref.ref_sta_encrypt(k, block, table_set)
        assert sta.decrypt_block(block) == ref.ref_sta_decrypt(k, block, table_set)


@DIFF
@given(key=keys8, block=blocks)
def test_ea07_decoder_key_cipher_uses_production_tables(key: bytes, block: int) -> None:
    cipher = tokens.DecoderKey(key, "07").cipher()
    assert cipher.encrypt_block(block) == ref.ref_sta_encrypt(
        int.from_bytes(key, "big"), block, "production"
    )


@pytest.mark.parametrize("key", [b"\x00" * 7, b"\x00" * 9, "0123456789abcdef", None])
def test_sta_key_checks(key: object) -> None:
    with pytest.raises(tokens.DecoderKeyError):
        Sta(key)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=blocks)
def test_misty1_round_trip(key: bytes, block: int) -> None:
    misty = Misty1(key)
    encrypted = misty.encrypt_block(block)
    assert 0 <= encrypted < 2**64
    assert misty.decrypt_block(encrypted) == block


# ------------------------------------------------------------------- table files
def _table_doc(table_set: str = "sample", **changes: object) -> dict[str, object]:
    spec = ref.SPEC_TABLES[table_set]
    doc: dict[str, object] = {
        "name": f"copy-of-{table_set}",
        "s1": list(spec["s1"]),
        "s2": list(spec["s2"]),
        "p": list(spec["p"]),
        "fingerprints": dict(ref.SPEC_FINGERPRINTS[table_set]),
    }
    doc.update(changes)
    return doc


def _write(tmp_path: Path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize("table_set", ["production", "sample"])
def test_table_file_by_path_equals_the_builtin_set(tmp_path: Path, table_set: str) -> None:
    path = _write(tmp_path, "tables.json", json.dumps(_table_doc(table_set)))
    tables = load_tables(path)
    assert isinstance(tables, StaTables)
    assert (tables.s1, tables.s2, tables.p) == tuple(
        ref.SPEC_TABLES[table_set][n] for n in ("s1", "s2", "p")
    )
    key = bytes.fromhex("0abc12def3456789")
    assert Sta(key, tables).encrypt_block(0x0B19EB230100C207) == ref.ref_sta_encrypt(
        0x0ABC12DEF3456789, 0x0B19EB230100C207, table_set
    )


_BAD_TABLE_DOCS: dict[str, object] = {
    "s1-short": _table_doc(s1=list(range(15))),
    "s1-long": _table_doc(s1=list(range(17))),
    "s1-repeat": _table_doc(s1=[0, *range(15)]),
    "s1-out-of-range": _table_doc(s1=[*range(15), 16]),
    "s2-not-permutation": _table_doc(s2=[1] * 16),
    "p-short": _table_doc(p=list(range(63))),
    "p-repeat": _table_doc(p=[0, *range(63)]),
    "p-64": _table_doc(p=[*range(1, 64), 64]),
    "p-negative": _table_doc(p=[-1, *range(1, 64)]),
    "p-missing": {k: v for k, v in _table_doc().items() if k != "p"},
    "s1-missing": {k: v for k, v in _table_doc().items() if k != "s1"},
    "s1-not-a-list": _table_doc(s1=5),
    "s1-strings": _table_doc(s1=[str(v) + "x" for v in range(16)]),
    "s1-null": _table_doc(s1=None),
    "s1-objects": _table_doc(s1=[{}] * 16),
    "s1-floats": _table_doc(s1=[v + 0.5 for v in ref.SPEC_TABLES["sample"]["s1"]]),
    "fingerprint-s1": _table_doc(fingerprints={"s1": "0000000000000000"}),
    "fingerprint-p": _table_doc(fingerprints={"p": ref.SPEC_FINGERPRINTS["production"]["p"]}),
    "fingerprint-of-other-set": _table_doc(
        "sample", fingerprints=dict(ref.SPEC_FINGERPRINTS["production"])
    ),
    "array": [1, 2, 3],
    "string": "production",
    "null": None,
    "number": 42,
}


@pytest.mark.parametrize("doc", list(_BAD_TABLE_DOCS.values()), ids=list(_BAD_TABLE_DOCS))
def test_bad_table_documents(tmp_path: Path, doc: object) -> None:
    with pytest.raises(tokens.StsError):
        load_tables(_write(tmp_path, "bad.json", json.dumps(doc)))


_BAD_TABLE_BYTES: dict[str, bytes] = {
    "empty": b"",
    "not-json": b"s1 = [1, 2, 3]",
    "truncated": json.dumps(_table_doc()).encode()[:-10],
    "not-utf8": b"\xff\xfe\x00{",
    "infinity": b'{"s1": [Infinity], "s2": [], "p": []}',
    "nan": b'{"s1": [NaN], "s2": [], "p": []}',
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("content", list(_BAD_TABLE_BYTES.values()), ids=list(_BAD_TABLE_BYTES))
def test_bad_table_files(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(tokens.StsError):
        load_tables(_write(tmp_path, "bad.json", content))


def test_missing_table_file_and_directory(tmp_path: Path) -> None:
    for path in (str(tmp_path / "absent.json"), str(tmp_path)):
        with pytest.raises(tokens.StsError) as caught:
            load_tables(path)
        assert caught.value.code == "table_error"


@pytest.mark.parametrize(
    "name",
    [None, 7, 1.5, b"production", [], ("production",), "", "a\x00b", "PRODUCTION"],
    ids=["None", "int", "float", "bytes", "list", "tuple", "empty", "nul-byte", "upper-case"],
)
def test_load_tables_junk_names(name: object) -> None:
    with pytest.raises(tokens.StsError):
        load_tables(name)  # type: ignore[arg-type]
