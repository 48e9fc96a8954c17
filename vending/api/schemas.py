"""Marshmallow schemas of the bank vend API: the only place request and answer shapes are
defined. Requests are loaded with unknown fields rejected (``RAISE``); answers are dumped
through their schema, so a field the document does not describe never leaves the server; the
OpenAPI document (:mod:`vending.api.openapi`) is generated from these same classes.

Money and energy are decimal strings (never JSON numbers); times are ISO 8601 in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from ..services.engineering import EngineeringKind

METER_NUMBER = r"^[0-9]{11}([0-9]{2})?$"  # a DRN: 11 or 13 ASCII digits (Luhn checked later)
REQUEST_ID = r"^[!-~]{1,80}$"  # 1-80 printable ASCII characters, no spaces


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class DecimalString(fields.Field):
    """A non-negative decimal written as a JSON string (``"50"``, ``"50.25"``), loaded as a
    ``Decimal``. Numbers are refused: a float cannot carry money exactly."""

    def __init__(self, *, places: int, digits: int, **kwargs: Any) -> None:
        self.places, self.digits = places, digits
        self.regex = re.compile(rf"[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?")
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("type", "string")
        metadata.setdefault("pattern", rf"^[0-9]{{1,{digits}}}(\.[0-9]{{1,{places}}})?$")
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if not isinstance(value, str):
            raise ValidationError("must be a decimal string such as \"50.00\", not a number")
        if not self.regex.fullmatch(value):
            raise ValidationError(f"must be a decimal string with at most {self.digits} digits "
                                  f"and {self.places} decimals")
        try:
            return Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            raise ValidationError("not a decimal number") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else str(value)


class UTCTimestamp(fields.Field):
    """An ISO 8601 time with a UTC offset (``Z`` or ``+02:00``), loaded as an aware UTC
    ``datetime``; a time without an offset is refused, never guessed."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or not 10 <= len(value) <= 40:
            raise ValidationError("must be an ISO 8601 time string with a UTC offset")
        try:
            at = datetime.fromisoformat(value)
            if at.tzinfo is None or at.utcoffset() is None:
                raise ValidationError("needs a UTC offset, such as Z or +00:00")
            return at.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValidationError("not an ISO 8601 time") from None

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return value.astimezone(UTC).isoformat()


def _meter_number() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(METER_NUMBER),
                         metadata={"description": "Meter number (DRN, 11 or 13 digits with "
                                                  "its Luhn check digit)",
                                   "example": "07000000018"})


def _amount() -> DecimalString:
    return DecimalString(places=2, digits=12, required=True,
                         metadata={"description": "Money in the deployment's currency, as a "
                                                  "decimal string", "example": "50.00"})


def _no_nul(text: str) -> None:
    """PostgreSQL text cannot hold NUL: refuse it at the boundary (400), not in SQL (500)."""
    if "\x00" in text:
        raise ValidationError("must not contain NUL characters")


def _request_id() -> fields.String:
    return fields.String(required=True, validate=validate.Regexp(REQUEST_ID),
                         metadata={"description": "The client's unique id of this sale "
                                                  "(XMLVend msgID): repeat it, with the same "
                                                  "body, to retry safely"})


# --- requests --------------------------------------------------------------------------------


class TrialVendRequest(StrictSchema):
    meter_number = _meter_number()
    amount = _amount()


class VendRequest(StrictSchema):
    meter_number = _meter_number()
    amount = _amount()
    request_id = _request_id()


class VendLookupQuery(StrictSchema):
    request_id = _request_id()


class ReversalRequest(StrictSchema):
    reason = fields.String(required=True, validate=[validate.Length(1, 400), _no_nul],
                           metadata={"description": "Why the sale did not complete"})


class ReadingIn(StrictSchema):
    at = UTCTimestamp(required=True, metadata={"type": "string", "format": "date-time",
                                               "description": "When the register was read"})
    energy_kwh = DecimalString(places=5, digits=13, required=True,
                               metadata={"description": "Cumulative energy register, kWh"})


class ReadingsRequest(StrictSchema):
    readings = fields.List(fields.Nested(ReadingIn), required=True,
                           validate=validate.Length(1, 1000))


