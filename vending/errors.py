"""Domain errors raised by the services. Each carries a stable ``code`` (the ``error.code`` of
the API's JSON error shape) and maps to one HTTP status through its class (CONTRACT §3), so
the API and the POS translate them without knowing the rule that failed."""

from __future__ import annotations


class VendingError(Exception):
    """Base of the domain errors. ``str(exc)`` is safe to show (never key material)."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidInputError(VendingError):
    """Malformed or invalid input: bad amount, failed check digit, bad CSV row (400)."""

    status = 400


class NotFoundError(VendingError):
    """Unknown meter, vend or user (404)."""

    status = 404


class ConflictError(VendingError):
    """A ``request_id`` reused with another body (409)."""

    status = 409


class BusinessRuleError(VendingError):
    """A valid request the rules refuse: blocked meter, limits, not reversible (422)."""

    status = 422


class KeyChangeImpossibleError(BusinessRuleError):
    """The meter needs a new key that the supply group does not have (422)."""
