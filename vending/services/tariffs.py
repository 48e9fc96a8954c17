"""Tariff documents (``load-tariff FILE.json``). Today only the flat-rate form is validated:
``{"code": "RES", "effective_from": "2026-01-01", "currency": "ZAR", "energy": {"flat":
"2.50"}}``; the tariff engine of ``vending/tariffs/`` extends this validation."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import select

from ..errors import ConflictError, InvalidInputError
from ..models import Tariff
from ..pricing import flat_rate
from . import audit
from .context import Actor, ServiceContext

_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def validate_tariff_document(document: Any) -> tuple[str, date]:
    if not isinstance(document, dict):
        raise InvalidInputError("invalid_tariff", "a tariff document is a JSON object")
    code = document.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise InvalidInputError("invalid_tariff", "code: 1-32 letters, digits or _ . -")
    try:
        effective = date.fromisoformat(str(document.get("effective_from")))
    except ValueError:
        raise InvalidInputError("invalid_tariff",
                                "effective_from must be an ISO date (YYYY-MM-DD)") from None
    flat_rate(document)
    return code, effective


def load_tariff(ctx: ServiceContext, document: Any, *, actor: Actor) -> Tariff:
    session = ctx.session
    try:
        code, effective = validate_tariff_document(document)
        exists = session.scalars(select(Tariff).where(Tariff.code == code,
                                                      Tariff.effective_from == effective)).first()
        if exists is not None:
            raise ConflictError("tariff_exists",
                                f"tariff {code} effective {effective} is already loaded")
        tariff = Tariff(code=code, effective_from=effective, document=document)
        session.add(tariff)
        session.flush()
        audit.record(session, actor, "tariff.loaded", "tariff", f"{code}@{effective}",
                     after=document)
        session.commit()
        return tariff
    finally:
        session.rollback()
