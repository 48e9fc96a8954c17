"""The bulk-encoding fast paths give exactly what the general code gives.

* ``python -m tokens encode`` answers lines of the common shape through
  :class:`tokens.fastpath.FastEncoder`; every other line, and every line that fails, goes
  through the general path. Both paths must write the same text and the same exit status for
  any input: records of every shape, near misses of the fast shape and plain junk.
* The table-driven CRC field, the Luhn check of a PAN and the HMAC of DKGA-04 (from cached
  pad states) against their plain definitions.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokens_strategies import luhn_digit, pans
from tokens_vectors import token_vectors

import tokens
from tokens.cli import encode_line, run_batch
from tokens.crc import crc_register
from tokens.fastpath import FastEncoder
from tokens.identifiers import luhn_check_digit, luhn_is_valid, validate_pan
from tokens.keys import dkga04_message
from tokens.sta import load_tables

TABLES = load_tables()
SAME = settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
VK04 = "abababababababab949494949494949401234567"


def run(lines: list[str], *, fast: bool) -> tuple[str, int]:
    out = io.StringIO()
    status = run_batch(encode_line, lines, out, TABLES, fast_path=fast)
    return out.getvalue(), status


def assert_same(lines: list[str]) -> None:
    assert run(lines, fast=True) == run(lines, fast=False)


# ----------------------------------------------------------------------------- records
hex_text = st.text(alphabet="0123456789abcdefABCDEF", max_size=44)
digit_text = st.text(alphabet="0123456789", min_size=0, max_size=20)
odd_values = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**20), 10**20), st.text(max_size=8), digit_text,
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers()),
)


def sometimes(draw: st.DrawFn, good: st.SearchStrategy, bad: st.SearchStrategy) -> object:
    """Mostly a value the fast path takes, sometimes an odd one."""
    return draw(bad) if draw(st.integers(0, 9)) == 0 else draw(good)


def clean_or(draw: st.DrawFn, clean: bool, good: st.SearchStrategy,
             bad: st.SearchStrategy) -> object:
    return draw(good) if clean else sometimes(draw, good, bad)


@st.composite
def ready_keys(draw: st.DrawFn, clean: bool) -> dict[str, object]:
    ea = clean_or(draw, clean, st.sampled_from(["07", "09", "11"]),
                  st.sampled_from(["7", 7, "12"]))
    size = 16 if ea == "11" else 8
    if not clean:
        size = draw(st.sampled_from([size, size, 8, 16, 7, 9]))
    key = draw(st.binary(min_size=size, max_size=size)).hex()
    if draw(st.booleans()):
        key = key.upper()
    return {"decoder_key": clean_or(draw, clean, st.just(key), st.one_of(hex_text, odd_values)),
            "ea": ea}


@st.composite
def derivations(draw: st.DrawFn, clean: bool) -> dict[str, object]:
    dkga = clean_or(draw, clean, st.sampled_from(["02", "04"]), st.sampled_from(["2", 4, "03"]))
    eas = ["07", "09"] if dkga == "02" else ["07", "09", "11"]
    ea = clean_or(draw, clean, st.sampled_from(eas), st.sampled_from(["7", 11, "11"]))
    vk_size = 8 if dkga == "02" else 20
    if not clean:
        vk_size = draw(st.sampled_from([vk_size, vk_size, 8, 20, 16]))
    vending_key = draw(st.binary(min_size=vk_size, max_size=vk_size)).hex()
    if draw(st.booleans()):
        vending_key = vending_key.upper()
    pan = draw(pans())
    if not clean and draw(st.integers(0, 5)) == 0:  # a wrong check digit
        pan = pan[:-1] + str((int(pan[-1]) + 1) % 10)
    return {
        "dkga": dkga,
        "vending_key": clean_or(draw, clean, st.just(vending_key), hex_text),
        "pan": clean_or(draw, clean, st.just(pan), digit_text),
        "kt": clean_or(draw, clean, st.integers(0, 3), st.sampled_from([4, "2", -1, 2.0])),
        "sgc": clean_or(draw, clean, st.text(alphabet="0123456789", min_size=6, max_size=6),
                        st.one_of(digit_text, st.integers(0, 10**7))),
        "ti": clean_or(draw, clean, st.integers(0, 99), st.sampled_from([100, "1", -1, "01"])),
        "krn": clean_or(draw, clean, st.integers(1, 15), st.sampled_from([0, 16, "1", True])),
        "base_date": clean_or(draw, clean, st.sampled_from([1993, 2014, 2035]),
                              st.sampled_from([14, "2014", 2000, "93"])),
        "ea": ea,
    }


clean_ids = st.one_of(
    st.integers(0, 10**6), st.integers(-(10**18) + 1, 10**18 - 1),
    st.text(st.characters(blacklist_characters='"\\', blacklist_categories=("Cc", "Cs")),
            max_size=12),
)
ids = st.one_of(
    clean_ids, st.integers(-(10**25), 10**25),
    st.text(max_size=12),  # quotes, backslashes, control and non-ASCII characters
    st.sampled_from(["", "a\"b", "a\\b", "\x00", "\x7f", "\u2028", "é", "\ud800"]),
    st.none(), st.booleans(), st.floats(allow_nan=False),
)
DEFINED = sorted(tokens.codec.LAYOUTS)


@st.composite
def records(draw: st.DrawFn, clean: bool) -> dict[str, object]:
    token_class, subclass = draw(st.sampled_from(DEFINED))
    payload = f"{draw(st.integers(0, 2**44 - 1)):011x}"
    record: dict[str, object] = {
        "id": draw(clean_ids if clean else ids),
        "key": draw(st.one_of(ready_keys(clean), derivations(clean)) if clean
                    else st.one_of(ready_keys(clean), derivations(clean), odd_values)),
        "class": clean_or(draw, clean, st.just(token_class), st.sampled_from([3, 4, -1, "0"])),
        "subclass": clean_or(draw, clean, st.just(subclass), st.sampled_from([16, "0", 0.0])),
        "payload": clean_or(draw, clean, st.sampled_from([payload, payload.upper()]),
                            st.one_of(hex_text, st.integers(0, 2**44))),
    }
    if clean:
        return record
    if draw(st.integers(0, 9)) == 0:
        record.pop(draw(st.sampled_from(sorted(record))))
    if draw(st.integers(0, 9)) == 0:
        record[draw(st.sampled_from(["rnd", "tid", "amount", "extra"]))] = draw(st.integers(0, 9))
    if draw(st.integers(0, 9)) == 0:  # members in another order
        items = list(record.items())
        random.Random(draw(st.integers())).shuffle(items)
        record = dict(items)
    return record


@st.composite
def record_lines(draw: st.DrawFn, clean: bool | None = None) -> str:
    """One JSON record as a line; ``clean`` ones have the fast shape (None: either)."""
    clean = draw(st.booleans()) if clean is None else clean
    record = draw(records(clean))
    style = draw(st.sampled_from(["default", "compact", "spaced", "indent", "ascii"]))
    if style == "compact":
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    elif style == "spaced":
        text = json.dumps(record, separators=(" , ", " :\t"), ensure_ascii=False)
    elif style == "indent":  # a JSON record spread over "lines" with \r and tabs (still one line)
        text = json.dumps(record, indent="\t", ensure_ascii=False).replace("\n", "\r")
    elif style == "ascii" and not clean:
        text = json.dumps(record)  # \uXXXX escapes
    else:
        text = json.dumps(record, ensure_ascii=False)
    return draw(st.sampled_from(["", " ", "\t", "\n"])) + text + draw(
        st.sampled_from(["\n", "", " \n", "\r\n"])
    )


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A fast-shape line with a few characters replaced, inserted or deleted."""
    chars = list(draw(record_lines(clean=True)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(chars)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.sampled_from(list('{}[]",: 0123456789abcdefxX-+.eE\\\t\n\x00é')))
        if action == "insert":
            chars.insert(at, char)
        elif at < len(chars):
            if action == "replace":
                chars[at] = char
            else:
                del chars[at]
    return "".join(chars)


# Raw value texts that json.dumps never writes: non-canonical numbers, invalid JSON, strings
# with raw control characters or escapes, other digit scripts, huge numbers.
RAW_VALUES = [
    "007", "-0", "00", "01", "1.0", "1e3", "1E0", "+1", "0x1", "-", "--1", "1_0", "\u0661",
    "\uff19", "true", "false", "null", "[]", "{}", "[1]", '"1"', '"01"', '"0"', '""', '"a\x01b"',
    '"a\tb"', '"a\nb"', '"\\u0041"', '"\\""', '"\\\\"', '"e9"', '"07 "', '" 07"', '"7"', "7",
    "18446744073709551616", "9" * 19, "-" + "9" * 18, "0" * 18, '"' + "0" * 18 + '"', "1993.0",
    '"abababababababab"', '"ABABABABABABABAB"', "'07'", "NaN", "Infinity", "-Infinity",
]
_VALUE = re.compile(r'(?<=": )("[^"\\]*"|[^,{}\s"]+)')


def near_values(value: str) -> list[str]:
    """Texts next to a value's own text: the same number or string written another way, one
    more or one less digit or character, the number as a string and the string unquoted."""
    if value.startswith('"'):
        inner = value[1:-1]
        escaped = f"\\u{ord(inner[0]):04x}{inner[1:]}" if inner else "\\u0030"
        return [f'"0{inner}"', f'"{inner[1:]}"', f'"{inner}0"', inner or "0", f'"{inner} "',
                f'" {inner}"', f'"{inner.upper()}"', f'"{escaped}"', f'"{inner}\x7f"']
    return [f"0{value}", f"{value}.0", f"{value}e0", f"+{value}", f"-{value}", f'"{value}"',
            f"{value}0", value[:-1] or "0", str(int(value) + 1), str(int(value) - 1)]


@st.composite
def raw_value_lines(draw: st.DrawFn) -> str:
    """A fast-shape line with one member's value text replaced by a near or a raw text."""
    text = json.dumps(draw(records(clean=True)), ensure_ascii=False)
    spans = [m.span() for m in _VALUE.finditer(text)]
    start, end = draw(st.sampled_from(spans))
    value = text[start:end]
    variants = near_values(value) if draw(st.integers(0, 3)) else RAW_VALUES
    return text[:start] + draw(st.sampled_from(variants)) + text[end:] + "\n"


@SAME
@given(st.lists(record_lines(), min_size=1, max_size=4))
def test_fast_and_general_paths_write_the_same_lines(lines: list[str]) -> None:
    assert_same(lines)


@settings(SAME, max_examples=800)
@given(st.lists(st.one_of(mutated(), raw_value_lines(), st.text(max_size=40)), min_size=1,
                max_size=4))
def test_fast_and_general_paths_agree_on_near_misses_and_junk(lines: list[str]) -> None:
    assert_same(lines)


def _base_records() -> list[dict[str, object]]:
    body = "600727" + "12345678901"
    pan = body + luhn_digit(body)
    records = []
    for n, (ti, krn, kt, record_id) in enumerate(
        [(0, 1, 0, 0), (5, 15, 2, -7), (12, 9, 3, "x"), (99, 1, 1, 123)]
    ):
        derivation = {"dkga": "04", "vending_key": VK04, "pan": pan, "kt": kt,
                      "sgc": "123457", "ti": ti, "krn": krn, "base_date": 2014, "ea": "07"}
        ready = {"decoder_key": "e653341f9d5bf36f", "ea": "07"}
        for key in (derivation, ready):
            records.append({"id": record_id, "key": key, "class": [0, 2, 2, 1][n],
                            "subclass": [0, 1, 4, 0][n], "payload": "04c4b400001"})
    return records


def test_every_value_written_another_way_gets_the_general_answer() -> None:
    """Each value of a few fast-shape records, in turn, replaced by every near and raw text."""
    lines = []
    for record in _base_records():
        text = json.dumps(record)
        for match in _VALUE.finditer(text):
            start, end = match.span()
            for variant in near_values(match.group()) + RAW_VALUES:
                lines.append(text[:start] + variant + text[end:] + "\n")
    assert len(lines) > 1000
    fast_out, fast_status = run(lines, fast=True)
    general_out, general_status = run(lines, fast=False)
    for line, fast, general in zip(
        lines, fast_out.splitlines(), general_out.splitlines(), strict=True
    ):
        assert fast == general, line
    assert fast_status == general_status


# ---------------------------------------------------------------------- the common shapes
def _bench_lines() -> list[str]:
    lines = []
    for i in range(40):
        body = "600727" + f"{i:011d}"
        derivation = {"dkga": "04", "vending_key": VK04, "pan": body + luhn_digit(body),
                      "kt": 2, "sgc": "123457", "ti": 1, "krn": 1, "base_date": 2014, "ea": "07"}
        ready = [{"decoder_key": "e653341f9d5bf36f", "ea": "07"},
                 {"decoder_key": "f94b6ed353c3bfdb113e2d3a7ea3c41d", "ea": "11"}][i % 2]
        record = {"id": i, "key": derivation if i % 3 else ready, "class": 0, "subclass": 0,
                  "payload": f"{i % 16:x}4c4b{i:02x}0001"}
        separators = (",", ":") if i % 4 == 0 else None
        lines.append(json.dumps(record, separators=separators) + "\n")
    return lines


def test_the_benchmark_and_compact_shapes_take_the_fast_path() -> None:
    fast = FastEncoder(TABLES)
    lines = _bench_lines()
    assert all(fast(line) is not None for line in lines)
    assert_same(lines)


def test_every_conformance_vector_gives_the_same_answer_on_both_paths() -> None:
    lines = [
        json.dumps({k: v for k, v in r.items() if k != "token"}) + "\n" for r in token_vectors()
    ]
    out, status = run(lines, fast=True)
    assert status == 0
    assert [json.loads(o)["token"] for o in out.splitlines()] == [
        r["token"] for r in token_vectors()
    ]
    assert (out, status) == run(lines, fast=False)


@pytest.mark.parametrize(
    "change",
    [
        {"pan": "600727000000000018"},  # wrong check digit
        {"vending_key": "abab"},  # wrong length
        {"dkga": "02", "ea": "11"},  # EA11 from DKGA-02
        {"class": 3},  # reserved
        {"subclass": 15},  # not defined
        {"ea": "11", "decoder_key": "e653341f9d5bf36f"},  # 64-bit key for EA11
    ],
)
def test_failing_fast_shape_lines_get_the_general_error(change: dict[str, object]) -> None:
    body = "600727" + "00000000000"
    key: dict[str, object] = {"dkga": "04", "vending_key": VK04, "pan": body + luhn_digit(body),
                              "kt": 2, "sgc": "123457", "ti": 1, "krn": 1, "base_date": 2014,
                              "ea": "07"}
    if "decoder_key" in change:
        key = {"decoder_key": change["decoder_key"], "ea": change["ea"]}
    else:
        key.update({k: v for k, v in change.items() if k in key})
    record = {"id": 5, "key": key, "class": change.get("class", 0),
              "subclass": change.get("subclass", 0), "payload": "04c4b400001"}
    line = json.dumps(record) + "\n"
    assert FastEncoder(TABLES)(line) is None
    out, status = run([line], fast=True)
    assert status == 1 and "error" in json.loads(out)
    assert (out, status) == run([line], fast=False)
    assert VK04 not in out and "e653341f9d5bf36f" not in out


# ----------------------------------------------------------------- table-driven helpers
@settings(max_examples=300, deadline=None)
@given(token_class=st.integers(0, 3), subclass=st.integers(0, 15),
       payload=st.integers(0, 2**44 - 1), currency=st.booleans())
def test_crc_field_tables_match_the_crc_register(
    token_class: int, subclass: int, payload: int, currency: bool
) -> None:
    register = crc_register(token_class, subclass, payload, currency=currency)
    expected = ((register & 0xFF) << 8) | (register >> 8)
    assert tokens.crc.crc_field(token_class, subclass, payload, currency=currency) == expected


@settings(max_examples=300, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=2, max_size=24))
def test_luhn_check_matches_the_check_digit_definition(digits: str) -> None:
    assert luhn_is_valid(digits) == (luhn_check_digit(digits[:-1]) == digits[-1])
    assert luhn_is_valid(digits) == (luhn_digit(digits[:-1]) == digits[-1])
    if len(digits) == 18:
        if luhn_is_valid(digits):
            assert validate_pan(digits) == digits
        else:
            with pytest.raises(tokens.CheckDigitError):
                validate_pan(digits)


