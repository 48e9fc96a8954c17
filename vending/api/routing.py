"""How a bank API view is declared: one decorator states the method, path, scope, request
schema(s), the success answer(s) and the error codes, and from that one declaration come the
Flask route, authentication and scope check, the rate limit, request loading (unknown fields
rejected), answer dumping, and the OpenAPI operation. A view receives the client and the
loaded input and returns ``(status, payload)``; it never touches ``request``'s body itself.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from marshmallow import Schema, ValidationError

from ..database import db
from ..errors import InvalidInputError
from ..services.api_clients import ClientIdentity, Scope, authorize
from ..services.context import ServiceContext

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

# The error codes of a field that fails its schema, when it is the only failing field.
FIELD_CODES = {"amount": "invalid_amount", "request_id": "invalid_request_id",
               "meter_number": "invalid_meter_number", "readings": "invalid_reading"}
MAX_INT_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One operation of the API, as the OpenAPI generator reads it."""

    method: str
    rule: str
    name: str
    summary: str
    description: str
    scope: Scope | None
    body: type[Schema] | None
    query: type[Schema] | None
    responses: Mapping[int, tuple[type[Schema], str]]
    errors: tuple[str, ...]
    tag: str
    path_params: Mapping[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def openapi_path(self) -> str:
        return bp.url_prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)  # type: ignore[operator]


ENDPOINTS: list[Endpoint] = []


def service_context() -> ServiceContext:
    return ServiceContext.from_app(current_app, db.session)


def bearer_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        fields = sorted(messages) if isinstance(messages, dict) else ["_schema"]
        text = "; ".join(f"{name}: {_flatten(messages[name])}" for name in fields) \
            if isinstance(messages, dict) else _flatten(messages)
        code = FIELD_CODES.get(fields[0], "invalid_request") if len(fields) == 1 \
            else "invalid_request"
        raise InvalidInputError(code, text) from None


def _flatten(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)


def json_body() -> Any:
    data = request.get_json(silent=True)
    if data is None:
        raise InvalidInputError("invalid_json",
                                "send a JSON object with Content-Type: application/json")
    return data


def endpoint(
    method: str, rule: str, *, summary: str, scope: Scope | None,
    responses: Mapping[int, tuple[type[Schema], str]], errors: tuple[str, ...] = (),
    body: type[Schema] | None = None, query: type[Schema] | None = None, tag: str = "vending",
    path_params: Mapping[str, dict[str, Any]] | None = None,
) -> Callable[[Callable[..., tuple[int, Any]]], Callable[..., ResponseReturnValue]]:
    """Declare a view (see the module doc). The view's docstring is the operation's
    description."""

    def decorate(view: Callable[..., tuple[int, Any]]) -> Callable[..., ResponseReturnValue]:
        body_schema = body() if body else None
        query_schema = query() if query else None
        dumpers = {status: schema() for status, (schema, _) in responses.items()}

        @functools.wraps(view)
        def handle(**path: Any) -> ResponseReturnValue:
            ctx = service_context()
            client = authorize(ctx, bearer_key(), scope)
            kwargs: dict[str, Any] = dict(path)
            if query_schema is not None:
                kwargs["query"] = _load(query_schema, request.args.to_dict(flat=True))
            if body_schema is not None:
                kwargs["body"] = _load(body_schema, json_body())
            status, payload = view(ctx, client, **kwargs)
            return jsonify(dumpers[status].dump(payload)), status

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handle, methods=[method])
        ENDPOINTS.append(Endpoint(
            method=method.lower(), rule=rule, name=view.__name__, summary=summary,
            description=inspect.cleandoc(view.__doc__ or ""), scope=scope, body=body, query=query,
            responses=responses, errors=errors, tag=tag, path_params=dict(path_params or {}),
        ))
        return handle

    return decorate


def check_id(value: int) -> int:
    """Path ids beyond the database's integer range name no vend (and must not reach SQL)."""
    from ..errors import NotFoundError

    if not 1 <= value <= MAX_INT_ID:
        raise NotFoundError("unknown_vend", f"vend {value} does not exist")
    return value


__all__ = ["ENDPOINTS", "ClientIdentity", "Endpoint", "bp", "endpoint", "service_context"]
