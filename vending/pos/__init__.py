"""The point-of-sale web UI for vending clerks (docs/pos.md).

Server-rendered Jinja pages with one small script; every asset is served by the app (a
Content-Security-Policy of ``'self'`` enforces it). Views call the services with a
:class:`~vending.services.ServiceContext`; the helpers in :mod:`vending.pos.security` keep the
session, CSRF and role checks in one place. ``init_app`` is the only hook ``create_app`` needs.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import Babel

from .filters import register_filters
from .security import select_locale


def init_app(app: Flask) -> None:
    """Bind Babel (per-user language, the deployment's display time zone) and the blueprints."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", "en")
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("STSVEND_TIMEZONE", "UTC"))
    Babel(app, locale_selector=select_locale)
    register_filters(app)

    from .admin import bp as admin_bp
    from .views import bp as pos_bp

    app.register_blueprint(pos_bp)
    app.register_blueprint(admin_bp)
