"""The bank vend API, ``/api/v1`` (CONTRACT §3, docs/api.md): the blueprint, its error
handling (the app-wide JSON shape plus ``Retry-After`` and ``WWW-Authenticate``), the
OpenAPI document and docs page, and the API-client CLI commands. ``init_app`` is the one call
``create_app`` makes."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from flask.typing import ResponseReturnValue

from ..errors import VendingError
from ..services.api_clients import AuthenticationError, RateLimitedError
from . import views  # noqa: F401  (declares the routes on the blueprint)
from .openapi import docs_page, openapi_document
from .routing import bp


@bp.errorhandler(VendingError)
def _domain_error(exc: VendingError) -> ResponseReturnValue:
    response = jsonify({"error": {"code": exc.code, "message": exc.message}})
    response.status_code = exc.status
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, AuthenticationError):
        response.headers["WWW-Authenticate"] = 'Bearer realm="stsvend"'
    return response


@bp.after_request
def _no_store(response: Response) -> Response:
    # Answers carry tokens (bearer values until entered): no cache may keep them.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/openapi.json")
def openapi_json() -> ResponseReturnValue:
    return jsonify(openapi_document())


@bp.get("/docs")
def docs() -> ResponseReturnValue:
    return Response(docs_page(), mimetype="text/html")


def init_app(app: Flask) -> None:
    from .cli import register

    app.register_blueprint(bp)
    register(app)
