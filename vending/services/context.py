"""What every service call gets: the session (its unit of work), the security module, the
deployment policy and a clock. Services never see ``request``; views and CLI commands build
a :class:`ServiceContext` with :func:`ServiceContext.from_app` and pass an :class:`Actor`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from ..security_module import SecurityModule


def utc_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class VendingPolicy:
    """Business settings of the deployment (config.py)."""

    min_amount: Decimal = Decimal("1.00")
    max_amount: Decimal = Decimal("10000.00")
    reversal_window: timedelta = timedelta(minutes=15)
    default_tariff: str = "RES"
    currency: str = "ZAR"
    currency_decimals: int = 2

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VendingPolicy:
        return cls(
            min_amount=Decimal(config["STSVEND_MIN_VEND_AMOUNT"]),
            max_amount=Decimal(config["STSVEND_MAX_VEND_AMOUNT"]),
            reversal_window=timedelta(minutes=int(config["STSVEND_REVERSAL_WINDOW_MINUTES"])),
            default_tariff=str(config["STSVEND_DEFAULT_TARIFF"]),
            currency=str(config["STSVEND_CURRENCY"]),
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: ``user:alice`` (POS), ``api:7`` (an API client), ``cli:admin``, ``system:...``.

    ``ref`` is also the *client* half of the idempotency key (client, request_id): a POS clerk
    and an API client each have their own request-id space.
    """

    kind: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return self.ref


@dataclass(slots=True)
class ServiceContext:
    session: Session
    security: SecurityModule
    policy: VendingPolicy = field(default_factory=VendingPolicy)
    clock: Callable[[], datetime] = utc_clock

    @classmethod
    def from_app(cls, app: Flask, session: Session) -> ServiceContext:
        return cls(session=session, security=app.extensions["stsvend.security_module"],
                   policy=app.extensions["stsvend.policy"],
                   clock=app.extensions.get("stsvend.clock", utc_clock))

    def now(self) -> datetime:
        at = self.clock()
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("the service clock must return aware datetimes")
        return at.astimezone(UTC)
