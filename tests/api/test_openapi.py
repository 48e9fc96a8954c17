"""The OpenAPI document and the docs page, and a schemathesis run against a live server:
generated requests for every operation find no 5xx and no answer outside the document
(quick profile: a few examples per operation, both databases)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from api_helpers import LiveServer
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from vending.api.errors import CATALOGUE
from vending.api.openapi import openapi_document
from vending.api.routing import ENDPOINTS

# The quick profile of CI; STSVEND_SCHEMATHESIS_EXAMPLES=500 for a thorough run by hand.
MAX_EXAMPLES = int(os.environ.get("STSVEND_SCHEMATHESIS_EXAMPLES", "10"))


def test_document_covers_every_operation_and_code(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").json
    assert document == openapi_document()
    assert document["openapi"].startswith("3.")
    operations = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert operations == {(e.openapi_path, e.method) for e in ENDPOINTS}
    assert {"/api/v1/meters/{meter_number}", "/api/v1/vends/trial", "/api/v1/vends",
            "/api/v1/vends/{vend_id}", "/api/v1/vends/{vend_id}/reversal",
            "/api/v1/meters/{meter_number}/readings"} <= set(document["paths"])
    assert [e["code"] for e in document["x-error-codes"]] == [e.code for e in CATALOGUE]
    vend = document["components"]["schemas"]["VendRequest"]
    assert vend["additionalProperties"] is False  # unknown fields are refused
    assert vend["properties"]["amount"]["type"] == "string"
    post = document["paths"]["/api/v1/vends"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "409", "422", "429", "503"} == set(
        post["responses"])


def test_docs_page_is_self_contained(client: FlaskClient) -> None:
    r = client.get("/api/v1/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert not re.search(r"<script|<link|src=|https?://", page)  # no CDN, nothing fetched
    for e in ENDPOINTS:
        assert e.openapi_path in page
    for e in CATALOGUE:
        assert f"<code>{e.code}</code>" in page


def test_answers_of_every_operation_match_the_document(live: LiveServer) -> None:
    """A valid request to each operation (so the success answers are checked too, which
    random inputs rarely reach), validated by schemathesis against the served document."""
    api = schemathesis.openapi.from_url(live.base_url + "/api/v1/openapi.json")
    http = requests.Session()
    number = live.world.meters["second"]
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]

    def call(method: str, path: str, who: str = "unlimited", **parts: Any) -> Any:
        case = api[path][method].Case(**parts)
        response = case.call_and_validate(
            session=http, headers={"Authorization": f"Bearer {live.world.keys[who]}"},
            checks=checks)
        assert response.status_code < 300, response.text
        return response.json()

    assert call("GET", "/api/v1/meters/{meter_number}",
                path_parameters={"meter_number": number})["can_vend"]
    call("POST", "/api/v1/vends/trial", body={"meter_number": number, "amount": "5"})
    sold = call("POST", "/api/v1/vends",
                body={"meter_number": number, "amount": "5", "request_id": "doc-1"})
    call("GET", "/api/v1/vends/{vend_id}", path_parameters={"vend_id": sold["vend_id"]})
    call("GET", "/api/v1/vends", query={"request_id": "doc-1"})
    call("POST", "/api/v1/vends/{vend_id}/reversal",
         path_parameters={"vend_id": sold["vend_id"]}, body={"reason": "test"})
    call("POST", "/api/v1/meters/{meter_number}/engineering",
         path_parameters={"meter_number": number},
         body={"kind": "clear_credit", "request_id": "doc-2", "params": {"register": 0}})
    call("POST", "/api/v1/meters/{meter_number}/readings", path_parameters={
        "meter_number": number}, body={"readings": [{"at": "2026-01-01T00:00:00Z",
                                                     "energy_kwh": "12.5"}]})
    assert call("GET", "/api/v1/client", who="bank")["vendor_credit"] == "1000.00"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
        live: LiveServer, mode: GenerationMode) -> None:
    """Every operation of the served document, with generated inputs, through real HTTP.
    Valid-shaped inputs: no 5xx, every status documented, every answer valid against its
    schema. Invalid inputs (negative mode): no 5xx and every answer a valid error body (this
    mode found NUL characters reaching PostgreSQL)."""
    api = schemathesis.openapi.from_url(live.base_url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {live.world.keys['unlimited']}"}
    http = requests.Session()
    checks = [not_a_server_error, response_schema_conformance]
    if mode is GenerationMode.POSITIVE:
        checks.append(status_code_conformance)
    tested = []
    for result in api.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(session=http, headers=headers, checks=checks)

        check()
        tested.append(operation.label)
    assert len(tested) == len(ENDPOINTS), tested


def test_docs_api_md_lists_every_error_code() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    for e in CATALOGUE:
        assert f"| `{e.code}` | {e.status} |" in text, e.code
    for e in ENDPOINTS:
        assert e.openapi_path.removeprefix("/api/v1") in text, e.openapi_path
