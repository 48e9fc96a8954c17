"""Every code of the error catalogue (vending/api/errors.py), triggered through the API with
its documented status and the one error shape; a last test checks no code was left out."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from api_helpers import OPERATOR, ApiWorld
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from vending_fixtures import SGC, drn, make_config

from vending import create_app
from vending.api.errors import BY_CODE, CATALOGUE
from vending.models import Meter, MeterStatus
from vending.services import ServiceContext, set_current_krn, set_meter_status
from vending.services.api_clients import Scope

Case = Callable[[FlaskClient, ApiWorld, ServiceContext, Flask], Any]
SCENARIOS: dict[str, Case] = {}


def scenario(code: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        SCENARIOS[code] = fn
        return fn

    return register


def vend(c: FlaskClient, w: ApiWorld, who: str = "bank", **body: Any) -> Any:
    body.setdefault("meter_number", w.meters["current"])
    body.setdefault("amount", "10")
    body.setdefault("request_id", "e-1")
    return c.post("/api/v1/vends", json=body, headers=w.auth(who))


def readings(c: FlaskClient, w: ApiWorld, *items: tuple[str, str]) -> Any:
    return c.post(f"/api/v1/meters/{w.meters['current']}/readings", headers=w.auth("gateway"),
                  json={"readings": [{"at": at, "energy_kwh": kwh} for at, kwh in items]})


def set_meter(ctx: ServiceContext, name: str, w: ApiWorld, **values: Any) -> None:
    meter = ctx.session.scalars(select(Meter).where(Meter.meter_number == w.meters[name])).one()
    for key, value in values.items():
        setattr(meter, key, value)
    ctx.session.commit()


def policy(app: Flask, **changes: Any) -> None:
    key = "stsvend.policy"
    app.extensions[key] = dataclasses.replace(app.extensions[key], **changes)


@scenario("invalid_json")
def _invalid_json(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.post("/api/v1/vends", data="{not json", content_type="application/json",
                  headers=w.auth("bank"))


@scenario("invalid_request")
def _invalid_request(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, tip="5.00")  # an unknown field is refused, never ignored


@scenario("invalid_amount")
def _invalid_amount(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, amount=10.5)  # a JSON number: money is a decimal string


@scenario("invalid_request_id")
def _invalid_request_id(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, request_id="x" * 81)


@scenario("invalid_meter_number")
def _invalid_meter_number(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.get("/api/v1/meters/12345", headers=w.auth("bank"))


@scenario("check_digit")
def _check_digit(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    good = w.meters["current"]
    return vend(c, w, meter_number=good[:-1] + str((int(good[-1]) + 1) % 10))


@scenario("reason_required")
def _reason_required(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    sold = vend(c, w).json
    return c.post(f"/api/v1/vends/{sold['vend_id']}/reversal", json={"reason": "   "},
                  headers=w.auth("bank"))


@scenario("invalid_reading")
def _invalid_reading(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return readings(c, w, ("2026-03-01T10:00:00", "1"))  # no UTC offset


@scenario("invalid_parameter")
def _invalid_parameter(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.post(f"/api/v1/meters/{w.meters['current']}/engineering",
                  json={"kind": "set_power_limit", "request_id": "p"},  # no watts
                  headers=w.auth("engineer"))


@scenario("missing_api_key")
def _missing_api_key(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    r = c.get(f"/api/v1/meters/{w.meters['current']}")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    return r


@scenario("invalid_api_key")
def _invalid_api_key(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    key = w.keys["bank"]
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")  # right prefix, wrong secret
    return c.get(f"/api/v1/meters/{w.meters['current']}",
                 headers={"Authorization": f"Bearer {forged}"})


@scenario("client_disabled")
def _client_disabled(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, who="disabled")


@scenario("insufficient_scope")
def _insufficient_scope(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, who="gateway")


@scenario("unknown_meter")
def _unknown_meter(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.get(f"/api/v1/meters/{drn(99)}", headers=w.auth("bank"))


@scenario("unknown_vend")
def _unknown_vend(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.get("/api/v1/vends/999999", headers=w.auth("bank"))


@scenario("not_found")
def _not_found(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.get("/api/v1/tokens", headers=w.auth("bank"))


@scenario("method_not_allowed")
def _method_not_allowed(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.delete("/api/v1/vends", headers=w.auth("bank"))


@scenario("request_id_reused")
def _request_id_reused(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    vend(c, w, amount="10")
    return vend(c, w, amount="11")


@scenario("reading_conflict")
def _reading_conflict(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    readings(c, w, ("2026-03-01T10:00:00Z", "5"))
    return readings(c, w, ("2026-03-01T10:00:00Z", "6"))


@scenario("meter_blocked")
def _meter_blocked(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    set_meter_status(ctx, w.meters["current"], MeterStatus.BLOCKED, actor=OPERATOR)
    return vend(c, w)


@scenario("amount_out_of_limits")
def _amount_out_of_limits(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    assert vend(c, w, amount="0.99", request_id="low").json["error"]["code"] == \
        "amount_out_of_limits"
    return vend(c, w, amount="10000.01")


@scenario("amount_too_small")
def _amount_too_small(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    policy(app, min_amount=Decimal("0.01"))
    return vend(c, w, amount="0.20")  # 0.08 kWh at 2.50/kWh


@scenario("amount_too_large")
def _amount_too_large(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    policy(app, max_amount=Decimal("100000000"))
    return vend(c, w, who="unlimited", amount="9000000")  # 3.6 GWh: beyond one token


@scenario("key_change_impossible")
def _key_change_impossible(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    # The group's current key is the rolled-over 1993 one: the legacy meter cannot move on.
    set_current_krn(ctx, sgc=SGC, krn=1, actor=OPERATOR)
    return vend(c, w, meter_number=w.meters["legacy"])


@scenario("no_vending_key")
def _no_vending_key(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    set_meter(ctx, "second", w, krn=9)  # a key revision that was never loaded
    return vend(c, w, meter_number=w.meters["second"])


@scenario("no_tariff")
def _no_tariff(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    policy(app, default_tariff="NOPE")
    return c.post("/api/v1/vends/trial", json={"meter_number": w.meters["current"],
                                               "amount": "10"}, headers=w.auth("bank"))


@scenario("tid_exhausted")
def _tid_exhausted(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    set_meter(ctx, "current", w, last_tid=0xFFFFFF)
    return vend(c, w)


@scenario("vendor_credit_exhausted")
def _vendor_credit_exhausted(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return vend(c, w, who="poor", amount="15.01")


@scenario("not_reversible")
def _not_reversible(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    sold = c.post(f"/api/v1/meters/{w.meters['current']}/engineering",
                  json={"kind": "clear_tamper", "request_id": "t"},
                  headers=w.auth("unlimited")).json
    return c.post(f"/api/v1/vends/{sold['vend_id']}/reversal", json={"reason": "no"},
                  headers=w.auth("unlimited"))


@scenario("same_key")
def _same_key(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return c.post(f"/api/v1/meters/{w.meters['current']}/engineering",
                  json={"kind": "key_change", "request_id": "k", "params": {"to_krn": 2}},
                  headers=w.auth("engineer"))


@scenario("register_backwards")
def _register_backwards(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return readings(c, w, ("2026-03-01T10:00:00Z", "5"), ("2026-03-01T11:00:00Z", "4.99999"))


@scenario("reading_in_future")
def _reading_in_future(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    return readings(c, w, ("2026-03-02T09:45:00Z", "5"))  # the clock says 09:30:15


@scenario("rate_limited")
def _rate_limited(c: FlaskClient, w: ApiWorld, ctx: ServiceContext, app: Flask) -> Any:
    url = f"/api/v1/meters/{w.meters['current']}"
    assert [c.get(url, headers=w.auth("slow")).status_code for _ in range(2)] == [200, 200]
    r = c.get(url, headers=w.auth("slow"))  # burst 2, and the test clock stands still
    assert r.headers["Retry-After"] == "1"
    return r


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_error_code(code: str, client: FlaskClient, world: ApiWorld, ctx: ServiceContext,
                    app: Flask) -> None:
    response = SCENARIOS[code](client, world, ctx, app)
    assert response.status_code == BY_CODE[code].status, response.json
    assert response.json == {"error": {"code": code, "message": response.json["error"]
                                       ["message"]}}
    assert response.json["error"]["message"]


def test_database_unavailable(master_keys: str) -> None:
    config = make_config("postgresql+psycopg://postgres@127.0.0.1:1/nothing", master_keys)
    client = create_app(config).test_client()
    r = client.get("/api/v1/client", headers={"Authorization": "Bearer sv_00000000_" + "a" * 43})
    assert r.status_code == 503
    assert r.json["error"]["code"] == "database_unavailable"


def test_every_catalogued_code_is_exercised() -> None:
    assert set(BY_CODE) - set(SCENARIOS) == {"database_unavailable"}
    assert set(SCENARIOS) <= set(BY_CODE)
    assert len(CATALOGUE) == len(BY_CODE)  # no code listed twice
    assert {s.value for s in Scope} == {"vend", "engineering", "readings"}
