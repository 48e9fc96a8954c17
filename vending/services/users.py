"""Operator accounts: create users with argon2id password hashes, and check passwords."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ..errors import ConflictError, InvalidInputError
from ..models import Role, User
from . import audit
from .context import Actor, ServiceContext

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
MIN_PASSWORD_LENGTH = 8


def create_user(
    ctx: ServiceContext, *, username: str, role: Role | str, password: str, actor: Actor
) -> User:
    session = ctx.session
    try:
        if not _USERNAME.match(username or ""):
            raise InvalidInputError("invalid_username",
                                    "username: 1-80 letters, digits or _ . @ -")
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInputError("invalid_role", "role is admin, supervisor or clerk") from None
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInputError("weak_password",
                                    f"password needs at least {MIN_PASSWORD_LENGTH} characters")
        if session.scalars(select(User).where(User.username == username)).first():
            raise ConflictError("user_exists", f"user {username} already exists")
        user = User(username=username, role=role, password_hash=_hasher.hash(password))
        session.add(user)
        session.flush()
        audit.record(session, actor, "user.created", "user", username,
                     after={"role": role.value})
        session.commit()
        return user
    finally:
        session.rollback()


def authenticate(ctx: ServiceContext, username: str, password: str) -> User | None:
    """The enabled user with this password, or None (same answer for unknown users)."""
    try:
        user = ctx.session.scalars(select(User).where(User.username == username)).first()
        if user is None or not user.enabled:
            _hasher.hash(password)  # spend the same time as a real check
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        return user
    finally:
        ctx.session.rollback()
