"""Scope enforcement: every operation against every client. A key without the operation's
scope gets 403 insufficient_scope before anything is read or written; a disabled client gets
403 client_disabled everywhere; the docs and the document need no key."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import CLIENTS, ApiWorld
from flask.testing import FlaskClient

from vending.api.routing import ENDPOINTS, Endpoint

SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "post_trial": {"meter_number": "{current}", "amount": "10"},
    "post_vend": {"meter_number": "{current}", "amount": "10", "request_id": "s-1"},
    "post_reversal": {"reason": "test"},
    "post_engineering": {"kind": "clear_tamper", "request_id": "s-2"},
    "post_readings": {"readings": [{"at": "2026-03-01T00:00:00Z", "energy_kwh": "1"}]},
}


def call(client: FlaskClient, world: ApiWorld, ep: Endpoint, who: str) -> Any:
    path = ep.openapi_path.replace("{meter_number}", world.meters["current"]) \
        .replace("{vend_id}", "1")
    body = SAMPLE_BODIES.get(ep.name)
    if body is not None:
        body = {k: (v.format(**world.meters) if isinstance(v, str) else v)
                for k, v in body.items()}
    query = {"request_id": "s-1"} if ep.query is not None else None
    return client.open(path, method=ep.method.upper(), json=body, query_string=query,
                       headers=world.auth(who))


@pytest.mark.parametrize("ep", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_scope_is_enforced_on_every_operation(ep: Endpoint, client: FlaskClient,
                                              world: ApiWorld) -> None:
    for who, (scopes, *_rest) in CLIENTS.items():
        if who == "slow":
            continue  # its 2-request burst is the rate-limit test's
        response = call(client, world, ep, who)
        code = response.json.get("error", {}).get("code") if response.is_json else None
        if who == "disabled":
            assert (response.status_code, code) == (403, "client_disabled")
        elif ep.scope is not None and ep.scope.value not in scopes.split(","):
            assert (response.status_code, code) == (403, "insufficient_scope"), who
        else:
            assert response.status_code != 403, (who, response.json)
            assert response.status_code < 500


def test_scopes_of_the_operations() -> None:
    scopes = {e.name: e.scope.value if e.scope else None for e in ENDPOINTS}
    assert scopes == {
        "get_meter": "vend", "post_trial": "vend", "post_vend": "vend", "get_vend": "vend",
        "get_vend_by_request": "vend", "post_reversal": "vend",
        "post_engineering": "engineering", "post_readings": "readings", "get_client": None}


def test_public_documents_need_no_key(client: FlaskClient) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("header", ["", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  ",
                                    "Bearer sv_zzzzzzzz_" + "a" * 43, "Bearer " + "x" * 5000])
def test_malformed_authorization_is_401(client: FlaskClient, world: ApiWorld,
                                        header: str) -> None:
    r = client.get("/api/v1/client", headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.json["error"]["code"] in ("missing_api_key", "invalid_api_key")
