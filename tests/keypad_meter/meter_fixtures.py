"""Helpers for the keypad meter tests: vectors, a hand-moved clock, meters, tokens, the CLI.

(A uniquely named module rather than ``conftest`` so that ``from ... import`` can never pick up
another directory's conftest.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import tokens
from keypad_meter import Meter, MeterSpec, manufacture

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO / "tests" / "vectors" / "tokens.jsonl"

# The meter of SPEC §1.3 (NectarAPI CTSA01): DKGA-02, VK abab..., PAN ...009, KT 2, SGC 123456.
PAN = "600727000000000009"
KEY = tokens.DecoderKey.from_hex("e653341f9d5bf36f", "07")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SPEC = MeterSpec(pan=PAN, sgc="123456", ti=1, krn=1, kt=2, ea="07", decoder_key=KEY.hex(),
                 base_date=2014)


class Clock:
    """A clock the test moves by hand (aware UTC)."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@cache
def vectors() -> tuple[dict[str, Any], ...]:
    with VECTORS.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def vector_key(key: dict[str, Any]) -> tokens.DecoderKey:
    if "decoder_key" in key:
        return tokens.DecoderKey.from_hex(key["decoder_key"], key["ea"])
    return tokens.KeyDerivation(
        dkga=key["dkga"], vending_key=bytes.fromhex(key["vending_key"]), pan=key["pan"],
        kt=key["kt"], sgc=key["sgc"], ti=key["ti"], krn=key["krn"],
        base_date=key["base_date"], ea=key["ea"],
    ).derive()


def vector_meter(key: dict[str, Any], now: datetime = T0) -> Meter:
    """A meter manufactured with the key of a vector record."""
    dk = vector_key(key)
    return Meter(manufacture(MeterSpec(
        pan=key.get("pan", PAN), sgc=key.get("sgc", "123456"), ti=key.get("ti", 1),
        krn=key.get("krn", 1), kt=key.get("kt", 2), ea=dk.ea.value, decoder_key=dk.hex(),
        base_date=key.get("base_date", 1993),
    ), now))


def new_meter(now: datetime = T0, **changes: Any) -> Meter:
    return Meter(manufacture(replace(SPEC, **changes), now))


def credit(tid: int, kwh: str = "1", key: tokens.DecoderKey = KEY, rnd: int = 0) -> str:
    """An electricity credit token for the test meter."""
    units = tokens.units_from_quantity(Decimal(kwh))
    return tokens.encode(tokens.TransferCredit(kind=tokens.CreditKind.ELECTRICITY, tid=tid,
                                               units=tokens.round_up_units(units), rnd=rnd), key)


def tid_at(when: datetime, base_date: int = 2014) -> int:
    return tokens.tid_from_datetime(when, base_date)


def run_cli(*args: str, input_text: str | None = None, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    """``python -m keypad_meter ARGS`` as a real subprocess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "keypad_meter", *args], capture_output=True,
                          text=True, input=input_text, timeout=timeout, env=env, cwd=REPO)
