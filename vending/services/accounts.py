"""POS sign-in and operator administration: password checks with a database-held lockout,
the user's UI language, enabling/disabling accounts and resetting passwords.

The lockout counts consecutive failures per account (``pos_accounts``); after
``max_failures`` the account refuses even the right password until ``locked_until``. It is
in the database, not the session, so dropping the cookie or hitting another gunicorn worker
does not reset it. Unknown usernames get the same answer and cost as a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import InvalidInputError, NotFoundError, VendingError
from ..models import PosAccount, Role, User
from . import audit
from .context import Actor, ServiceContext
from .users import MIN_PASSWORD_LENGTH, authenticate

LANGUAGES = ("en", "zh_Hans_CN")
ROLE_RANK = {Role.CLERK: 1, Role.SUPERVISOR: 2, Role.ADMIN: 3}
_hasher = PasswordHasher()  # argon2id with the library's defaults, as users.create_user


class LoginRefusedError(VendingError):
    """Sign-in refused: ``bad_credentials`` (unknown user, wrong password, disabled) or
    ``locked_out`` (too many failures; ``until`` says when it ends)."""

    status = 401

    def __init__(self, code: str, message: str, until: datetime | None = None) -> None:
        super().__init__(code, message)
        self.until = until


class NotAuthorisedError(VendingError):
    """The user's role does not allow the action (403)."""

    status = 403


@dataclass(frozen=True, slots=True)
class Operator:
    """The signed-in user as the POS needs it (no password hash)."""

    id: int
    username: str
    role: Role
    enabled: bool
    language: str

    @property
    def actor(self) -> Actor:
        return Actor("user", self.username)

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True, slots=True)
class OperatorRow:
    """One line of the user administration list."""

    id: int
    username: str
    role: Role
    enabled: bool
    language: str
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None


