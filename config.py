"""Deployment settings, read from the environment (documented in README.md and .env.example).

Secrets fail fast: :func:`Config.validate` refuses to build an app without ``SECRET_KEY`` and
``STSVEND_MASTER_KEYS``. The one exception is the embedded developer default: ``make run``
(``vending.devserver``) writes ``instance/secrets.env`` once, with mode 0600, and a missing
variable is read from that file when it exists. Nothing here invents a secret at run time.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("STSVEND_INSTANCE_DIR", BASE_DIR / "instance"))
INSTANCE_SECRETS_FILE = INSTANCE_DIR / "secrets.env"
DEFAULT_DATABASE_URL = f"sqlite:///{INSTANCE_DIR / 'stsvend.db'}"


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message names the variable."""


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a dotenv-style file (no quoting, ``#`` comments)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def _secret(name: str) -> str | None:
    """An environment secret, falling back to the instance secret file of ``make run``."""
    value = os.environ.get(name)
    if value:
        return value
    return read_env_file(INSTANCE_SECRETS_FILE).get(name) or None


def _decimal(name: str, default: str) -> Decimal:
    text = os.environ.get(name, default)
    try:
        return Decimal(text)
    except ArithmeticError:
        raise ConfigError(f"{name} must be a decimal number, got {text!r}") from None


def _int(name: str, default: int) -> int:
    text = os.environ.get(name, str(default))
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {text!r}") from None


class Config:
    """Production settings. Class attributes are read once, when this module is imported."""

    SECRET_KEY = _secret("SECRET_KEY")
    # "kid:base64(32 bytes),kid2:..."; the first entry seals new keys, the others only unseal.
    STSVEND_MASTER_KEYS = _secret("STSVEND_MASTER_KEYS")
    DATABASE_URL = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    # Test each pooled connection with a round trip before use ("true"), or find a dead one
    # on use (default): after a database restart the first request of each worker then fails
    # with 503 database_unavailable, and a retry with the same request_id is safe.
    DATABASE_PRE_PING = os.environ.get("DATABASE_PRE_PING", "false").lower() == "true"
    # "software" (the default) or "module.path:factory" for a hardware security module adapter.
    STSVEND_SECURITY_MODULE = os.environ.get("STSVEND_SECURITY_MODULE", "software")
    STSVEND_DEFAULT_TARIFF = os.environ.get("STSVEND_DEFAULT_TARIFF", "RES")
    STSVEND_CURRENCY = os.environ.get("STSVEND_CURRENCY", "ZAR")
    STSVEND_MIN_VEND_AMOUNT = _decimal("STSVEND_MIN_VEND_AMOUNT", "1.00")
    STSVEND_MAX_VEND_AMOUNT = _decimal("STSVEND_MAX_VEND_AMOUNT", "10000.00")
    STSVEND_REVERSAL_WINDOW_MINUTES = _int("STSVEND_REVERSAL_WINDOW_MINUTES", 15)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    TESTING = False
    # POS web UI (docs/pos.md): session cookie, idle/absolute timeouts, login lockout, clock.
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "true").lower() != "false"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    POS_IDLE_MINUTES = _int("POS_IDLE_MINUTES", 15)
    POS_SESSION_HOURS = _int("POS_SESSION_HOURS", 12)
    POS_LOCKOUT_ATTEMPTS = _int("POS_LOCKOUT_ATTEMPTS", 5)
    POS_LOCKOUT_MINUTES = _int("POS_LOCKOUT_MINUTES", 15)
    STSVEND_TIMEZONE = os.environ.get("STSVEND_TIMEZONE", "UTC")  # shown on screens, receipts

    @classmethod
    def validate(cls) -> None:
        """Raise :class:`ConfigError` naming every missing secret."""
        missing = [name for name in ("SECRET_KEY", "STSVEND_MASTER_KEYS") if not getattr(cls, name)]
        if missing:
            raise ConfigError(
                "missing required setting(s): " + ", ".join(missing)
                + " (set them in the environment; see .env.example)"
            )
        low, high = cls.STSVEND_MIN_VEND_AMOUNT, cls.STSVEND_MAX_VEND_AMOUNT
        if low <= 0 or high < low:
            raise ConfigError("need 0 < STSVEND_MIN_VEND_AMOUNT <= STSVEND_MAX_VEND_AMOUNT")
