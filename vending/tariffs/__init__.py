"""The tariff engine: tariff documents, periods and time of use, and the pricing of vends.

Pure: no Flask, no database, no clock. The vending service loads the versions of a tariff,
picks the one in force with :func:`select_version`, builds a :class:`PurchaseState` from its
records and calls :func:`quote_vend`; dashboards call :func:`price_consumption`. The document
format and the pricing rules are specified in ``docs/tariffs.md``.
"""

from vending.tariffs.calendar import TouCalendar, TouPeriod
from vending.tariffs.document import (
    Blocks,
    BlockStep,
    DebtRecovery,
    Energy,
    FixedCharge,
    FreeBasic,
    PriceSegment,
    Tariff,
    Tax,
    VendLimits,
    parse_tariff,
)
from vending.tariffs.engine import (
    BreakdownLine,
    ChargeLine,
    ConsumptionCost,
    Debt,
    DebtPayment,
    PurchaseState,
    Quote,
    fbe_due,
    price_consumption,
    quote_vend,
    select_version,
)
from vending.tariffs.errors import TariffError, TariffNotInForce, VendLimitError

__all__ = [
    "BlockStep",
    "Blocks",
    "BreakdownLine",
    "ChargeLine",
    "ConsumptionCost",
    "Debt",
    "DebtPayment",
    "DebtRecovery",
    "Energy",
    "FixedCharge",
    "FreeBasic",
    "PriceSegment",
    "PurchaseState",
    "Quote",
    "Tariff",
    "TariffError",
    "TariffNotInForce",
    "Tax",
    "TouCalendar",
    "TouPeriod",
    "VendLimitError",
    "VendLimits",
    "fbe_due",
    "parse_tariff",
    "price_consumption",
    "quote_vend",
    "select_version",
]