class EngineeringParams(StrictSchema):
    register = fields.Integer(strict=True, metadata={"description": "clear_credit: 0-7 or "
                                                                    "65535 (all)"})
    watts = fields.Integer(strict=True, metadata={"description": "power or unbalance limit"})
    control = fields.Integer(strict=True, metadata={"description": "meter_test control bits"})
    to_krn = fields.Integer(strict=True, metadata={"description": "key_change: target KRN"})
    to_ti = fields.Integer(strict=True, metadata={"description": "key_change: target TI"})


class EngineeringRequest(StrictSchema):
    kind = fields.String(required=True,
                         validate=validate.OneOf([k.value for k in EngineeringKind]))
    request_id = _request_id()
    params = fields.Nested(EngineeringParams, load_default=dict)


# --- answers ---------------------------------------------------------------------------------


class TokenOut(StrictSchema):
    type = fields.String(required=True, metadata={
        "description": "credit, fbe, key_change, clear_credit, clear_tamper, set_power_limit, "
                       "set_phase_unbalance or meter_test"})
    token = fields.String(required=True, metadata={"description": "20 digits"})
    units = fields.String(required=True, metadata={"description": "kWh the token carries"})
    tid = fields.Integer(required=True, allow_none=True)


class BreakdownLine(StrictSchema):
    kind = fields.String(required=True)
    label = fields.String(required=True)
    amount = fields.String(required=True)
    kwh = fields.String(required=True, allow_none=True)
    rate = fields.String(required=True, allow_none=True)


class TariffRef(StrictSchema):
    code = fields.String(required=True, allow_none=True)
    version = fields.String(required=True, allow_none=True)


class VendAnswer(StrictSchema):
    vend_id = fields.Integer(required=True, allow_none=True,
                             metadata={"description": "null for a trial vend"})
    receipt_no = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, metadata={"description": "credit, engineering, "
                                                                 "key_change, trial"})
    meter_number = fields.String(required=True)
    amount = fields.String(required=True)
    currency = fields.String(required=True)
    units = fields.String(required=True, metadata={"description": "kWh credited in total"})
    status = fields.String(required=True, metadata={"description": "issued, reversed, trial"})
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    key_change = fields.Boolean(required=True)
    tokens = fields.List(fields.Nested(TokenOut), required=True)
    breakdown = fields.List(fields.Nested(BreakdownLine), required=True)
    tariff = fields.Nested(TariffRef, required=True)
    remainder = fields.String(required=True)
    details = fields.Dict(metadata={"description": "engineering tokens: kind and parameters"})


class CustomerOut(StrictSchema):
    name = fields.String(required=True)
    address = fields.String(required=True)
    account = fields.String(required=True)


class MeterConfirmation(StrictSchema):
    meter_number = fields.String(required=True)
    customer = fields.Nested(CustomerOut, required=True)
    status = fields.String(required=True, metadata={"description": "active or blocked"})
    can_vend = fields.Boolean(required=True)
    min_amount = fields.String(required=True)
    max_amount = fields.String(required=True)
    currency = fields.String(required=True)
    key_change_due = fields.Boolean(required=True)
    sgc = fields.String(required=True)
    krn = fields.Integer(required=True)
    ti = fields.Integer(required=True)
    tariff = fields.String(required=True)


class ReadingsResult(StrictSchema):
    meter_number = fields.String(required=True)
    accepted = fields.Integer(required=True, metadata={"description": "readings stored now"})
    duplicates = fields.Integer(required=True,
                                metadata={"description": "readings already stored, same value"})


class RateLimitOut(StrictSchema):
    per_second = fields.Float(required=True)
    burst = fields.Integer(required=True)


class ClientOut(StrictSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    vendor_credit = fields.String(required=True, allow_none=True,
                                  metadata={"description": "the float left; null: no float"})
    currency = fields.String(required=True)
    rate_limit = fields.Nested(RateLimitOut, required=True, allow_none=True)


class ErrorBody(StrictSchema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class Error(StrictSchema):
    error = fields.Nested(ErrorBody, required=True)
