"""SQLAlchemy 2 typed models of the vending server (``select()`` everywhere, never
``Model.query``). Importing this package registers every table on :data:`Base.metadata`."""

from .accounts import PosAccount
from .api_clients import ApiClient
from .audit import AuditEntry
from .base import Base, utcnow
from .keys import SupplyGroup, VendingKey
from .meters import Customer, Meter, MeterStatus
from .pricing import ChargeCollection, Debt, DebtPayment, FbeIssue, VendPricing
from .readings import MeterReading
from .shifts import Shift, ShiftStatus
from .tariffs import Tariff
from .types import ExactDecimal, UTCDateTime
from .users import Role, User
from .vends import Counter, IssuedToken, TokenType, Vend, VendKind, VendStatus

__all__ = [
    "ApiClient", "AuditEntry", "Base", "ChargeCollection", "Counter", "Customer", "Debt",
    "DebtPayment", "ExactDecimal", "FbeIssue", "IssuedToken",
    "Meter", "MeterReading", "MeterStatus", "PosAccount", "Role", "Shift", "ShiftStatus",
    "SupplyGroup", "Tariff", "TokenType",
    "UTCDateTime", "User", "Vend", "VendKind", "VendPricing", "VendStatus", "VendingKey",
    "utcnow",
]
