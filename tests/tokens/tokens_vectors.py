"""Loading of the copied research vectors (tests/vectors/, see SOURCE.md there)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import tokens

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors"
TOKENS_FILE = VECTOR_DIR / "tokens.jsonl"
PRIMITIVES_FILE = VECTOR_DIR / "primitives.jsonl"

Record = dict[str, Any]


@cache
def _read(path: Path) -> tuple[Record, ...]:
    with path.open(encoding="utf-8") as handle:
        return tuple(json.loads(line) for line in handle if line.strip())


def token_vectors() -> tuple[Record, ...]:
    return _read(TOKENS_FILE)


def primitives(kind: str) -> list[Record]:
    return [r for r in _read(PRIMITIVES_FILE) if r["kind"] == kind]


def params(records: list[Record] | tuple[Record, ...]) -> list[Any]:
    """``pytest.param`` per record, with the vector id as the test id."""
    return [pytest.param(r, id=r["id"]) for r in records]


def decoder_key(key: Record) -> tokens.DecoderKey:
    """The decoder key of a vector's ``key`` object (CONTRACT §1: derivation or ready key)."""
    if "decoder_key" in key:
        return tokens.DecoderKey.from_hex(key["decoder_key"], key["ea"])
    return key_derivation(key).derive()


def key_derivation(key: Record) -> tokens.KeyDerivation:
    return tokens.KeyDerivation(
        dkga=key["dkga"],
        vending_key=bytes.fromhex(key["vending_key"]),
        pan=key["pan"],
        kt=key["kt"],
        sgc=key["sgc"],
        ti=key["ti"],
        krn=key["krn"],
        base_date=key["base_date"],
        ea=key["ea"],
    )


def is_kct(record: Record) -> bool:
    return record["class"] == 2 and record["subclass"] in (3, 4, 8, 9)