@settings(max_examples=100, deadline=None)
@given(vending_key=st.binary(min_size=0, max_size=100), pan=pans(),
       ea=st.sampled_from(list(tokens.EncryptionAlgorithm)))
def test_dkga04_from_cached_hmac_states_is_hmac_sha256(
    vending_key: bytes, pan: str, ea: tokens.EncryptionAlgorithm
) -> None:
    message = dkga04_message(pan, 2, "123456", 1, 1, tokens.BaseDate.Y2014, ea)
    expected = hmac.digest(vending_key, message, hashlib.sha256)[: ea.key_length]
    args = (vending_key, pan, 2, "123456", 1, 1, tokens.BaseDate.Y2014, ea)
    # the bulk path (CLI) starts from cached pad states; the plain one keeps nothing
    assert tokens.keys._dkga04_bulk(*args) == expected
    assert tokens.keys.dkga04(*args) == expected


def test_the_vending_servers_derivation_keeps_no_vending_key() -> None:
    """KeyDerivation.derive (the vending server's security module) must not leave the
    vending key in the bulk path's cache of HMAC states."""
    tokens.keys._hmac_sha256_states.cache_clear()
    vending_key = bytes(range(20))
    derivation = tokens.KeyDerivation(
        dkga=tokens.Dkga.DKGA04, vending_key=vending_key, pan="600727000000000009",
        kt=tokens.KeyType.DUTK, sgc="123456", ti=1, krn=1, base_date=tokens.BaseDate.Y2014,
        ea=tokens.EncryptionAlgorithm.EA07)
    assert derivation.derive() == tokens.derive_key("04", vending_key, "600727000000000009",
                                                    2, "123456", 1, 1, 2014, "07")
    assert tokens.keys._hmac_sha256_states.cache_info().currsize == 1  # derive_key's only
    tokens.keys._hmac_sha256_states.cache_clear()
    derivation.derive()
    assert tokens.keys._hmac_sha256_states.cache_info().currsize == 0

