"""Jinja filters that keep numbers unambiguous on screen and paper: money and energy as
fixed-point decimals (never floats, never locale digit grouping that could be misread), times
in the deployment's zone, tokens in groups of four."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Flask, current_app
from flask_babel import format_datetime, get_timezone

from ..services.answers import decimal_text


def money(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return ""
    return decimal_text(Decimal(str(value)), 2)


def kwh(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return ""
    return decimal_text(Decimal(str(value)), 1)


def localtime(value: datetime | None) -> str:
    """Local wall time of the deployment (``STSVEND_TIMEZONE``), ISO order, with the zone."""
    if value is None:
        return ""
    return format_datetime(value, "yyyy-MM-dd HH:mm:ss")


def token_groups(digits: str) -> list[str]:
    return [digits[i:i + 4] for i in range(0, len(digits), 4)]


def register_filters(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(kwh)
    app.add_template_filter(localtime)
    app.add_template_filter(token_groups)

    @app.context_processor
    def _globals() -> dict[str, object]:
        from .security import csrf_token

        return {"csrf_token": csrf_token, "currency": current_app.config.get(
            "STSVEND_CURRENCY", ""), "timezone_name": lambda: str(get_timezone())}
