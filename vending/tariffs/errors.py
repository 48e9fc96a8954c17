"""The tariff engine's exceptions, rooted in :class:`ValueError` like the token library's.

A rejected tariff document must be fixable in one round trip, so :class:`TariffError` carries
*every* problem found (each prefixed by its JSON path), not just the first. A refused vend
carries a stable machine ``code`` that the API maps to its 422 answer.
"""

from __future__ import annotations

from decimal import Decimal


class TariffError(ValueError):
    """A tariff document (or a set of versions) is invalid; ``problems`` lists every problem."""

    code = "tariff_invalid"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) if self.problems else "invalid tariff")


class TariffNotInForce(TariffError):  # noqa: N818 - reads as a sentence at the raise site
    """No version of the tariff is in force at the requested instant."""

    code = "tariff_not_in_force"


class VendLimitError(ValueError):
    """The tariff refuses this vend amount.

    ``code`` is one of ``amount_invalid`` (not positive, or finer than the currency's minor
    unit), ``amount_below_minimum``, ``amount_above_maximum`` and ``amount_below_charges`` (the
    amount does not cover the fixed charges due); ``limit`` is the bound that was crossed, as a
    decimal amount, when there is one.
    """

    def __init__(self, code: str, message: str, limit: Decimal | None = None) -> None:
        self.code = code
        self.limit = limit
        super().__init__(message)
