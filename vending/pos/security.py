"""Session, CSRF and role checks of the POS.

* The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure by configuration). It
  holds the user id, a CSRF token and two times: when the user signed in (absolute lifetime,
  ``POS_SESSION_HOURS``) and when they were last seen (idle timeout, ``POS_IDLE_MINUTES``).
  Times come from the service clock, so tests move them without sleeping.
* The user is re-read from the database on every request: a disabled account or a changed
  role takes effect at once, not when the cookie expires.
* Every POST must carry the session's CSRF token (``csrf_token`` form field), compared in
  constant time; the login form has one too (login CSRF).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, has_request_context, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

from ..database import db
from ..models import Role
from ..services import ServiceContext
from ..services.accounts import LANGUAGES, Operator, get_operator

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])
CSRF_FIELD = "csrf_token"


def service_context() -> ServiceContext:
    return ServiceContext.from_app(current_app._get_current_object(),  # type: ignore[attr-defined]
                                   db.session)


def csrf_token() -> str:
    """The session's CSRF token, created on first use (also before login)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Abort 400 unless the POST carries the session's token."""
    expected = session.get("csrf")
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(expected), given):
        abort(400, description="csrf")


def start_session(operator: Operator) -> None:
    """A fresh session for a signed-in user (new CSRF token; nothing carried over)."""
    now = service_context().now().timestamp()
    session.clear()
    session.permanent = True
    session["uid"] = operator.id
    session["login_at"] = now
    session["seen"] = now
    session["csrf"] = secrets.token_urlsafe(32)


def end_session() -> None:
    session.clear()


def load_operator() -> str | None:
    """Put the signed-in user on ``g.operator`` (or None). Returns why a session just ended
    ("idle", "expired", "disabled") so the login page can say so."""
    g.operator = None
    uid = session.get("uid")
    if uid is None:
        return None
    ctx = service_context()
    now = ctx.now().timestamp()
    idle = int(current_app.config.get("POS_IDLE_MINUTES", 15)) * 60
    lifetime = int(current_app.config.get("POS_SESSION_HOURS", 12)) * 3600
    if now - float(session.get("seen", 0)) > idle:
        end_session()
        return "idle"
    if now - float(session.get("login_at", 0)) > lifetime:
        end_session()
        return "expired"
    operator = get_operator(ctx, int(uid))
    if operator is None or not operator.enabled:
        end_session()
        return "disabled"
    session["seen"] = now
    g.operator = operator
    return None


def operator() -> Operator:
    op: Operator | None = g.get("operator")
    if op is None:
        abort(401)
    return op


def login_required(role: Role = Role.CLERK) -> Callable[[F], F]:
    """Require a signed-in user of at least ``role`` (clerk < supervisor < admin)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            op: Operator | None = g.get("operator")
            if op is None:
                return redirect(url_for("pos.login", next=request.full_path))
            if not op.at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def select_locale() -> str:
    """The signed-in user's language; before sign-in, the browser's preference."""
    if not has_request_context():
        return "en"
    op: Operator | None = g.get("operator")
    if op is not None and op.language in LANGUAGES:
        return op.language
    best = request.accept_languages.best_match(["en", "zh"])
    return "zh_Hans_CN" if best == "zh" else "en"


def before_pos_request() -> None:
    """Run before every POS view: load the user (idle/absolute timeouts), check CSRF."""
    g.session_ended = load_operator()
    if request.method == "POST":
        check_csrf()
