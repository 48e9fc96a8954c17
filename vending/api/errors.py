"""The catalogue of error codes of the bank vend API: every ``error.code`` a client can get,
its HTTP status and what to do about it. The OpenAPI document, the ``/api/v1/docs`` page and
docs/api.md are generated from or checked against this table, and the tests trigger each
code, so the catalogue cannot drift from the code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    meaning: str


CATALOGUE: tuple[ErrorCode, ...] = (
    # 400: malformed or invalid input
    ErrorCode("invalid_json", 400, "The body is not a JSON object sent as application/json."),
    ErrorCode("invalid_request", 400,
              "The body or query does not match the schema (unknown or missing fields, wrong "
              "types); the message names each field."),
    ErrorCode("invalid_amount", 400,
              "The amount is not a positive decimal string with at most the currency's "
              "decimals (floats are refused)."),
    ErrorCode("invalid_request_id", 400,
              "request_id must be 1 to 80 printable ASCII characters without spaces."),
    ErrorCode("invalid_meter_number", 400, "The meter number is not 11 or 13 ASCII digits."),
    ErrorCode("check_digit", 400, "The meter number fails its Luhn check digit: mistyped."),
    ErrorCode("reason_required", 400, "A reversal needs a non-empty reason."),
    ErrorCode("invalid_reading", 400,
              "A reading has no UTC offset or a malformed register (a decimal string, at most "
              "5 decimals), or the batch is empty or holds more than 1000 readings."),
    ErrorCode("invalid_parameter", 400, "An engineering token parameter is missing or out of "
                                        "range."),
    # 401 / 403: who is asking
    ErrorCode("missing_api_key", 401, "No 'Authorization: Bearer KEY' header."),
    ErrorCode("invalid_api_key", 401, "The API key is malformed or unknown."),
    ErrorCode("client_disabled", 403, "The API client has been disabled by the operator."),
    ErrorCode("insufficient_scope", 403,
              "The API key lacks the scope of this path (vend, engineering or readings)."),
    # 404: unknown things
    ErrorCode("unknown_meter", 404, "No meter with this number is registered."),
    ErrorCode("unknown_vend", 404,
              "No vend with this id or request_id was made by this client."),
    ErrorCode("not_found", 404, "No such path."),
    ErrorCode("method_not_allowed", 405, "The path exists but not with this method."),
    # 409: conflicts with what is stored
    ErrorCode("request_id_reused", 409,
              "The request_id was already used by this client with another body; the first "
              "vend stands. Use a new request_id for a new sale."),
    ErrorCode("reading_conflict", 409,
              "A reading for the same meter and time exists (or is in the batch) with another "
              "value; nothing of the batch was stored."),
    # 422: valid requests the rules refuse
    ErrorCode("meter_blocked", 422, "The meter is blocked: no credit may be sold to it."),
    ErrorCode("amount_out_of_limits", 422,
              "The amount is below the minimum or above the maximum vend amount (see "
              "min_amount and max_amount of the meter lookup)."),
    ErrorCode("amount_too_small", 422, "The amount buys less than 0.1 kWh."),
    ErrorCode("amount_too_large", 422, "The amount buys more than one token can carry."),
    ErrorCode("key_change_impossible", 422,
              "The meter needs a key change (new key, TID rollover or expiry) that cannot be "
              "delivered: the utility has not loaded a suitable key. Contact the utility."),
    ErrorCode("no_vending_key", 422,
              "No vending key is loaded for the meter's supply group and key revision."),
    ErrorCode("no_tariff", 422, "No tariff is in force for the meter today."),
    ErrorCode("tid_exhausted", 422, "No token identifier is left on the meter's base date."),
    ErrorCode("vendor_credit_exhausted", 422,
              "The client's vendor credit (float) is below the amount; top it up."),
    ErrorCode("not_reversible", 422,
              "The vend is not a credit vend, is already reversed, or is outside the "
              "reversal window."),
    ErrorCode("same_key", 422, "An explicit key change to the key the meter already has."),
    ErrorCode("register_backwards", 422,
              "A reading is below an earlier-in-time reading or above a later one; nothing "
              "of the batch was stored."),
    ErrorCode("reading_in_future", 422, "A reading is more than 10 minutes in the future."),
    # 429 / 5xx
    ErrorCode("rate_limited", 429,
              "The client's request rate is above its limit; retry after the Retry-After "
              "header's seconds."),
    ErrorCode("database_unavailable", 503, "The database cannot be reached; retry later "
                                           "with the same request_id."),
)

BY_CODE: dict[str, ErrorCode] = {e.code: e for e in CATALOGUE}


def codes_for(*statuses: int) -> tuple[str, ...]:
    return tuple(e.code for e in CATALOGUE if e.status in statuses)
