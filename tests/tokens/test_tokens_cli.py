"""``python -m tokens`` as a user runs it: a real subprocess, JSON Lines in and out.

The batch commands are checked against every conformance vector (CONTRACT §1), including the
order of output lines, the error line shape and the exit statuses 0/1/2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tokens_vectors import primitives, token_vectors

ROOT = Path(__file__).resolve().parents[2]
NAMED_FIELDS = {"rnd", "tid", "amount", "se", "control", "mfr_code", "kenho", "krn", "ro",
                "s3kct", "kt", "nkho", "kenlo", "ti", "nklo", "sgclo", "nkmo2", "sgcho", "nkmo1"}


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokens", *args], input=stdin, capture_output=True, text=True,
        cwd=ROOT, timeout=120, check=False,
    )


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_encode_reproduces_every_vector_in_order() -> None:
    records = token_vectors()
    stdin = "".join(
        json.dumps({k: v for k, v in r.items() if k != "token"}) + "\n" for r in records
    )
    result = run(["encode"], stdin)
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    assert [o["id"] for o in out] == [r["id"] for r in records]
    assert [o["token"] for o in out] == [r["token"] for r in records]


def test_decode_gives_back_class_subclass_payload_tid_and_named_fields() -> None:
    records = token_vectors()
    stdin = "".join(
        json.dumps({"id": r["id"], "key": r["key"], "token": r["token"]}) + "\n" for r in records
    )
    result = run(["decode"], stdin)
    assert result.returncode == 0, result.stderr
    for record, out in zip(records, lines(result.stdout), strict=True):
        assert out["id"] == record["id"]
        assert (out["class"], out["subclass"]) == (record["class"], record["subclass"])
        assert out["payload"] == record["payload"].lower()
        assert out.get("tid") == record.get("tid")
        assert set(out["fields"]) <= NAMED_FIELDS
        # the named fields re-encode to the same token
        again = {"id": 1, "key": record["key"], "class": out["class"],
                 "subclass": out["subclass"], **out["fields"]}
        assert out["fields"]  # every defined token has named fields
        record["_again"] = again
    stdin = "".join(json.dumps(r["_again"]) + "\n" for r in records)
    result = run(["encode"], stdin)
    assert result.returncode == 0, result.stderr
    assert [o["token"] for o in lines(result.stdout)] == [r["token"] for r in records]


def test_derive_key_matches_the_dkga_primitive_vectors() -> None:
    cases = primitives("dkga02") + primitives("dkga04")
    assert len(cases) == 13
    years = {"93": 1993, "14": 2014, "35": 2035}
    stdin = ""
    for p in cases:
        key = {"dkga": "02" if p["kind"] == "dkga02" else "04", "vending_key": p["vending_key_hex"],
               "pan": p["pan"], "kt": p["key_type"], "sgc": p["sgc"], "ti": int(p["tariff_index"]),
               "krn": p["krn"], "base_date": years[p.get("base_date_code", "93")],
               "ea": p.get("ea", "07")}
        stdin += json.dumps({"id": p["id"], "key": key}) + "\n"
    result = run(["derive-key"], stdin)
    assert result.returncode == 0, result.stderr
    assert [o["decoder_key"] for o in lines(result.stdout)] == [p["decoder_key_hex"] for p in cases]


def test_a_failed_line_is_reported_in_place_and_the_exit_status_is_1() -> None:
    good = token_vectors()[0]
    wrong_key = dict(good["key"], decoder_key="0123456789abcdef") if "decoder_key" in good[
        "key"] else good["key"]
    stdin = "\n".join([
        json.dumps({"id": "ok", "key": good["key"], "token": good["token"]}),
        "{not json",
        json.dumps({"id": "short", "key": good["key"], "token": "123"}),
        json.dumps({"id": "letters", "key": good["key"], "token": "2371610050118319419x"}),
        json.dumps({"id": "too-big", "key": good["key"], "token": "99999999999999999999"}),
        json.dumps({"id": "crc", "key": wrong_key, "token": good["token"]}),
        json.dumps({"id": "badkey", "key": {"decoder_key": "zz", "ea": "07"},
                    "token": good["token"]}),
        json.dumps({"id": "ok2", "key": good["key"], "token": good["token"]}),
    ]) + "\n"
    result = run(["decode"], stdin)
    assert result.returncode == 1
    out = lines(result.stdout)
    assert [o.get("id") for o in out] == ["ok", None, "short", "letters", "too-big", "crc",
                                          "badkey", "ok2"]
    codes = [o.get("error", {}).get("code") for o in out]
    assert codes == [None, "input_error", "format_error", "format_error", "format_error",
                     "crc_error", "key_error", None]
    assert all(o["error"]["message"] for o in out if "error" in o)
    # the wrong key must not leak into the message
    assert "0123456789abcdef" not in result.stdout.replace(json.dumps(wrong_key), "")


def test_reserved_class_is_a_function_error() -> None:
    # class bits 28..27 = 3 with everything else zero is a 20-digit number of class 3
    token = f"{3 << 27:020d}"
    result = run(["decode"], json.dumps({"id": 1, "key": {"decoder_key": "00" * 8, "ea": "07"},
                                         "token": token}) + "\n")
    assert result.returncode == 1
    assert lines(result.stdout)[0]["error"]["code"] == "function_error"


@pytest.mark.parametrize("args", [["nonsense"], [], ["encode", "--tables", "/nonexistent.json"],
                                  ["--tables", "nope", "encode"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = run(args)
    assert result.returncode == 2
    assert result.stderr


def test_tables_option_selects_the_sample_set_before_or_after_the_command() -> None:
    sample = next(p for p in primitives("sta_block") if p["id"].startswith("sta:sample"))
    record = {"id": "s", "key": {"decoder_key": sample["decoder_key_hex"], "ea": "07"},
              "class": 0, "subclass": 0, "payload": sample["plaintext_block_hex"][1:12]}
    for args in (["--tables", "sample", "encode"], ["encode", "--tables", "sample"]):
        result = run(args, json.dumps(record) + "\n")
        assert result.returncode == 0, result.stderr
        assert lines(result.stdout)[0]["token"] == sample["token"]
    result = run(["encode"], json.dumps(record) + "\n")  # production by default: another token
    assert lines(result.stdout)[0]["token"] != sample["token"]


def test_encode_draws_rnd_when_missing_and_the_token_decodes() -> None:
    key = {"decoder_key": "e653341f9d5bf36f", "ea": "07"}
    stdin = "".join(json.dumps({"id": i, "key": key, "class": 0, "subclass": 0, "tid": 5871715,
                                "amount": 1}) + "\n" for i in range(40))
    result = run(["encode"], stdin)
    assert result.returncode == 0, result.stderr
    tokens_out = [o["token"] for o in lines(result.stdout)]
    decoded = run(["decode"], "".join(json.dumps({"id": 0, "key": key, "token": t}) + "\n"
                                      for t in tokens_out))
    rnds = {o["fields"]["rnd"] for o in lines(decoded.stdout)}
    assert all(o["fields"]["tid"] == 5871715 for o in lines(decoded.stdout))
    assert len(rnds) > 1  # 40 draws of 16 values: all equal has probability 16**-39


def test_describe_credit_and_format_for_a_terminal() -> None:
    result = run(["describe", "2371 6100 5011 8319 4197", "--decoder-key", "e653341f9d5bf36f"])
    assert result.returncode == 0, result.stderr
    assert "TransferCredit" in result.stdout
    assert "tid        5871715" in result.stdout
    assert "2004-03-01T13:55:00+00:00" in result.stdout
    made = run(["credit", "--decoder-key", "e653341f9d5bf36f", "--kwh", "12.34",
                "--at", "2026-11-28T10:00Z", "--base-date", "2014"])
    assert made.returncode == 0, made.stderr
    assert "12.3 kWh" in made.stderr  # rounded down to 0.1 kWh
    digits = made.stdout.strip()
    assert len(digits) == 24 and digits.count(" ") == 4
    shown = run(["describe", digits, "--decoder-key", "e653341f9d5bf36f", "--base-date", "2014"])
    assert "amount     123" in shown.stdout
    assert "2026-11-28T10:00:00+00:00" in shown.stdout
    assert run(["format", "23716100501183194197"]).stdout.strip() == "2371 6100 5011 8319 4197"
    wrong = run(["describe", "2371 6100 5011 8319 4197", "--decoder-key", "0" * 16])
    assert wrong.returncode == 1 and "crc_error" in wrong.stderr
    naive = run(["credit", "--decoder-key", "e653341f9d5bf36f", "--kwh", "1",
                 "--at", "2026-11-28T10:00"])
    assert naive.returncode == 2 and "time zone" in naive.stderr


def test_help_explains_every_flag() -> None:
    for args in (["--help"], ["credit", "--help"], ["describe", "--help"], ["encode", "--help"]):
        result = run(args)
        assert result.returncode == 0
        text = result.stdout
        for flag in [w for w in text.split() if w.startswith("--") and w != "--help"]:
            flag = flag.strip(",[]")
            # every flag shown in the usage has its own explained line
            assert text.count(flag) >= 2, (args, flag)


def test_streaming_output_starts_before_input_ends() -> None:
    """A pipe consumer sees answers while the producer is still writing (no slurping)."""
    key = {"decoder_key": "e653341f9d5bf36f", "ea": "07"}
    line = json.dumps({"id": 1, "key": key, "class": 0, "subclass": 0, "payload": "55998630001"})
    proc = subprocess.Popen([sys.executable, "-m", "tokens", "encode"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for _ in range(600):  # more than one output block of 512 lines
            proc.stdin.write(line + "\n")
        proc.stdin.flush()
        first = proc.stdout.readline()  # blocks until the first block is flushed
        assert json.loads(first)["token"] == "23716100501183194197"
        proc.stdin.close()
        assert len(proc.stdout.readlines()) == 599  # every line answered, in one piece each
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0


def test_a_cached_key_does_not_accept_an_equal_value_of_another_type() -> None:
    """1, 1.0 and true are equal dictionary keys in Python; the key cache must not let a line
    through because an earlier line with an equal key was fine."""
    key = {"dkga": "04", "vending_key": "abababababababab949494949494949401234567",
           "pan": "600727000000000009", "kt": 1, "sgc": "123457", "ti": 1, "krn": 1,
           "base_date": 2014, "ea": "07"}
    record = {"id": 0, "key": key, "class": 2, "subclass": 4, "payload": "00000000000"}
    stdin = ""
    for member, odd in (("kt", 1.0), ("krn", True), ("ti", 1.0)):
        stdin += json.dumps(record) + "\n"
        stdin += json.dumps({**record, "id": member, "key": {**key, member: odd}}) + "\n"
    result = run(["encode"], stdin)
    assert result.returncode == 1
    out = lines(result.stdout)
    assert all("token" in o for o in out[0::2])
    assert [o["error"]["code"] for o in out[1::2]] == ["key_error"] * 3
