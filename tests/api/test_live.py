"""Against a real HTTP server (threaded werkzeug) on a committed database, SQLite and
PostgreSQL: the idempotency race of retrying clients, vendor credit under concurrency, and the
keypad meter posting its readings with its own telemetry code."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from api_helpers import LiveServer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from vending_fixtures import REPO, SGC, decoder_key

import tokens
from vending.models import IssuedToken, Meter, MeterReading, Vend

RACERS = 12


def race(count: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run ``fn(i)`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(i: int) -> Any:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def post(live: LiveServer, who: str, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(live.base_url + path, json=body, timeout=60,
                         headers={"Authorization": f"Bearer {live.world.keys[who]}"})


def count_vends(live: LiveServer, request_id: str) -> int:
    return live.query(lambda s: s.scalar(select(func.count()).select_from(Vend)
                                         .where(Vend.request_id == request_id)))


def test_parallel_identical_requests_make_one_vend(live: LiveServer) -> None:
    number = live.world.meters["current"]
    before = live.credit("bank")
    body = {"meter_number": number, "amount": "20.00", "request_id": "race-1"}
    answers = race(RACERS, lambda _i: post(live, "bank", "/api/v1/vends", body))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * (RACERS - 1) + [201], [r.text for r in answers]
    bodies = [r.json() for r in answers]
    assert all(b == bodies[0] for b in bodies)  # one answer: same vend, same tokens
    assert count_vends(live, "race-1") == 1
    assert live.credit("bank") == before - Decimal("20.00")  # debited once
    token = bodies[0]["tokens"][-1]
    assert tokens.decode(token["token"], decoder_key(number, krn=2)).tid == token["tid"]


def test_racing_requests_with_one_id_and_different_bodies(live: LiveServer) -> None:
    """Same request_id, two bodies (two meters), racing: one vend wins, the other body is 409
    on every attempt, the winner's body gets the winner's answer."""
    meters = [live.world.meters["current"], live.world.meters["second"]]
    before = live.credit("bank")

    def attempt(i: int) -> requests.Response:
        return post(live, "bank", "/api/v1/vends",
                    {"meter_number": meters[i % 2], "amount": "10", "request_id": "race-2"})

    answers = race(RACERS, attempt)
    assert count_vends(live, "race-2") == 1
    winners = [r for r in answers if r.status_code in (200, 201)]
    assert sum(r.status_code == 201 for r in answers) == 1
    won_meter = winners[0].json()["meter_number"]
    for i, r in enumerate(answers):
        if meters[i % 2] == won_meter:
            assert r.status_code in (200, 201) and r.json() == winners[0].json()
        else:
            assert r.status_code == 409 and r.json()["error"]["code"] == "request_id_reused"
    assert live.credit("bank") == before - Decimal("10.00")


def test_concurrent_vends_never_overdraw_the_float(live: LiveServer) -> None:
    """The poor client has 15.00; eight parallel 5.00 vends: exactly three succeed."""
    answers = race(8, lambda i: post(live, "poor", "/api/v1/vends",
                                     {"meter_number": live.world.meters["second"],
                                      "amount": "5", "request_id": f"float-{i}"}))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 3 + [422] * 5
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 422} == {
        "vendor_credit_exhausted"}
    assert live.credit("poor") == Decimal("0.00")
    tids = live.query(lambda s: s.scalar(
        select(func.count(func.distinct(IssuedToken.tid))).join(Vend)
        .where(Vend.request_id.like("float-%"))))
    assert tids == 3


def test_the_keypad_meter_posts_its_readings(live: LiveServer, tmp_path: Path) -> None:
    number = live.world.meters["current"]
    state = tmp_path / "meter.json"
    subprocess.run([sys.executable, "-m", "keypad_meter", "init", "--state", str(state),
                    "--pan", tokens.pan_from_drn(number), "--sgc", SGC, "--ti", "1", "--krn",
                    "2", "--kt", "2", "--ea", "07", "--base-date", "2014"],
                   input=decoder_key(number, 2).hex() + "\n", cwd=REPO, check=True,
                   capture_output=True, text=True, timeout=60)
    sold = post(live, "bank", "/api/v1/vends",
                {"meter_number": number, "amount": "25", "request_id": "meter-1"}).json()
    entered = subprocess.run([sys.executable, "-m", "keypad_meter", "enter", "--state",
                              str(state), "--json", sold["tokens"][-1]["token"]], cwd=REPO,
                             capture_output=True, text=True, timeout=60, check=False)
    assert json.loads(entered.stdout)["result"] == "accept"
    subprocess.run([sys.executable, "-m", "keypad_meter", "consume", "--state", str(state),
                    "--kwh", "1.5"], cwd=REPO, check=True, capture_output=True, timeout=60)
    meter = subprocess.Popen(
        [sys.executable, "-m", "keypad_meter", "serve", "--state", str(state), "--port",
         "loop://", "--report-to", live.base_url, "--report-interval", "0.3"],
        cwd=REPO, env={"STSVEND_METER_API_KEY": live.world.keys["gateway"],
                       "PATH": "/usr/bin:/bin"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stored(session: Session) -> list[tuple[Any, Decimal]]:
        meter_id = session.scalar(select(Meter.id).where(Meter.meter_number == number))
        return [(r.at, r.energy_kwh) for r in session.scalars(
            select(MeterReading).where(MeterReading.meter_id == meter_id)
            .order_by(MeterReading.at))]

    try:
        deadline = time.monotonic() + 30
        readings = live.query(stored)
        while len(readings) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # polling a database for an outside process, with a deadline
            readings = live.query(stored)
    finally:
        meter.terminate()
        _, err = meter.communicate(timeout=30)
    assert len(readings) >= 2, err
    assert all(kwh == Decimal("1.5") for _, kwh in readings)
    assert [at for at, _ in readings] == sorted({at for at, _ in readings})


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/openapi.json"])
def test_live_server_answers(live: LiveServer, path: str) -> None:
    assert requests.get(live.base_url + path, timeout=30).status_code == 200
