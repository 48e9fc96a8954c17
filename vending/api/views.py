"""The operations of ``/api/v1`` (CONTRACT §3), after NRS 009 XMLVend: confirm customer
(meter lookup), trial credit vend, credit vend, reprint, last-response advice, reversal advice,
engineering tokens, meter readings and the client's own status. Views only translate: they
call one service each and hand its result to the answer schema."""

from __future__ import annotations

from typing import Any

from ..errors import NotFoundError
from ..services import (
    ServiceContext,
    confirm_meter,
    engineering_token,
    find_vend,
    reprint,
    reverse,
    trial_vend,
    vend,
)
from ..services.answers import decimal_text
from ..services.api_clients import (
    ClientIdentity,
    Scope,
    client_status,
    credit_back,
    vend_client_ref,
)
from ..services.readings import Reading, record_readings
from . import schemas
from .routing import check_id, endpoint

AUTH = ("missing_api_key", "invalid_api_key", "client_disabled", "insufficient_scope",
        "rate_limited", "database_unavailable")
METER = ("invalid_meter_number", "check_digit", "unknown_meter")
SALE_RULES = ("meter_blocked", "amount_out_of_limits", "amount_too_small", "amount_too_large",
              "key_change_impossible", "no_vending_key", "no_tariff", "tid_exhausted")
METER_PATH = {"meter_number": {"type": "string", "pattern": schemas.METER_NUMBER,
                               "description": "Meter number (DRN, 11 or 13 digits)",
                               "example": "07000000013"}}
VEND_PATH = {"vend_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1,
                         "description": "vend_id of the vend answer"}}


def _with_currency(ctx: ServiceContext, payload: dict[str, Any]) -> dict[str, Any]:
    payload["currency"] = ctx.policy.currency
    return payload


def _own_vend(ctx: ServiceContext, client: ClientIdentity, vend_id: int) -> int:
    """A client sees and reverses only its own vends; another's is as unknown as none."""
    check_id(vend_id)
    if vend_client_ref(ctx, vend_id) != client.actor.ref:
        raise NotFoundError("unknown_vend", f"vend {vend_id} does not exist")
    return vend_id


@endpoint("GET", "/meters/<meter_number>", summary="Confirm customer (meter lookup)",
          scope=Scope.VEND, responses={200: (schemas.MeterConfirmation, "The customer and "
                                                                        "vend configuration")},
          errors=AUTH + METER, path_params=METER_PATH)
def get_meter(ctx: ServiceContext, client: ClientIdentity, meter_number: str) -> tuple[int, Any]:
    """XMLVend ConfirmCustomer: who the meter belongs to and whether it can buy now, so the
    cashier can confirm with the customer before taking money. Writes nothing."""
    answer = confirm_meter(ctx, meter_number).as_json()
    return 200, _with_currency(ctx, answer)


@endpoint("POST", "/vends/trial", summary="Trial vend", scope=Scope.VEND,
          body=schemas.TrialVendRequest,
          responses={200: (schemas.VendAnswer, "What the vend would give, without tokens")},
          errors=("invalid_json", "invalid_request", "invalid_amount", *AUTH, *METER,
                  *SALE_RULES))
def post_trial(ctx: ServiceContext, client: ClientIdentity, body: dict[str, Any]
               ) -> tuple[int, Any]:
    """XMLVend trialCreditVend: the units, breakdown and any key change a vend of this amount
    would give now. Consumes nothing: no token, no TID, no receipt, no vendor credit."""
    answer = trial_vend(ctx, meter_number=body["meter_number"], amount=body["amount"])
    return 200, _with_currency(ctx, answer.as_json())


@endpoint("POST", "/vends", summary="Credit vend", scope=Scope.VEND, body=schemas.VendRequest,
          responses={201: (schemas.VendAnswer, "A new vend: its tokens (key change first)"),
                     200: (schemas.VendAnswer, "The same request_id and body again: the "
                                               "identical first answer")},
          errors=("invalid_json", "invalid_request", "invalid_amount", "invalid_request_id",
                  *AUTH, *METER, "request_id_reused", *SALE_RULES, "vendor_credit_exhausted"))
def post_vend(ctx: ServiceContext, client: ClientIdentity, body: dict[str, Any]
              ) -> tuple[int, Any]:
    """XMLVend creditVend. Exactly once per (client, request_id): a retry after a timeout,
    even while the first request is still running, returns the one vend (200) with the same
    tokens and no second debit of the vendor credit. The amount is debited from the client's
    float in the vend's own transaction."""
    answer = vend(ctx, meter_number=body["meter_number"], amount=body["amount"],
                  request_id=body["request_id"], actor=client.actor,
                  vendor_float=client.id if client.has_float else None)
    return (200 if answer.replayed else 201), _with_currency(ctx, answer.as_json())


@endpoint("GET", "/vends/<int:vend_id>", summary="Reprint", scope=Scope.VEND,
          responses={200: (schemas.VendAnswer, "The vend as first answered (status may now "
                                               "be reversed)")},
          errors=(*AUTH, "unknown_vend"), path_params=VEND_PATH)
def get_vend(ctx: ServiceContext, client: ClientIdentity, vend_id: int) -> tuple[int, Any]:
    """XMLVend reprint: the answer of one of this client's vends; tokens are never issued
    again, only shown again."""
    answer = reprint(ctx, _own_vend(ctx, client, vend_id))
    return 200, _with_currency(ctx, answer.as_json())


