"""``python -m keypad_meter``: the meter's command line (CONTRACT §2).

Exit status: 0 success (for ``enter``: the token was accepted, including a key-change
section), 1 the token was rejected (``serve``: the serial line was lost), 2 a usage error
(including a port that cannot be opened), 3 the state file cannot be used (missing, corrupt,
already initialised). ``--json`` prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from . import keypad
from .meter import ManufactureError, Meter, MeterSpec, manufacture
from .metering import MeteringError
from .serial_link import SerialSession, open_port, serve
from .state import DEFAULT_KCT_TIMEOUT_S, DEFAULT_TID_MEMORY
from .storage import StateFile, StateFileError
from .telemetry import Reporter, report_once

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_STATE = 0, 1, 2, 3
API_KEY_ENV = "STSVEND_METER_API_KEY"


def utc_now() -> datetime:
    return datetime.now(UTC)


class UsageError(Exception):
    """Bad command-line input that argparse itself cannot see."""


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a decimal number: {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _aware(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time: {text!r}") from None
    if when.tzinfo is None:
        raise argparse.ArgumentTypeError("give the time with its UTC offset, e.g. ...Z or +00:00")
    return when


def _wh(kwh: Decimal, name: str) -> int:
    wh = kwh.scaleb(3)
    if kwh < 0 or wh != wh.to_integral_value():
        raise UsageError(f"{name} must be a non-negative kWh value with at most 3 decimals")
    return int(wh)


def _rate(value: Decimal) -> int:
    hundredths = value.scaleb(2)
    if value < 0 or hundredths != hundredths.to_integral_value() or hundredths > 0xFFFF:
        raise UsageError("--tariff-rate is 0..655.35 currency per kWh, with 2 decimals at most")
    return int(hundredths)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m keypad_meter",
                                     description="A software STS keypad prepaid meter.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--state", required=True, help="the meter's state file")
        p.add_argument("--json", action="store_true", help="print one JSON object")
        return p

    p = command("init", "manufacture a meter with its decoder key")
    p.add_argument("--pan", required=True, help="18-digit PAN (IIN, meter number, check digit)")
    p.add_argument("--sgc", required=True)
    p.add_argument("--ti", required=True, type=int)
    p.add_argument("--krn", required=True, type=int)
    p.add_argument("--kt", required=True, type=int)
    p.add_argument("--ea", required=True, help="07, 09 or 11")
    p.add_argument("--decoder-key", help="hex; omit to read it from stdin (never echoed)")
    p.add_argument("--ken", type=int, default=255)
    p.add_argument("--base-date", type=int, default=1993)
    p.add_argument("--imp-per-kwh", type=int, default=1000)
    p.add_argument("--tid-memory", type=int, default=DEFAULT_TID_MEMORY,
                   help="entries in the TID memory (default 50)")
    made = p.add_mutually_exclusive_group()
    made.add_argument("--manufacture-tid", type=int,
                      help="TID the memory is pre-filled with (default 0, the base date)")
    made.add_argument("--manufactured-at", type=_aware,
                      help="pre-fill the TID memory with the TID of this aware time")
    p.add_argument("--kct-timeout", type=int, default=DEFAULT_KCT_TIMEOUT_S,
                   help="seconds a partial key change is kept (default 600)")
    p.add_argument("--max-credit-kwh", type=_decimal, default=Decimal("9999999.9"))
    p.add_argument("--low-credit-kwh", type=_decimal, default=Decimal("5"))
    p.add_argument("--tariff-rate", type=_decimal, default=Decimal(0),
                   help="currency per kWh for currency credit (0.01 resolution)")
    p.add_argument("--mfr-code", help="2 or 4 digits; default: from the meter number")
    p.add_argument("--tables", default="production",
                   help="EA07 STA table set: production (default), sample or a file path")

    p = command("enter", "type a token on the keypad")
    p.add_argument("token", nargs="+", help="20 digits (groups separated by spaces allowed)")

    p = command("consume", "meter energy: deduct credit, open the relay at zero")
    amount = p.add_mutually_exclusive_group(required=True)
    amount.add_argument("--pulses", type=int)
    amount.add_argument("--kwh", type=_decimal)
    p.add_argument("--seconds", type=_decimal,
                   help="interval the energy was drawn over (gives the power drawn)")

    command("status", "registers, relay, key data, TID memory")
    command("tamper", "signal the tamper switch (opens the relay until a clear-tamper token)")
    command("reconnect", "reconnect the load after a power-limit trip")

    p = command("serve", "run the meter on a serial port")
    p.add_argument("--port", required=True, help="pyserial URL: device, pty, loop://, socket://")
    p.add_argument("--baud", type=int, default=9600)
    p.add_argument("--report-to", help="vending server base URL for cumulative readings")
    p.add_argument("--api-key", help=f"API key for --report-to (or ${API_KEY_ENV})")
    p.add_argument("--report-interval", type=_decimal, default=Decimal(900),
                   help="seconds between readings (default 900)")

    command("keypad", "an interactive keypad and display in this terminal")
    return parser


def _emit(args: argparse.Namespace, obj: dict[str, Any], text: str) -> None:
    print(json.dumps(obj) if args.json else text)


def cmd_init(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    key = args.decoder_key
    if key is None:
        key = sys.stdin.readline().strip()
    spec = MeterSpec(
        pan=args.pan, sgc=args.sgc, ti=args.ti, krn=args.krn, kt=args.kt, ea=args.ea,
        decoder_key=key, ken=args.ken, base_date=args.base_date, imp_per_kwh=args.imp_per_kwh,
        tid_memory_size=args.tid_memory, manufacture_tid=args.manufacture_tid,
        kct_timeout_s=args.kct_timeout, max_credit_wh=_wh(args.max_credit_kwh, "--max-credit-kwh"),
        low_credit_wh=_wh(args.low_credit_kwh, "--low-credit-kwh"),
        tariff_rate=_rate(args.tariff_rate), mfr_code=args.mfr_code,
        sta_tables=args.tables,
    )
    try:
        state = manufacture(spec, clock(), args.manufactured_at)
    except ManufactureError as exc:
        raise UsageError(str(exc)) from None
    StateFile(args.state).create(state)
    _emit(args, {"meter_number": state.meter_number, "state": str(args.state)},
          f"meter {state.meter_number} manufactured in {args.state}")
    return EXIT_OK


def cmd_enter(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    with StateFile(args.state).transaction() as state:
        result = Meter(state).enter(" ".join(args.token), clock())
    _emit(args, result.as_json(), f"{result.code.value}: {result.display}")
    return EXIT_OK if result.accepted else EXIT_REJECTED


def cmd_consume(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be positive")
    try:
        with StateFile(args.state).transaction() as state:
            meter = Meter(state)
            if args.pulses is not None:
                done = meter.consume_pulses(args.pulses, clock(), args.seconds)
            else:
                done = meter.consume_kwh(args.kwh, clock(), args.seconds)
    except MeteringError as exc:
        raise UsageError(str(exc)) from None
    obj = {"wh": done.wh, "power_w": done.power_w, "credit_kwh": str(state.credit_kwh),
           "credit_currency": str(state.credit_currency), "relay": state.relay,
           "relay_reason": state.relay_reason, "events": list(done.events)}
    _emit(args, obj, f"metered {done.wh} Wh; credit {state.credit_kwh} kWh; relay {state.relay}"
          + "".join(f"; {e}" for e in done.events))
    return EXIT_OK


def cmd_status(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    status = Meter(StateFile(args.state).read()).status(clock())
    text = "\n".join(f"{k}: {v}" for k, v in status.items() if k != "tid_memory")
    text += f"\ntid_memory: {' '.join(map(str, status['tid_memory']))}"
    _emit(args, status, text)
    return EXIT_OK


def cmd_tamper(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    with StateFile(args.state).transaction() as state:
        events = Meter(state).signal_tamper()
    _emit(args, {"tamper": True, "relay": state.relay, "events": list(events)},
          f"tamper signalled; relay {state.relay}")
    return EXIT_OK


def cmd_reconnect(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    with StateFile(args.state).transaction() as state:
        events = Meter(state).reconnect()
    _emit(args, {"relay": state.relay, "relay_reason": state.relay_reason,
                 "events": list(events)}, f"relay {state.relay}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    store = StateFile(args.state)
    store.read()  # refuse to start on a missing or corrupt meter
    on_idle: Callable[[], None] | None = None
    if args.report_to:
        api_key = args.api_key or os.environ.get(API_KEY_ENV)
        if not api_key:
            raise UsageError(f"--report-to needs --api-key (or ${API_KEY_ENV})")
        if args.report_interval <= 0:
            raise UsageError("--report-interval must be positive")
        reporter = Reporter(args.report_to, api_key)
        interval = float(args.report_interval)
        due = [0.0]

        def on_idle() -> None:
            if time.monotonic() >= due[0]:
                due[0] = time.monotonic() + interval
                try:
                    report_once(store, reporter, clock)
                except StateFileError as exc:  # keep serving; commands report it too
                    logging.getLogger(__name__).error("no reading taken: %s", exc)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        port = open_port(args.port, args.baud)
    except (OSError, ValueError) as exc:  # serial.SerialException is an OSError
        raise UsageError(f"cannot open {args.port}: {exc}") from None
    print(f"serving meter {store.read().meter_number} on {args.port}", file=sys.stderr,
          flush=True)
    try:
        serve(port, SerialSession(store, clock), stop, on_idle, idle_s=0.2)
    except OSError as exc:
        print(f"error: serial line lost: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    return EXIT_OK


def cmd_keypad(args: argparse.Namespace, clock: Callable[[], datetime]) -> int:
    store = StateFile(args.state)
    store.read()
    return keypad.run(store, clock)


COMMANDS = {"init": cmd_init, "enter": cmd_enter, "consume": cmd_consume, "status": cmd_status,
            "tamper": cmd_tamper, "reconnect": cmd_reconnect, "serve": cmd_serve,
            "keypad": cmd_keypad}


def main(argv: Sequence[str] | None = None, clock: Callable[[], datetime] = utc_now) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args, clock)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STATE
