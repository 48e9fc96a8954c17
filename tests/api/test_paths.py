"""Every path of ``/api/v1`` doing its job, through the Flask test client on SQLite and
PostgreSQL: answers, decimal strings and UTC times, exactly-once replays, vendor credit
debited once and credited back on reversal, ownership of vends."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import ApiWorld
from flask.testing import FlaskClient
from sqlalchemy import func, select
from vending_fixtures import FixedClock, decoder_key

import tokens
from vending.models import Vend
from vending.services import ServiceContext

MONEY = re.compile(r"[0-9]+\.[0-9]{2}")


def vend_count(ctx: ServiceContext) -> int:
    try:
        return int(ctx.session.scalar(select(func.count()).select_from(Vend)) or 0)
    finally:
        ctx.session.rollback()


def post_vend(client: FlaskClient, world: ApiWorld, who: str = "bank", **body: Any) -> Any:
    body.setdefault("meter_number", world.meters["current"])
    body.setdefault("amount", "50.00")
    body.setdefault("request_id", "req-1")
    return client.post("/api/v1/vends", json=body, headers=world.auth(who))


def assert_utc(text: str) -> None:
    at = datetime.fromisoformat(text)
    assert at.utcoffset() is not None and at.utcoffset().total_seconds() == 0


def test_meter_lookup_confirms_the_customer(client: FlaskClient, world: ApiWorld) -> None:
    number = world.meters["current"]
    r = client.get(f"/api/v1/meters/{number}", headers=world.auth("bank"))
    assert r.status_code == 200
    assert r.json == {"meter_number": number, "can_vend": True, "currency": "ZAR",
                      "customer": {"name": "Customer A", "address": "A Street",
                                   "account": "ACC-A"},
                      "key_change_due": False, "min_amount": "1.00", "max_amount": "10000.00",
                      "status": "active", "sgc": "654321", "krn": 2, "ti": 1, "tariff": "RES"}
    assert r.headers["Cache-Control"] == "no-store"
    legacy = client.get(f"/api/v1/meters/{world.meters['legacy']}", headers=world.auth("bank"))
    assert legacy.json["key_change_due"] is True and legacy.json["can_vend"] is True


def test_trial_vend_consumes_nothing(client: FlaskClient, world: ApiWorld,
                                     ctx: ServiceContext) -> None:
    r = client.post("/api/v1/vends/trial", headers=world.auth("bank"),
                    json={"meter_number": world.meters["current"], "amount": "25"})
    assert r.status_code == 200
    body = r.json
    assert (body["vend_id"], body["receipt_no"], body["tokens"]) == (None, None, [])
    assert (body["amount"], body["units"], body["status"], body["currency"]) == (
        "25.00", "10.0", "trial", "ZAR")
    assert body["breakdown"][0]["amount"] == "25.00"
    assert vend_count(ctx) == 0
    assert world.credit("bank") == Decimal("1000.00")


def test_vend_issues_a_token_the_meter_accepts_and_debits_the_float(
        client: FlaskClient, world: ApiWorld, ctx: ServiceContext) -> None:
    r = post_vend(client, world, amount="50")
    assert r.status_code == 201
    body = r.json
    assert MONEY.fullmatch(body["amount"]) and body["amount"] == "50.00"
    assert body["units"] == "20.0" and body["status"] == "issued" and body["kind"] == "credit"
    assert_utc(body["created_at"])
    [token] = body["tokens"]
    assert token["type"] == "credit" and re.fullmatch(r"[0-9]{20}", token["token"])
    decoded = tokens.decode(token["token"], decoder_key(world.meters["current"], krn=2))
    assert decoded.tid == token["tid"]
    assert world.credit("bank") == Decimal("950.00")
    assert vend_count(ctx) == 1


def test_a_repeated_request_returns_the_one_vend_without_a_second_debit(
        client: FlaskClient, world: ApiWorld, ctx: ServiceContext) -> None:
    first = post_vend(client, world, amount="50")
    again = post_vend(client, world, amount="50.0")  # the same amount, written differently
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert vend_count(ctx) == 1
    assert world.credit("bank") == Decimal("950.00")
    other = post_vend(client, world, amount="60")
    assert other.status_code == 409 and other.json["error"]["code"] == "request_id_reused"
    # request ids are per client: another bank may use the same id for its own sale
    mine = post_vend(client, world, who="other_bank", amount="60")
    assert mine.status_code == 201 and mine.json["vend_id"] != first.json["vend_id"]


def test_a_rolled_over_meter_gets_its_key_change_first(client: FlaskClient,
                                                       world: ApiWorld) -> None:
    r = post_vend(client, world, meter_number=world.meters["legacy"], amount="100")
    assert r.status_code == 201
    kinds = [t["type"] for t in r.json["tokens"]]
    assert kinds[-1] == "credit" and set(kinds[:-1]) == {"key_change"} and len(kinds) >= 2
    assert r.json["key_change"] is True


def test_reprint_and_last_response_return_the_vend(client: FlaskClient,
                                                   world: ApiWorld) -> None:
    sold = post_vend(client, world, request_id="abc-42").json
    reprint = client.get(f"/api/v1/vends/{sold['vend_id']}", headers=world.auth("bank"))
    assert reprint.status_code == 200 and reprint.json == sold
    last = client.get("/api/v1/vends", query_string={"request_id": "abc-42"},
                      headers=world.auth("bank"))
    assert last.status_code == 200 and last.json == sold
    # another client sees neither: its vends and request ids are its own
    for r in (client.get(f"/api/v1/vends/{sold['vend_id']}", headers=world.auth("other_bank")),
              client.get("/api/v1/vends", query_string={"request_id": "abc-42"},
                         headers=world.auth("other_bank"))):
        assert r.status_code == 404 and r.json["error"]["code"] == "unknown_vend"


def test_reversal_credits_the_float_back_once(client: FlaskClient, world: ApiWorld,
                                              clock: FixedClock) -> None:
    sold = post_vend(client, world, amount="80").json
    assert world.credit("bank") == Decimal("920.00")
    url = f"/api/v1/vends/{sold['vend_id']}/reversal"
    foreign = client.post(url, json={"reason": "not mine"}, headers=world.auth("other_bank"))
    assert foreign.status_code == 404
    clock.advance(minutes=5)
    r = client.post(url, json={"reason": "customer left without the token"},
                    headers=world.auth("bank"))
    assert r.status_code == 200 and r.json["status"] == "reversed"
    assert r.json["tokens"] == sold["tokens"]
    assert world.credit("bank") == Decimal("1000.00")
    twice = client.post(url, json={"reason": "again"}, headers=world.auth("bank"))
    assert twice.status_code == 422 and twice.json["error"]["code"] == "not_reversible"
    assert world.credit("bank") == Decimal("1000.00")
    reprint = client.get(f"/api/v1/vends/{sold['vend_id']}", headers=world.auth("bank"))
    assert reprint.json["status"] == "reversed"
    # a replay of the reversed request still returns it and debits nothing
    replay = post_vend(client, world, amount="80")
    assert replay.status_code == 200 and replay.json["status"] == "reversed"
    assert world.credit("bank") == Decimal("1000.00")


def test_a_vend_beyond_the_float_is_refused_and_writes_nothing(
        client: FlaskClient, world: ApiWorld, ctx: ServiceContext) -> None:
    assert post_vend(client, world, who="poor", amount="10").status_code == 201
    r = post_vend(client, world, who="poor", amount="10", request_id="req-2")
    assert r.status_code == 422 and r.json["error"]["code"] == "vendor_credit_exhausted"
    assert world.credit("poor") == Decimal("5.00")
    assert vend_count(ctx) == 1  # the refused vend left no row, no TID, no receipt
    assert post_vend(client, world, who="poor", amount="5", request_id="req-3"
                     ).status_code == 201
    assert world.credit("poor") == Decimal("0.00")


def test_a_client_without_a_float_is_not_debited(client: FlaskClient, world: ApiWorld) -> None:
    assert post_vend(client, world, who="unlimited", amount="5000").status_code == 201
    assert world.credit("unlimited") is None
    me = client.get("/api/v1/client", headers=world.auth("unlimited")).json
    assert me["vendor_credit"] is None and me["rate_limit"] is None


def test_client_status(client: FlaskClient, world: ApiWorld) -> None:
    post_vend(client, world, amount="12.34")
    r = client.get("/api/v1/client", headers=world.auth("bank"))
    assert r.status_code == 200
    assert r.json == {"id": world.ids["bank"], "name": "bank", "scopes": ["vend"],
                      "vendor_credit": "987.66", "currency": "ZAR", "rate_limit": None}
    slow = client.get("/api/v1/client", headers=world.auth("slow")).json
    assert slow["rate_limit"] == {"per_second": 1.0, "burst": 2}


def test_engineering_token_and_its_replay(client: FlaskClient, world: ApiWorld) -> None:
    url = f"/api/v1/meters/{world.meters['current']}/engineering"
    body = {"kind": "set_power_limit", "params": {"watts": 3000}, "request_id": "eng-1"}
    r = client.post(url, json=body, headers=world.auth("engineer"))
    assert r.status_code == 201
    [token] = r.json["tokens"]
    assert token["type"] == "set_power_limit" and r.json["amount"] == "0.00"
    again = client.post(url, json=body, headers=world.auth("engineer"))
    assert again.status_code == 200 and again.json == r.json
    test = client.post(url, json={"kind": "meter_test", "request_id": "eng-2"},
                       headers=world.auth("engineer"))
    assert test.status_code == 201 and test.json["tokens"][0]["tid"] is None


def test_readings_batches(client: FlaskClient, world: ApiWorld) -> None:
    url = f"/api/v1/meters/{world.meters['current']}/readings"
    auth = world.auth("gateway")
    batch = [{"at": "2026-03-01T10:00:00Z", "energy_kwh": "100.5"},
             {"at": "2026-03-01T12:00:00+02:00", "energy_kwh": "101"}]
    # 12:00+02:00 is 10:00Z: the same time with another value in one batch
    r = client.post(url, json={"readings": batch}, headers=auth)
    assert r.status_code == 409 and r.json["error"]["code"] == "reading_conflict"
    batch[1] = {"at": "2026-03-01T13:00:00+02:00", "energy_kwh": "101"}  # 11:00Z
    r = client.post(url, json={"readings": batch}, headers=auth)
    assert r.status_code == 200
    assert r.json == {"meter_number": world.meters["current"], "accepted": 2, "duplicates": 0}
    # the same batch again (a meter that lost the answer): duplicates, not errors
    r = client.post(url, json={"readings": batch}, headers=auth)
    assert r.json == {"meter_number": world.meters["current"], "accepted": 0, "duplicates": 2}
    # out of order: an earlier reading arriving late, in between, is fine
    late = [{"at": "2026-03-01T09:00:00Z", "energy_kwh": "99.25"},
            {"at": "2026-03-01T10:30:00Z", "energy_kwh": "100.75"}]
    r = client.post(url, json={"readings": late}, headers=auth)
    assert r.status_code == 200 and r.json["accepted"] == 2
    # backwards against a stored neighbour: the whole batch is refused, nothing stored
    bad = [{"at": "2026-03-01T12:00:00Z", "energy_kwh": "150"},
           {"at": "2026-03-01T10:45:00Z", "energy_kwh": "100.5"}]  # below 10:30's 100.75
    r = client.post(url, json={"readings": bad}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["code"] == "register_backwards"
    ok = client.post(url, json={"readings": bad[:1]}, headers=auth)
    assert ok.json["accepted"] == 1  # 12:00 was not stored by the refused batch
    above = [{"at": "2026-03-01T11:30:00Z", "energy_kwh": "151"}]  # above the later 150
    r = client.post(url, json={"readings": above}, headers=auth)
    assert r.status_code == 422 and r.json["error"]["code"] == "register_backwards"
    changed = [{"at": "2026-03-01T10:00:00Z", "energy_kwh": "100.6"}]
    r = client.post(url, json={"readings": changed}, headers=auth)
    assert r.status_code == 409 and r.json["error"]["code"] == "reading_conflict"


def test_readings_of_one_meter_do_not_constrain_another(client: FlaskClient,
                                                        world: ApiWorld) -> None:
    for name, value in (("current", "500"), ("second", "1")):
        r = client.post(f"/api/v1/meters/{world.meters[name]}/readings",
                        json={"readings": [{"at": "2026-03-01T10:00:00Z",
                                            "energy_kwh": value}]},
                        headers=world.auth("unlimited"))
        assert r.status_code == 200 and r.json["accepted"] == 1


def test_the_rate_limit_bucket_refills_with_time(client: FlaskClient, world: ApiWorld,
                                                 clock: FixedClock) -> None:
    url = f"/api/v1/meters/{world.meters['current']}"

    def status() -> int:
        return client.get(url, headers=world.auth("slow")).status_code

    assert [status(), status(), status()] == [200, 200, 429]
    clock.advance(seconds=1)  # 1 request/s
    assert [status(), status()] == [200, 429]
    clock.advance(seconds=10)  # refills up to the burst (2), not beyond
    assert [status(), status(), status()] == [200, 200, 429]
    # another client's bucket is its own
    assert client.get(url, headers=world.auth("bank")).status_code == 200


def test_api_keys_never_reach_logs_or_answers(client: FlaskClient, world: ApiWorld,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    key = world.keys["bank"]
    answers = [post_vend(client, world).get_data(as_text=True),
               client.get("/api/v1/client", headers=world.auth("bank")).get_data(as_text=True),
               client.get("/api/v1/client", headers={"Authorization": f"Bearer {key}x"}
                          ).get_data(as_text=True),
               client.get("/api/v1/vends/1", headers=world.auth("gateway")
                          ).get_data(as_text=True)]
    # sv_<prefix>_<secret>; the secret itself may contain "_" (URL-safe base64), so split
    # from the left: the tail after its last "_" can be a few characters that occur anywhere.
    secret = key.split("_", 2)[2]
    assert len(secret) == 43
    assert not any(secret in text for text in answers)
    assert secret not in caplog.text


def test_text_postgresql_cannot_store_is_refused_at_the_boundary(client: FlaskClient,
                                                                 world: ApiWorld) -> None:
    """Found by schemathesis on PostgreSQL: a NUL in a request id was a 500 (DataError)."""
    r = client.get("/api/v1/vends", query_string={"request_id": "a\x00b"},
                   headers=world.auth("bank"))
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_request_id"
    assert post_vend(client, world, request_id="two words").status_code == 400
    sold = post_vend(client, world).json
    r = client.post(f"/api/v1/vends/{sold['vend_id']}/reversal", json={"reason": "x\x00"},
                    headers=world.auth("bank"))
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_request"


def test_answers_lose_nothing_of_the_service_results(client: FlaskClient, world: ApiWorld,
                                                     ctx: ServiceContext) -> None:
    """The answer schemas dump only what they declare: if a service result grows a field,
    this fails until the schema (and so the OpenAPI document) describes it."""
    from vending.services import confirm_meter, reprint

    sold = post_vend(client, world, meter_number=world.meters["legacy"]).json
    assert sold == reprint(ctx, sold["vend_id"]).as_json() | {"currency": "ZAR"}
    number = world.meters["current"]
    lookup = client.get(f"/api/v1/meters/{number}", headers=world.auth("bank")).json
    assert lookup == confirm_meter(ctx, number).as_json() | {"currency": "ZAR"}
    engineering = client.post(f"/api/v1/meters/{number}/engineering",
                              json={"kind": "clear_credit", "request_id": "x"},
                              headers=world.auth("unlimited")).json
    assert engineering == reprint(ctx, engineering["vend_id"]).as_json() | {"currency": "ZAR"}
