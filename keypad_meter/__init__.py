"""stsvend keypad meter: a software STS prepaid electricity meter (issue 3, CONTRACT §2).

A transport-free state machine (:class:`Meter` over a :class:`MeterState`) plus thin adapters:
the state file (:mod:`.storage`), the command line (:mod:`.cli`), the serial line protocol
(:mod:`.serial_link`), the terminal keypad (:mod:`.keypad`) and telemetry (:mod:`.telemetry`).
It uses :mod:`tokens` for everything cryptographic and never imports :mod:`vending`.
"""

from .meter import ManufactureError, Meter, MeterSpec, manufacture
from .results import EntryResult, ResultCode
from .state import MeterState
from .storage import CorruptStateError, StateFile, StateFileError, StateMissingError

__all__ = [
    "CorruptStateError", "EntryResult", "ManufactureError", "Meter", "MeterSpec", "MeterState",
    "ResultCode", "StateFile", "StateFileError", "StateMissingError", "manufacture",
]
