"""Class 1 tokens: the tests and displays a technician selects with the Control field.

The bit-to-test mapping follows the Prism HSM enumeration (SPEC §8, inferred): a single set bit
``i`` selects test ``i + 1``; all ones selects every test. Tests only read the meter: none of
them changes a register, so a test token needs no key and leaves no trace but the display.
"""

from __future__ import annotations

from collections.abc import Callable

from tokens import MeterTest

from .state import MeterState

SOFTWARE_VERSION = "stsvend-meter 1.0"


def _kcts_supported(s: MeterState) -> str:
    return "KCT 2/3/4" if s.algorithm.key_length == 16 else "KCT 2/3"


def _optional_w(value: int | None) -> str:
    return "none" if value is None else f"{value} W"


#: (name, what the display shows) for tests 1..18, in Control bit order.
TESTS: tuple[tuple[str, Callable[[MeterState], str]], ...] = (
    ("load switch", lambda s: f"Relay test ok, relay {s.relay}"),
    ("information display", lambda s: "8888 8888 8888 8888 8888"),
    ("kWh totals", lambda s: f"Total {s.energy_kwh} kWh"),
    ("KRN", lambda s: f"KRN {s.krn}"),
    ("TI", lambda s: f"TI {s.ti:02d}"),
    ("token reader", lambda s: "Keypad ok"),
    ("max power limit", lambda s: f"Power limit {_optional_w(s.max_power_w)}"),
    ("tamper status", lambda s: "Tamper" if s.tamper else "No tamper"),
    ("power consumption", lambda s: f"Power {_optional_w(s.last_power_w)}"),
    ("software version", lambda s: SOFTWARE_VERSION),
    ("phase unbalance limit", lambda s: f"Unbalance limit {_optional_w(s.max_phase_unbalance_w)}"),
    ("water meter factor", lambda s: "Water factor n/a"),
    ("tariff rate", lambda s: f"Rate {s.tariff_rate}"),
    ("EA", lambda s: f"EA {s.ea}"),
    ("number of KCTs supported", _kcts_supported),
    ("SGC", lambda s: f"SGC {s.sgc}"),
    ("KEN", lambda s: f"KEN {s.ken}"),
    ("DRN", lambda s: f"DRN {s.meter_number}"),
)


class UnknownTestError(ValueError):
    """The Control field selects no test this meter knows."""


def control_width(token: MeterTest) -> int:
    return 28 if token.variant == 1 else 36


def run_tests(token: MeterTest, state: MeterState) -> str:
    """The display text of the tests that ``token.control`` selects."""
    control = token.control
    if control == (1 << control_width(token)) - 1:
        selected = range(len(TESTS))
    else:
        selected = [i for i in range(control.bit_length()) if control >> i & 1]
        if not selected or selected[-1] >= len(TESTS):
            raise UnknownTestError(f"control {control:#x} selects no known test")
    return "; ".join(TESTS[i][1](state) for i in selected)
