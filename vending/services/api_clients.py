"""API clients of the bank vend API: creation (the key is shown once), authentication with
scope check and the shared rate limit, vendor credit (the client's float) and ownership of
vends. Units of work like every service. A vend debits the float with its own rows
(:func:`vending.services.vends.vend`'s ``vendor_float``); a reversal credits it back with the
``on_reverse`` hook :func:`credit_back`.

Keys are ``sv_<prefix>_<secret>``: an 8-hex-digit random prefix (not secret, used to find the
row) and 32 random bytes. Only SHA-256 of the whole key is stored; a 256-bit random secret
needs no slow hash. Keys never appear in logs, reprs, errors or answers.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import (
    BusinessRuleError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    VendingError,
)
from ..models import ApiClient, Vend
from . import audit
from .context import Actor, ServiceContext

KEY_PATTERN = re.compile(r"sv_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}")
DEFAULT_RATE_PER_S = 20.0
DEFAULT_BURST = 40


class Scope(enum.StrEnum):
    VEND = "vend"
    ENGINEERING = "engineering"
    READINGS = "readings"


class AuthenticationError(VendingError):
    """Missing, malformed or unknown API key (401)."""

    status = 401


class PermissionDeniedError(VendingError):
    """A known client without the scope, or a disabled client (403)."""

    status = 403


class RateLimitedError(VendingError):
    """The client's token bucket is empty (429); ``retry_after`` is whole seconds."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited",
                         f"too many requests; retry after {retry_after} second(s)")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """An authenticated client as the views see it (no key material)."""

    id: int
    name: str
    scopes: frozenset[str]
    # A float never appears on a client created without one (top-ups refuse such clients).
    has_float: bool = True

    @property
    def actor(self) -> Actor:
        # ``api:<id>``: also the client half of the vend idempotency key (client, request_id).
        return Actor("api", str(self.id))


@dataclass(frozen=True, slots=True)
class NewApiClient:
    """The result of :func:`create_api_client`: ``api_key`` exists only here, once."""

    id: int
    name: str
    scopes: tuple[str, ...]
    api_key: str = ""

    def __repr__(self) -> str:
        return f"NewApiClient(id={self.id}, name={self.name!r}, scopes={self.scopes})"


@dataclass(frozen=True, slots=True)
class ClientStatus:
    """What a client may know about itself (``GET /api/v1/client``)."""

    id: int
    name: str
    scopes: tuple[str, ...]
    vendor_credit: Decimal | None
    rate_per_s: float | None
    burst: int | None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("ascii")).hexdigest()


