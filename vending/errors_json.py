"""The one JSON error shape of the server, ``{"error": {"code", "message"}}``, registered
app-wide (CONTRACT §3). Domain errors carry their status; a database that cannot be reached
is 503; anything unexpected is a 500 whose message reveals nothing internal."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from .errors import VendingError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str) -> ResponseReturnValue:
    return jsonify({"error": {"code": code, "message": message}}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(VendingError)
    def _domain(exc: VendingError) -> ResponseReturnValue:
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(OperationalError)
    def _database(exc: DBAPIError) -> ResponseReturnValue:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return error_response(503, "database_unavailable", "the database is unavailable")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> ResponseReturnValue:
        # Log the type only: messages of lower layers are not vetted for secrets.
        log.error("unexpected %s", type(exc).__name__)
        return error_response(500, "internal_error", "internal error")