@endpoint("GET", "/vends", summary="Last-response advice", scope=Scope.VEND,
          query=schemas.VendLookupQuery,
          responses={200: (schemas.VendAnswer, "The vend made under that request_id")},
          errors=("invalid_request", "invalid_request_id", *AUTH, "unknown_vend"))
def get_vend_by_request(ctx: ServiceContext, client: ClientIdentity, query: dict[str, Any]
                        ) -> tuple[int, Any]:
    """XMLVend lastResponse advice: after an unclear outcome, ask what became of a
    request_id. 404 unknown_vend means no vend is committed under it (yet): retry the sale
    with the same request_id, which is always safe, never with a new one."""
    answer = find_vend(ctx, request_id=query["request_id"], actor=client.actor)
    return 200, _with_currency(ctx, answer.as_json())


@endpoint("POST", "/vends/<int:vend_id>/reversal", summary="Reversal advice", scope=Scope.VEND,
          body=schemas.ReversalRequest,
          responses={200: (schemas.VendAnswer, "The reversed vend")},
          errors=("invalid_json", "invalid_request", "reason_required", *AUTH, "unknown_vend",
                  "not_reversible"), path_params=VEND_PATH)
def post_reversal(ctx: ServiceContext, client: ClientIdentity, vend_id: int,
                  body: dict[str, Any]) -> tuple[int, Any]:
    """XMLVend reversal advice: the sale did not complete on the client's side (the customer
    never got the token). Within the reversal window the vend is marked reversed and its
    amount returns to the client's float. The token itself cannot be recalled from a meter."""
    answer = reverse(ctx, _own_vend(ctx, client, vend_id), reason=body["reason"],
                     actor=client.actor, on_reverse=credit_back(client.id))
    return 200, _with_currency(ctx, answer.as_json())


@endpoint("POST", "/meters/<meter_number>/engineering", summary="Engineering token",
          scope=Scope.ENGINEERING, body=schemas.EngineeringRequest, tag="engineering",
          responses={201: (schemas.VendAnswer, "The token(s), key change first"),
                     200: (schemas.VendAnswer, "The same request_id and body again")},
          errors=("invalid_json", "invalid_request", "invalid_request_id", "invalid_parameter",
                  *AUTH, *METER, "request_id_reused", "same_key", "key_change_impossible",
                  "no_vending_key", "tid_exhausted"), path_params=METER_PATH)
def post_engineering(ctx: ServiceContext, client: ClientIdentity, meter_number: str,
                     body: dict[str, Any]) -> tuple[int, Any]:
    """Engineering tokens (XMLVend meterSpecificEng): clear credit, clear tamper, power and
    phase-unbalance limits, an explicit key change, and Class 1 meter tests. Idempotent on
    request_id like a vend; no vendor credit is used."""
    answer = engineering_token(ctx, meter_number=meter_number, kind=body["kind"],
                               params=body["params"], request_id=body["request_id"],
                               actor=client.actor)
    return (200 if answer.replayed else 201), _with_currency(ctx, answer.as_json())


@endpoint("POST", "/meters/<meter_number>/readings", summary="Post meter readings",
          scope=Scope.READINGS, body=schemas.ReadingsRequest, tag="readings",
          responses={200: (schemas.ReadingsResult, "The batch is stored (or was already)")},
          errors=("invalid_json", "invalid_request", "invalid_reading",
                  *AUTH, *METER, "reading_conflict", "register_backwards",
                  "reading_in_future"), path_params=METER_PATH)
def post_readings(ctx: ServiceContext, client: ClientIdentity, meter_number: str,
                  body: dict[str, Any]) -> tuple[int, Any]:
    """Cumulative register readings from a meter or gateway, in any order. Idempotent on
    (meter, at): a re-sent batch is counted as duplicates. A batch is atomic: a reading that
    makes the register go backwards, or a different value for a stored time, refuses the
    whole batch and stores nothing."""
    result = record_readings(
        ctx, meter_number=meter_number, actor=client.actor,
        readings=[Reading(at=r["at"], energy_kwh=r["energy_kwh"]) for r in body["readings"]])
    return 200, {"meter_number": result.meter_number, "accepted": result.accepted,
                 "duplicates": result.duplicates}


@endpoint("GET", "/client", summary="This client", scope=None, tag="client",
          responses={200: (schemas.ClientOut, "The client's scopes, vendor credit and rate "
                                              "limit")},
          errors=AUTH[:3] + AUTH[4:])
def get_client(ctx: ServiceContext, client: ClientIdentity) -> tuple[int, Any]:
    """Who the key belongs to, its scopes, the vendor credit left (XMLVend vendor statement,
    in short) and its rate limit. Any valid key may ask."""
    status = client_status(ctx, client.id)
    limit = None if status.rate_per_s is None or status.burst is None else {
        "per_second": status.rate_per_s, "burst": status.burst}
    return 200, {"id": status.id, "name": status.name, "scopes": list(status.scopes),
                 "vendor_credit": None if status.vendor_credit is None
                 else decimal_text(status.vendor_credit, ctx.policy.currency_decimals),
                 "currency": ctx.policy.currency, "rate_limit": limit}
