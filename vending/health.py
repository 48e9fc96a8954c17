"""Liveness and readiness routes for load balancers and the Docker health check."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .database import READ_ONLY, db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up (no database access: a slow database must not restart workers)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready to serve: the database answers and is migrated."""
    try:
        with db.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    if version is None:
        return jsonify({"status": "unavailable", "database": "not migrated"}), 503
    return jsonify({"status": "ok", "database": "ok", "schema": version})