def parse_scopes(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    names = sorted({s.strip() for s in items if s.strip()})
    if not names:
        raise InvalidInputError("invalid_scopes", "at least one scope is required")
    unknown = [s for s in names if s not in set(Scope)]
    if unknown:
        raise InvalidInputError("invalid_scopes", f"unknown scope(s): {', '.join(unknown)}; "
                                f"known: {', '.join(s.value for s in Scope)}")
    return tuple(names)


def parse_money(value: object, decimals: int, *, allow_zero: bool = True) -> Decimal:
    """A non-negative decimal amount with at most ``decimals`` places (no floats)."""
    if isinstance(value, float | bool):
        raise InvalidInputError("invalid_amount", "amounts are decimal strings, not floats")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInputError("invalid_amount", f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
        raise InvalidInputError("invalid_amount", "the amount must not be negative")
    if amount != amount.quantize(Decimal(1).scaleb(-decimals)) or amount >= Decimal(10) ** 12:
        raise InvalidInputError("invalid_amount",
                                f"the amount has more than {decimals} decimals or is too big")
    return amount


def create_api_client(
    ctx: ServiceContext, *, name: str, scopes: str | Iterable[str], actor: Actor,
    vendor_credit: object | None = None, rate_per_s: float | None = DEFAULT_RATE_PER_S,
    burst: int | None = DEFAULT_BURST,
) -> NewApiClient:
    """Register a client and return its API key (the only time it exists in clear).

    ``vendor_credit`` None: the client vends without a float; otherwise its opening float.
    ``rate_per_s`` None: no rate limit."""
    name = (name or "").strip()
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidInputError("invalid_name", "a client name is 1-80 letters, digits, "
                                "spaces, dots, dashes or underscores")
    scope_list = parse_scopes(scopes)
    credit = None if vendor_credit is None else parse_money(
        vendor_credit, ctx.policy.currency_decimals)
    if rate_per_s is not None and not 0 < rate_per_s <= 1_000_000:
        raise InvalidInputError("invalid_rate", "the rate limit must be > 0 requests/s")
    if burst is not None and not 1 <= burst <= 1_000_000:
        raise InvalidInputError("invalid_rate", "the burst must be 1..1000000 requests")
    if rate_per_s is not None and burst is None:
        burst = max(1, int(rate_per_s))
    prefix = secrets.token_hex(4)
    api_key = f"sv_{prefix}_{secrets.token_urlsafe(32)}"
    session = ctx.session
    try:
        client = ApiClient(name=name, key_prefix=prefix, key_hash=hash_key(api_key),
                           scopes=",".join(scope_list), enabled=True, vendor_credit=credit,
                           rate_per_s=rate_per_s, burst=burst if rate_per_s else None,
                           bucket_level=float(burst or 0), bucket_at=ctx.now().timestamp())
        session.add(client)
        session.flush()
        audit.record(session, actor, "api_client.created", "api_client", client.id,
                     after={"name": name, "scopes": list(scope_list), "key_prefix": prefix,
                            "vendor_credit": None if credit is None else str(credit),
                            "rate_per_s": rate_per_s, "burst": client.burst})
        result = NewApiClient(id=client.id, name=name, scopes=scope_list, api_key=api_key)
        session.commit()
        return result
    except IntegrityError:
        raise ConflictError("client_exists", f"an API client named {name!r} exists") from None
    finally:
        session.rollback()


def _client_by_name(session: Session, name: str) -> ApiClient:
    client = session.scalars(select(ApiClient).where(ApiClient.name == name)
                             .with_for_update()).first()
    if client is None:
        raise NotFoundError("unknown_client", f"no API client is named {name!r}")
    return client


def set_client_enabled(ctx: ServiceContext, name: str, enabled: bool, *, actor: Actor) -> None:
    """Disable (or re-enable) a client: a disabled client is refused on every path."""
    session = ctx.session
    try:
        client = _client_by_name(session, name)
        audit.record(session, actor, "api_client.enabled", "api_client", client.id,
                     before={"enabled": client.enabled}, after={"enabled": enabled})
        client.enabled = enabled
        session.commit()
    finally:
        session.rollback()


def add_vendor_credit(ctx: ServiceContext, name: str, amount: object, *,
                      actor: Actor) -> Decimal:
    """Top up a client's float (a vendor deposit); returns the new balance."""
    value = parse_money(amount, ctx.policy.currency_decimals, allow_zero=False)
    session = ctx.session
    try:
        client = _client_by_name(session, name)
        if client.vendor_credit is None:
            raise BusinessRuleError("no_vendor_float", f"client {name!r} vends without a float")
        before = client.vendor_credit
        client.vendor_credit = before + value
        audit.record(session, actor, "api_client.credit", "api_client", client.id,
                     before={"vendor_credit": str(before)},
                     after={"vendor_credit": str(client.vendor_credit), "added": str(value)})
        balance = client.vendor_credit
        session.commit()
        return balance
    finally:
        session.rollback()


_AC = ApiClient.__table__
_CLIENT_BY_PREFIX = select(
    _AC.c.id, _AC.c.name, _AC.c.key_hash, _AC.c.scopes, _AC.c.enabled,
    _AC.c.vendor_credit.is_not(None).label("has_float"),
    _AC.c.rate_per_s.is_not(None).label("limited"),
).where(_AC.c.key_prefix == bindparam("prefix"))


def authorize(ctx: ServiceContext, api_key: str | None, scope: Scope | None) -> ClientIdentity:
    """Authenticate ``api_key``, check ``scope`` (None: any authenticated client) and take one
    token from the client's bucket.

    The bucket is refilled and taken in one guarded ``UPDATE`` on the client row, committed at
    once (so the row is not held while the request runs), so all workers and hosts share it
    without a read-modify-write race. A client without a rate limit causes no write: its
    read-only check is left open to be continued by the request's own unit of work, which
    saves the rollback, the pool check-out and the BEGIN of a second transaction (three of
    the dozen or so round trips of a whole vend). On any refusal the session is rolled back."""
    if not api_key:
        raise AuthenticationError("missing_api_key",
                                  "send the API key as 'Authorization: Bearer KEY'")
    match = KEY_PATTERN.fullmatch(api_key)
    if match is None:
        raise AuthenticationError("invalid_api_key", "the API key is not valid")
    session = ctx.session
    done = False
    try:
        # Plain columns, not an ORM entity: this runs on every request.
        client = session.connection().execute(_CLIENT_BY_PREFIX,
                                              {"prefix": match.group(1)}).first()
        # Compare hashes in constant time; an unknown prefix still pays for one comparison.
        stored = client.key_hash if client is not None else "0" * 64
        if not hmac.compare_digest(stored, hash_key(api_key)) or client is None:
            raise AuthenticationError("invalid_api_key", "the API key is not valid")
        if not client.enabled:
            raise PermissionDeniedError("client_disabled", "this API client is disabled")
        identity = ClientIdentity(id=client.id, name=client.name,
                                  scopes=frozenset(s for s in client.scopes.split(",") if s),
                                  has_float=bool(client.has_float))
        if scope is not None and scope.value not in identity.scopes:
            raise PermissionDeniedError("insufficient_scope",
                                        f"this API key lacks the '{scope.value}' scope")
        if client.limited:
            _take_token(session, client.id, ctx.now().timestamp())
            session.commit()
        done = True
        return identity
    finally:
        if not done:
            session.rollback()


def _take_token(session: Session, client_id: int, now: float) -> None:
    rate, burst = ApiClient.rate_per_s, ApiClient.burst
    elapsed = case((ApiClient.bucket_at < now, now - ApiClient.bucket_at), else_=0.0)
    refilled = ApiClient.bucket_level + elapsed * rate
    level = case((refilled > burst, burst), else_=refilled)
    taken = session.execute(
        update(ApiClient).where(ApiClient.id == client_id, ApiClient.burst.is_not(None),
                                level >= 1.0)
        .values(bucket_level=level - 1.0,
                bucket_at=case((ApiClient.bucket_at < now, now), else_=ApiClient.bucket_at))
        .returning(ApiClient.id).execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        row = session.execute(select(ApiClient.rate_per_s, ApiClient.burst,
                                     ApiClient.bucket_level, ApiClient.bucket_at)
                              .where(ApiClient.id == client_id)).one()
        rate_now = float(row.rate_per_s or 1)
        deficit = 1.0 - min(float(row.burst or 1),
                            row.bucket_level + max(0.0, now - row.bucket_at) * rate_now)
        raise RateLimitedError(max(1, int(-(-deficit // rate_now))))


def client_status(ctx: ServiceContext, client_id: int) -> ClientStatus:
    try:
        client = ctx.session.get(ApiClient, client_id)
        if client is None:
            raise NotFoundError("unknown_client", "the API client does not exist")
        return ClientStatus(id=client.id, name=client.name, scopes=tuple(sorted(client.scope_set)),
                            vendor_credit=client.vendor_credit, rate_per_s=client.rate_per_s,
                            burst=client.burst)
    finally:
        ctx.session.rollback()


def credit_back(client_id: int) -> Callable[[Session, Vend], None]:
    """The ``on_reverse`` hook: a reversed vend returns its amount to the float it came from."""

    def hook(session: Session, vend_row: Vend) -> None:
        session.execute(
            update(ApiClient).where(ApiClient.id == client_id,
                                    ApiClient.vendor_credit.is_not(None))
            .values(vendor_credit=ApiClient.vendor_credit + vend_row.amount)
            .execution_options(synchronize_session=False))

    return hook


def vend_client_ref(ctx: ServiceContext, vend_id: int) -> str | None:
    """Who made a vend (its idempotency client), or None when there is no such vend."""
    try:
        return ctx.session.scalar(select(Vend.client_ref).where(Vend.id == vend_id))
    finally:
        ctx.session.rollback()
