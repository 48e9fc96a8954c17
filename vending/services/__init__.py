"""The service layer: every state change of the vending server, one unit of work per call.

Views (the bank API, the POS) and CLI commands build a :class:`ServiceContext` and call these;
services raise :mod:`vending.errors` domain errors and return frozen result objects whose
``as_json()`` is the wire form. Public API:

* :func:`confirm_meter`, :func:`trial_vend`, :func:`vend`, :func:`reprint`,
  :func:`find_vend`, :func:`reverse` (``vends``)
* :func:`engineering_token` with :class:`EngineeringKind` (``engineering``)
* :func:`add_vending_key`, :func:`set_current_krn`, :func:`rotate_master_key` (``keys``)
* :func:`import_meters`, :func:`set_meter_status` (``meters``)
* :func:`create_user`, :func:`authenticate` (``users``); :func:`load_tariff` (``tariffs``)
* :func:`start_campaign`, :func:`rekey_meter` (``rekey``)
"""

from .answers import MeterConfirmation, TokenLine, VendAnswer
from .context import Actor, ServiceContext, VendingPolicy
from .engineering import EngineeringKind, engineering_token
from .keys import VendingKeyInfo, add_vending_key, rotate_master_key, set_current_krn
from .meters import ImportReport, MeterImportError, RowError, import_meters, set_meter_status
from .rekey import RekeyOutcome, RekeyResult, rekey_meter, start_campaign
from .tariffs import load_tariff
from .users import authenticate, create_user
from .vends import confirm_meter, find_vend, parse_amount, reprint, reverse, trial_vend, vend

__all__ = [
    "Actor", "EngineeringKind", "ImportReport", "MeterConfirmation", "MeterImportError",
    "RekeyOutcome", "RekeyResult", "RowError", "ServiceContext", "TokenLine", "VendAnswer",
    "VendingKeyInfo", "VendingPolicy", "add_vending_key", "authenticate", "confirm_meter",
    "create_user", "engineering_token", "find_vend", "import_meters", "load_tariff",
    "parse_amount", "rekey_meter", "reprint", "reverse", "rotate_master_key",
    "set_current_krn", "set_meter_status", "start_campaign", "trial_vend", "vend",
]
