"""The server's tokens typed into the keypad meter (``python -m keypad_meter``, CONTRACT §2),
run as a subprocess: the other end of every token sold. The meter is manufactured with the
decoder key the test derives itself from the vending key; the server never hands it out."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from vending_fixtures import ADMIN, CLERK, REPO, SGC, TestWorld, decoder_key

import tokens
from vending.services import ServiceContext, engineering_token, vend

# The meter sees only tokens; which database the server used does not change them, and the
# other tests cover both databases. SQLite keeps these subprocess-heavy tests short.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def meter_cli(*args: str, stdin: str | None = None) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "keypad_meter", *args, "--json"], cwd=REPO,
                            input=stdin, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def manufacture(state: Path, number: str, krn: int, base_date: int) -> None:
    code, _ = meter_cli("init", "--state", str(state), "--pan", tokens.pan_from_drn(number),
                        "--sgc", SGC, "--ti", "1", "--krn", str(krn), "--kt", "2", "--ea", "07",
                        "--base-date", str(base_date), "--manufactured-at",
                        "2016-01-01T00:00:00+00:00" if base_date == 2014
                        else "2010-01-01T00:00:00+00:00",
                        stdin=decoder_key(number, krn).hex() + "\n")
    assert code == 0


def enter(state: Path, token: str) -> str:
    code, answer = meter_cli("enter", "--state", str(state), token)
    assert code == (0 if answer["result"] in ("accept", "kct_pending", "key_changed") else 1)
    return answer["result"]


def test_a_rolled_over_meter_takes_its_key_change_and_credit(
        ctx: ServiceContext, world: TestWorld, tmp_path: Path) -> None:
    state = tmp_path / "legacy.json"
    number = world.meters["legacy"]
    manufacture(state, number, krn=1, base_date=1993)
    answer = vend(ctx, meter_number=number, amount="100", request_id="km1", actor=CLERK)
    results = [enter(state, t.token) for t in answer.tokens]
    assert results == ["kct_pending", "key_changed", "accept"]
    _, status = meter_cli("status", "--state", str(state))
    assert Decimal(status["credit_kwh"]) == answer.units_kwh == Decimal("40.0")
    assert (status["krn"], status["relay"]) == (2, "closed")
    assert enter(state, answer.tokens[-1].token) == "used"  # a token works once
    limit = engineering_token(ctx, meter_number=number, kind="set_power_limit",
                              params={"watts": 3000}, request_id="km2", actor=ADMIN)
    assert enter(state, limit.tokens[0].token) == "accept"
    _, status = meter_cli("status", "--state", str(state))
    assert status["max_power_w"] == 3000


def test_consecutive_vends_in_one_minute_are_all_accepted(
        ctx: ServiceContext, world: TestWorld, tmp_path: Path) -> None:
    state = tmp_path / "current.json"
    number = world.meters["current"]
    manufacture(state, number, krn=2, base_date=2014)
    answers = [vend(ctx, meter_number=number, amount=amount, request_id=f"m{i}", actor=CLERK)
               for i, amount in enumerate(["10", "20", "30.50"])]
    assert [enter(state, a.tokens[0].token) for a in answers] == ["accept"] * 3
    _, status = meter_cli("status", "--state", str(state))
    assert Decimal(status["credit_kwh"]) == sum(a.units_kwh for a in answers)
