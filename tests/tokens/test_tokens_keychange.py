"""Key-change token sets (SPEC §7): the KCT vectors, assembly in any order, sections needed."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokens_strategies import decoder_keys
from tokens_vectors import Record, decoder_key, is_kct, params, token_vectors

import tokens
from tokens.keychange import sections_needed

SECTION_INDEX = {3: 0, 4: 1, 8: 2, 9: 3}
KCT_RECORDS = [r for r in token_vectors() if is_kct(r)]


def set_id(record: Record) -> str:
    """Vectors of one key-change set share an id up to the section suffix."""
    rid = record["id"]
    return rid.rsplit(".kct", 1)[0] if rid.startswith("ed22") else rid.rsplit(":", 1)[0]


SETS: dict[str, list[Record]] = defaultdict(list)
for _record in KCT_RECORDS:
    SETS[set_id(_record)].append(_record)


def new_key_data(records: list[Record]) -> dict[str, Any]:
    """What the set installs, merged from its vectors' source fields (defaults where a section
    is not in the file: they only affect sections that are not checked)."""
    merged: dict[str, Any] = {}
    for record in records:
        merged.update(record["fields_as_in_source"])
    key = bytes.fromhex(merged["new_decoder_key_hex"])
    if "ken_new" in merged:  # Ed 2.2 style: the whole new key data on every section
        nkd = merged["new_key_derivation"]
        wide = len(key) == 16
        return {
            "key": key,
            "kt": nkd["key_type"],
            "krn": merged["krn_new"],
            "ti": int(merged["ti_new"]),
            "ken": merged["ken_new"],
            "ro": bool(merged["rollover_bit"]),
            "sgc": nkd["sgc"] if wide or merged["s3kct_bit"] else None,
        }
    wide = len(key) == 16
    return {  # NectarAPI style: each section carries its own fields
        "key": key,
        "kt": merged.get("kt", 2),
        "krn": merged.get("krn", 1),
        "ti": merged.get("ti", 1),
        "ken": (merged.get("kenho", 15) << 4) | merged.get("kenlo", 15),
        "ro": bool(merged.get("ro", 0)),
        "sgc": merged.get("sgc", "000000") if wide or merged.get("s3kct") else None,
    }


def build(data: dict[str, Any], ea: str | None = None) -> tokens.NewKeyData:
    if ea is None:
        ea = "11" if len(data["key"]) == 16 else "07"
    return tokens.NewKeyData(
        key=tokens.DecoderKey(data["key"], ea),
        kt=data["kt"],
        krn=data["krn"],
        ti=data["ti"],
        ken=data["ken"],
        sgc=data["sgc"],
        ro=data["ro"],
    )


def expected_count(data: dict[str, Any]) -> int:
    if len(data["key"]) == 16:
        return 4
    return 3 if data["sgc"] is not None else 2


@pytest.mark.parametrize("record", params(KCT_RECORDS))
def test_kct_vector_reproduced(record: Record) -> None:
    data = new_key_data(SETS[set_id(record)])
    produced = tokens.key_change_tokens(decoder_key(record["key"]), build(data))
    assert len(produced) == expected_count(data)
    assert produced[SECTION_INDEX[record["subclass"]]] == record["token"]


def _complete_sets() -> list[Any]:
    out = []
    for sid, records in SETS.items():
        data = new_key_data(records)
        subs = sorted(r["subclass"] for r in records)
        if len(subs) == expected_count(data):
            out.append(pytest.param(records, id=sid))
    return out


COMPLETE_SETS = _complete_sets()


def test_there_are_complete_sets_of_every_size() -> None:
    sizes = {expected_count(new_key_data(p.values[0])) for p in COMPLETE_SETS}
    assert sizes == {2, 4}  # the 3-token set is split between two ids, see the triplet test


def _expected_assembly(data: dict[str, Any]) -> tokens.AssembledKey:
    return tokens.AssembledKey(
        key=data["key"],
        kt=tokens.KeyType(data["kt"]),
        krn=data["krn"],
        ti=data["ti"],
        ken=data["ken"],
        ro=data["ro"],
        sgc=data["sgc"],
    )


def _assert_assembles_in_any_order(
    digits: list[str], current: tokens.DecoderKey, expected: tokens.AssembledKey
) -> None:
    sections = [tokens.decode(d, current) for d in digits]
    bits = len(expected.key) * 8
    for order in itertools.permutations(sections):
        assembled = tokens.assemble_key(order, bits)
        assert assembled == expected
        assert assembled.key == expected.key  # key is excluded from repr, not from eq


@pytest.mark.parametrize("records", COMPLETE_SETS)
def test_complete_set_tokens_and_assembly(records: list[Record]) -> None:
    data = new_key_data(records)
    current = decoder_key(records[0]["key"])
    ordered = sorted(records, key=lambda r: SECTION_INDEX[r["subclass"]])
    assert tokens.key_change_tokens(current, build(data)) == [r["token"] for r in ordered]
    _assert_assembles_in_any_order([r["token"] for r in ordered], current, _expected_assembly(data))


def _by_id(rid: str) -> Record:
    (record,) = (r for r in token_vectors() if r["id"] == rid)
    return record


def test_64_bit_pair_spec_example() -> None:
    """SPEC §7: NectarAPI CTSA05 step 1, e653341f9d5bf36f -> 060b8643c59a27f1 (TI 01 -> 02)."""
    first = _by_id("nectar:STS_531_1_0_02_CTSA05:step1CTSA05TestGeneratingFirstSection:0")
    second = _by_id("nectar:STS_531_1_0_02_CTSA05:step1CTSA05TestGeneratingSecondSection:0")
    assert first["key"] == second["key"]
    fs1, fs2 = first["fields_as_in_source"], second["fields_as_in_source"]
    new = tokens.NewKeyData(
        key=tokens.DecoderKey.from_hex(fs1["new_decoder_key_hex"], "07"),
        kt=fs1["kt"],
        krn=fs1["krn"],
        ti=fs2["ti"],
        ken=(fs1["kenho"] << 4) | fs2["kenlo"],
        ro=bool(fs1["ro"]),
    )
    current = decoder_key(first["key"])
    digits = tokens.key_change_tokens(current, new)
    assert digits == [first["token"], second["token"]]
    expected = tokens.AssembledKey(
        key=bytes.fromhex("060b8643c59a27f1"),
        kt=tokens.KeyType(2),
        krn=1,
        ti=2,
        ken=255,
        ro=False,
        sgc=None,
    )
    _assert_assembles_in_any_order(digits, current, expected)


def test_64_bit_triplet_with_sgc() -> None:
    """Ed 2.2 EA07 CTSA05.4: three tokens, S3KCT = 1, the new SGC in the 2/8 section.

    The file keeps back the triplet's 2nd token; SPEC §9.3 gives it (22979178279997208272) and
    it is the file's ed22-ea07:CTSA19.1.kct2 (same current key, new key, TI and KEN).
    """
    kct1, kct3 = _by_id("ed22-ea07:CTSA05.4.kct1"), _by_id("ed22-ea07:CTSA05.4.kct3")
    kct2 = _by_id("ed22-ea07:CTSA19.1.kct2")
    assert kct1["key"] == kct2["key"] == kct3["key"]
    assert (kct1["subclass"], kct2["subclass"], kct3["subclass"]) == (3, 4, 8)
    fs = kct1["fields_as_in_source"]
    assert fs["s3kct_bit"] == 1 and fs["new_decoder_key_hex"] == "7f78cdd220be39b8"
    assert kct2["fields_as_in_source"]["new_decoder_key_hex"] == fs["new_decoder_key_hex"]
    data = new_key_data([kct1, kct3])
    assert data["sgc"] == "201457"
    current = decoder_key(kct1["key"])
    digits = tokens.key_change_tokens(current, build(data))
    assert digits == [kct1["token"], kct2["token"], kct3["token"]]
    assert digits[1] == "22979178279997208272"  # SPEC §9.3
    _assert_assembles_in_any_order(digits, current, _expected_assembly(data))
    third = tokens.decode(kct3["token"], current)
    assert isinstance(third, tokens.KeyChange3)
    assert third.payload() == 0x0312F100000  # SPEC §7: SGC 201457 = 0x0312F1 in bits 43..20


def test_128_bit_quad_spec_example() -> None:
    """SPEC §9.3: Ed 2.2 EA11 CTSA05.1, four tokens (two of them in the file)."""
    kct2, kct4 = _by_id("ed22-ea11:CTSA05.1.kct2"), _by_id("ed22-ea11:CTSA05.1.kct4")
    data = new_key_data([kct2, kct4])
    digits = tokens.key_change_tokens(decoder_key(kct2["key"]), build(data))
    assert digits == [
        "03854447086453451911",
        "02791799436242461152",
        "67118070329353977190",
        "19019128690902932218",
    ]  # the SPEC §9.3 quad; tokens 2 and 4 are also the file's vectors
    assert (digits[1], digits[3]) == (kct2["token"], kct4["token"])


# ------------------------------------------------------------------ any key change
@st.composite
def new_keys(draw: st.DrawFn) -> tokens.NewKeyData:
    kind = draw(st.sampled_from(["64", "64+sgc", "128"]))
    ea = "11" if kind == "128" else draw(st.sampled_from(["07", "09"]))
    sgc = draw(st.text(alphabet="0123456789", min_size=6, max_size=6)) if kind != "64" else None
    return tokens.NewKeyData(
        key=draw(decoder_keys(tokens.EncryptionAlgorithm(ea))),
        kt=draw(st.integers(0, 3)),
        krn=draw(st.integers(1, 15)),
        ti=draw(st.integers(0, 99)),
        ken=draw(st.integers(0, 255)),
        sgc=sgc,
        ro=draw(st.booleans()),
    )


@settings(max_examples=80, deadline=None)
@given(current=decoder_keys(), new=new_keys(), seed=st.integers(0, 2**32))
def test_key_change_round_trip_any_order(
    current: tokens.DecoderKey, new: tokens.NewKeyData, seed: int
) -> None:
    digits = tokens.key_change_tokens(current, new)
    wide = new.key.ea is tokens.EncryptionAlgorithm.EA11
    assert len(digits) == (4 if wide else 3 if new.sgc is not None else 2)
    sections = [tokens.decode(d, current) for d in digits]
    assert [s.subclass for s in sections] == [3, 4, 8, 9][: len(digits)]
    assert all(s.token_class == 2 for s in sections)
    first = sections[0]
    assert isinstance(first, tokens.KeyChange1)
    assert first.s3kct == (0 if wide else int(new.sgc is not None))
    random.Random(seed).shuffle(sections)
    assembled = tokens.assemble_key(sections, 128 if wide else 64)
    assert assembled.key == new.key.key
    assert (assembled.kt, assembled.krn, assembled.ti, assembled.ken, assembled.ro) == (
        new.kt,
        new.krn,
        new.ti,
        new.ken,
        new.ro,
    )
    assert assembled.sgc == new.sgc
    for missing in range(len(sections)):  # any section missing: incomplete
        with pytest.raises(tokens.RangeError):
            tokens.assemble_key(sections[:missing] + sections[missing + 1 :], 128 if wide else 64)


def test_sections_needed() -> None:
    with_sgc = tokens.KeyChange1(kenho=15, krn=1, ro=0, s3kct=1, kt=2, nkho=0)
    without = tokens.KeyChange1(kenho=15, krn=1, ro=0, s3kct=0, kt=2, nkho=0)
    assert sections_needed(None, 128) == {3, 4, 8, 9}
    assert sections_needed(without, 128) == {3, 4, 8, 9}
    assert sections_needed(with_sgc, 128) == {3, 4, 8, 9}
    assert sections_needed(None, 64) == {3, 4}
    assert sections_needed(without, 64) == {3, 4}
    assert sections_needed(with_sgc, 64) == {3, 4, 8}


def test_64_bit_with_sgc_needs_the_third_section() -> None:
    first = tokens.KeyChange1(kenho=15, krn=1, ro=0, s3kct=1, kt=2, nkho=0x7F78CDD2)
    second = tokens.KeyChange2(kenlo=15, ti=2, nklo=0x20BE39B8)
    with pytest.raises(tokens.RangeError):
        tokens.assemble_key([first, second], 64)
    third = tokens.KeyChange3(sgclo=0x031, nkmo2=0x2F1 << 20)
    assembled = tokens.assemble_key([third, second, first], 64)
    assert assembled.sgc == "201457"
    assert assembled.key == bytes.fromhex("7f78cdd220be39b8")


@pytest.mark.parametrize(
    "changes",
    [
        {"krn": 16},
        {"krn": -1},
        {"ti": 256},
        {"ken": 256},
        {"ken": -1},
        {"krn": True},
        {"ti": 1.0},
        {"kt": 4},
        {"sgc": "12345"},
        {"sgc": "1234567"},
        {"sgc": "12345a"},
    ],
    ids=str,
)
def test_new_key_data_validation(changes: dict[str, object]) -> None:
    args: dict[str, Any] = {"key": tokens.DecoderKey(bytes(8), "07"), "kt": 2, "krn": 1, "ti": 1}
    tokens.NewKeyData(**args)  # valid as is
    with pytest.raises(tokens.StsError):
        tokens.NewKeyData(**{**args, **changes})


def test_128_bit_key_change_needs_the_sgc() -> None:
    with pytest.raises(tokens.DecoderKeyError):
        tokens.NewKeyData(key=tokens.DecoderKey(bytes(16), "11"), kt=2, krn=1, ti=1)


def test_assembled_sgc_beyond_six_digits_is_refused() -> None:
    """SGCHO/SGCLO hold 24 bits, an SGC only 6 decimal digits: 0xFFFFFF is not an SGC."""
    sections = [
        tokens.KeyChange1(kenho=15, krn=1, ro=0, s3kct=0, kt=2, nkho=0),
        tokens.KeyChange2(kenlo=15, ti=1, nklo=0),
        tokens.KeyChange3(sgclo=0xFFF, nkmo2=0),
        tokens.KeyChange4(sgcho=0xFFF, nkmo1=0),
    ]
    try:
        assembled = tokens.assemble_key(sections, 128)
    except tokens.StsError:
        return
    assert assembled.sgc is not None
    assert len(assembled.sgc) == 6, f"assembled an impossible SGC {assembled.sgc!r}"


@pytest.mark.parametrize(("krn", "ti"), [(0, 1), (16, 1), (1, 100), (1, 255)])
def test_new_key_data_refuses_krn_and_ti_that_no_dkga_derives(krn: int, ti: int) -> None:
    key = tokens.DecoderKey(bytes(8), tokens.EncryptionAlgorithm.EA07)
    with pytest.raises(tokens.RangeError):
        tokens.NewKeyData(key=key, kt=2, krn=krn, ti=ti)