def _account(ctx: ServiceContext, user_id: int) -> PosAccount:
    """The user's POS row, created if missing and locked for the rest of the transaction, so
    two failed sign-ins racing each other both count (no lost update of the counter)."""
    session = ctx.session
    dialect = session.get_bind().dialect.name
    insert = {"postgresql": pg_insert, "sqlite": sqlite_insert}[dialect]
    session.execute(insert(PosAccount).values(user_id=user_id, language="en", failed_logins=0)
                    .on_conflict_do_nothing(index_elements=["user_id"]))
    return session.scalars(select(PosAccount).where(PosAccount.user_id == user_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def _operator(user: User, account: PosAccount | None) -> Operator:
    return Operator(id=user.id, username=user.username, role=user.role, enabled=user.enabled,
                    language=account.language if account else "en")


def _refuse_if_locked(account: PosAccount | None, now: datetime) -> None:
    if account is not None and account.locked_until and account.locked_until > now:
        raise LoginRefusedError("locked_out", "this account is locked after repeated failures",
                                until=account.locked_until)


def login(
    ctx: ServiceContext, username: str, password: str, *, max_failures: int,
    lockout: timedelta,
) -> Operator:
    """Check a sign-in and record its outcome (one commit). Raises :class:`LoginRefusedError`."""
    username = (username or "").strip()
    session = ctx.session
    try:
        now = ctx.now()
        user = session.scalars(select(User).where(User.username == username)).first()
        account = session.get(PosAccount, user.id) if user is not None else None
        _refuse_if_locked(account, now)  # before spending a password check on it
        checked = authenticate(ctx, username, password)  # rolls back: re-read our rows
        if user is not None:
            account = _account(ctx, user.id)
            _refuse_if_locked(account, now)  # locked by a racing request meanwhile
        if checked is None:
            if account is not None:
                account.failed_logins += 1
                if account.failed_logins >= max_failures:
                    account.locked_until = now + lockout
                    account.failed_logins = 0
                    audit.record(session, Actor("user", username), "user.locked_out", "user",
                                 username, after={"until": account.locked_until.isoformat()})
                session.commit()
            raise LoginRefusedError("bad_credentials", "wrong username or password")
        assert account is not None and user is not None
        account.failed_logins = 0
        account.locked_until = None
        account.last_login_at = now
        operator = _operator(user, account)
        session.commit()
        return operator
    finally:
        session.rollback()


def verify_approver(
    ctx: ServiceContext, username: str, password: str, *, role: Role, max_failures: int,
    lockout: timedelta,
) -> Operator:
    """A supervisor's approval typed in at a clerk's till: the same checks (and the same
    lockout) as a sign-in, then the role. Raises :class:`LoginRefusedError` or
    :class:`NotAuthorisedError`."""
    approver = login(ctx, username, password, max_failures=max_failures, lockout=lockout)
    if not approver.at_least(role):
        raise NotAuthorisedError("not_authorised", f"{approver.username} may not approve this")
    return approver


def get_operator(ctx: ServiceContext, user_id: int) -> Operator | None:
    """The user behind a session, or None when it no longer exists (no write)."""
    try:
        user = ctx.session.get(User, user_id)
        if user is None:
            return None
        return _operator(user, ctx.session.get(PosAccount, user_id))
    finally:
        ctx.session.rollback()


def set_language(ctx: ServiceContext, user_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise InvalidInputError("invalid_language", f"language is one of {', '.join(LANGUAGES)}")
    try:
        _account(ctx, user_id).language = language
        ctx.session.commit()
    finally:
        ctx.session.rollback()


def list_operators(ctx: ServiceContext) -> list[OperatorRow]:
    try:
        rows = ctx.session.execute(
            select(User, PosAccount).outerjoin(PosAccount, PosAccount.user_id == User.id)
            .order_by(User.username)
        ).all()
        return [OperatorRow(id=u.id, username=u.username, role=u.role, enabled=u.enabled,
                            language=a.language if a else "en",
                            failed_logins=a.failed_logins if a else 0,
                            locked_until=a.locked_until if a else None,
                            last_login_at=a.last_login_at if a else None) for u, a in rows]
    finally:
        ctx.session.rollback()


def _user(ctx: ServiceContext, user_id: int) -> User:
    user = ctx.session.get(User, user_id)
    if user is None:
        raise NotFoundError("unknown_user", f"user {user_id} does not exist")
    return user


def set_enabled(ctx: ServiceContext, user_id: int, enabled: bool, *, actor: Actor) -> None:
    """Disable (or re-enable) an account; a disabled user's open session ends at its next
    request, because the POS re-reads the user on every request."""
    try:
        user = _user(ctx, user_id)
        if user.enabled != enabled:
            audit.record(ctx.session, actor, "user.enabled" if enabled else "user.disabled",
                         "user", user.username, before={"enabled": user.enabled},
                         after={"enabled": enabled})
            user.enabled = enabled
        ctx.session.commit()
    finally:
        ctx.session.rollback()


def reset_password(ctx: ServiceContext, user_id: int, password: str, *, actor: Actor) -> None:
    """Set a new password (argon2id) and lift any lockout."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError("weak_password",
                                f"password needs at least {MIN_PASSWORD_LENGTH} characters")
    try:
        user = _user(ctx, user_id)
        user.password_hash = _hasher.hash(password)
        account = _account(ctx, user_id)
        account.failed_logins, account.locked_until = 0, None
        audit.record(ctx.session, actor, "user.password_reset", "user", user.username)
        ctx.session.commit()
    finally:
        ctx.session.rollback()


def set_role(ctx: ServiceContext, user_id: int, role: Role | str, *, actor: Actor) -> None:
    """Change a user's role; it applies from their next request (the POS re-reads it)."""
    try:
        new = Role(role)
    except ValueError:
        raise InvalidInputError("invalid_role", "role is admin, supervisor or clerk") from None
    try:
        user = _user(ctx, user_id)
        if user.role is not new:
            audit.record(ctx.session, actor, "user.role", "user", user.username,
                         before={"role": user.role.value}, after={"role": new.value})
            user.role = new
        ctx.session.commit()
    finally:
        ctx.session.rollback()
