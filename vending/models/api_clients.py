"""API clients of the bank vend API (``/api/v1``): banks, mobile-money channels, third-party
vendors, meters and gateways that post readings.

The API key itself is never stored: only its SHA-256 hash and a short non-secret prefix used
to find the row (so a lookup never scans and never compares secrets in SQL). The rate-limit
token bucket and the vendor credit (the client's float) live on the same row so that every
gunicorn worker and host shares them through the database.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow
from .types import ExactDecimal, UTCDateTime


class ApiClient(Base):
    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)  # not secret
    key_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the whole key
    scopes: Mapped[str] = mapped_column(String(120))  # comma-separated, sorted
    enabled: Mapped[bool] = mapped_column(default=True)
    # Vendor credit (float): None means the client vends without a float (the utility's own
    # channels); otherwise every vend is debited here and refused when it would go below 0.
    vendor_credit: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    # Token bucket: ``rate_per_s`` requests per second sustained, ``burst`` at once; None is no
    # limit. The bucket level and the time (epoch seconds) it was last refilled; these are
    # request counts, not money, so binary floats are fine here.
    rate_per_s: Mapped[float | None] = mapped_column(Float)
    burst: Mapped[int | None]
    bucket_level: Mapped[float] = mapped_column(Float, default=0.0)
    bucket_at: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)

    def __repr__(self) -> str:  # never the key or its hash
        return f"<ApiClient {self.id} {self.name} scopes={self.scopes}>"
