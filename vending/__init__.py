"""stsvend vending server: a Flask application factory in the microblog style.

``create_app(config_class)`` binds the extensions (database, security module, policy), the
health routes, the app-wide JSON error shape and the CLI commands. It never migrates the
database: migrations run before the server starts (``make run``, the Docker entry point).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from .database import db
from .security_module import security_module_from_config


def create_app(config_class: Any = None) -> Flask:
    if config_class is None:
        from config import Config

        config_class = Config
    validate = getattr(config_class, "validate", None)
    if callable(validate):
        validate()
    app = Flask(__name__)
    app.config.from_object(config_class)
    _configure_logging(app)

    db.init_app(app, app.config.get("STSVEND_ENGINE"))

    from .services.context import VendingPolicy

    app.extensions["stsvend.security_module"] = security_module_from_config(app.config)
    app.extensions["stsvend.policy"] = VendingPolicy.from_config(app.config)

    from .errors_json import register_error_handlers
    from .health import bp as health_bp

    register_error_handlers(app)
    app.register_blueprint(health_bp)

    from .cli import register_commands

    register_commands(app)
    from .api import init_app as init_api  # the bank vend API, /api/v1, and its CLI commands

    init_api(app)
    from .pos import init_app as init_pos  # the POS web UI at /, with Babel (docs/pos.md)

    init_pos(app)
    return app


def _configure_logging(app: Flask) -> None:
    level = getattr(logging, str(app.config.get("LOG_LEVEL", "INFO")).upper(), logging.INFO)
    app.logger.setLevel(level)
    logging.getLogger("vending").setLevel(level)
