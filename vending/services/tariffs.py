"""Tariff documents (``load-tariff FILE.json``, the admin UI): each is one version of a tariff,
validated by the tariff engine's parser (docs/tariffs.md), which lists every problem at once."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from ..errors import ConflictError
from ..models import Tariff
from ..pricing import TariffRejectedError, parse_document
from . import audit
from .context import Actor, ServiceContext


def list_tariffs(ctx: ServiceContext) -> list[Tariff]:
    """Every stored tariff version, by code then effective date (newest last)."""
    return list(ctx.session.scalars(select(Tariff).order_by(Tariff.code, Tariff.effective_from)))


def validate_tariff_document(document: Any) -> tuple[str, date]:
    """The (code, effective_from) of a valid document; otherwise
    :class:`~vending.pricing.TariffRejectedError` (``invalid_tariff``) with every problem."""
    tariff = parse_document(document)
    return tariff.code, tariff.effective_from


def load_tariff(ctx: ServiceContext, document: Any, *, actor: Actor) -> Tariff:
    session = ctx.session
    try:
        code, effective = validate_tariff_document(document)
        currency = document["currency"]
        if currency != ctx.policy.currency:
            # Amounts are entered in the deployment's currency; a tariff in another would
            # price them as if they were its own.
            raise TariffRejectedError([f"$.currency: {currency} is not the deployment's "
                                       f"currency {ctx.policy.currency}"])
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
