"""The meter on a serial line: a line protocol for pulses, keys, tokens, status and tamper.

Every line the host sends is one command; the meter answers each with exactly one line, then
any events it caused. Answer lines start with a marker and carry one JSON object:

* ``= {...}`` the answer to the command;
* ``! {"error": {"code": ..., "message": ...}}`` the command was refused and changed nothing;
* ``* {"event": ...}`` something happened (relay opened or closed, low-credit alarm).

Lines that start with one of these markers are the meter's own output echoed back (a loopback,
an RS-485 half-duplex bus, a terminal with local echo) and are ignored. Commands (any case):

``TOKEN <20 digits>`` · ``KEY <keys 0-9 * #>`` · ``PULSES <n> [<seconds>]`` ·
``KWH <kWh> [<seconds>]`` · ``TAMPER`` · ``RECONNECT`` · ``STATUS`` · ``PING``

:class:`SerialSession` is the transport-free protocol engine (text lines in, text lines out);
:class:`MeterLineProtocol` frames bytes for :class:`serial.threaded.ReaderThread`; :func:`serve`
runs it on any pyserial URL (a device, ``loop://``, ``socket://``, a pty).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import serial
import serial.threaded

from .keypad import KeypadBuffer
from .meter import Meter
from .metering import MeteringError, is_low_credit, relay_events
from .storage import StateFile, StateFileError

log = logging.getLogger(__name__)
MAX_LINE = 256
ECHO_MARKERS = ("=", "!", "*")


class CommandError(ValueError):
    """A malformed command: answered with ``!`` and no change to the meter."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _dump(marker: str, obj: dict[str, Any]) -> str:
    return f"{marker} {json.dumps(obj, separators=(',', ':'))}"


def error_line(code: str, message: str) -> str:
    return _dump("!", {"error": {"code": code, "message": message}})


def _int_arg(text: str, name: str) -> int:
    if not text.isascii() or not text.isdecimal():
        raise CommandError("bad_argument", f"{name} must be a non-negative integer")
    return int(text)


def _decimal_arg(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError("bad_argument", f"{name} must be a decimal number") from None
    if not value.is_finite() or value < 0:
        raise CommandError("bad_argument", f"{name} must be a non-negative number")
    return value


class SerialSession:
    """The protocol engine: one meter (a state file), one keypad buffer, one clock."""

    def __init__(self, store: StateFile, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.keypad = KeypadBuffer()

    def handle_line(self, line: str) -> list[str]:
        """The lines to send back for one received line (none for blanks and echoes)."""
        text = line.strip()
        if not text or text.startswith(ECHO_MARKERS):
            return []
        verb, _, rest = text.partition(" ")
        handler = getattr(self, f"_cmd_{verb.lower()}", None) if verb.isalpha() else None
        if handler is None:
            return [error_line("unknown_command", f"unknown command {verb[:20]!r}")]
        try:
            answer, events = handler(rest.split())
        except CommandError as exc:
            return [error_line(exc.code, str(exc))]
        except MeteringError as exc:
            return [error_line("bad_argument", str(exc))]
        except StateFileError as exc:
            return [error_line("state_error", str(exc))]
        return [_dump("=", answer), *(_event(e) for e in events)]

    def _args(self, args: list[str], low: int, high: int, usage: str) -> None:
        if not low <= len(args) <= high:
            raise CommandError("bad_argument", f"usage: {usage}")

    def _cmd_ping(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        self._args(args, 0, 0, "PING")
        return {"pong": True}, ()

    def _cmd_status(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        self._args(args, 0, 0, "STATUS")
        return Meter(self.store.read()).status(self.clock()), ()

    def _cmd_token(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        if not args:
            raise CommandError("bad_argument", "usage: TOKEN <20 digits>")
        with self.store.transaction() as state:
            before = (state.relay_reason, is_low_credit(state))
            result = Meter(state).enter("".join(args), self.clock())
            events = relay_events(state, *before)
        return result.as_json(), events

    def _cmd_key(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        keys = "".join(args)
        if not keys or any(k not in "0123456789*#" for k in keys):
            raise CommandError("bad_argument", "usage: KEY <keys 0-9 * #>")
        results: list[dict[str, Any]] = []
        events: list[str] = []
        for key in keys:
            entry = self.keypad.press(key)
            if entry is not None:
                with self.store.transaction() as state:
                    before = (state.relay_reason, is_low_credit(state))
                    results.append(Meter(state).enter(entry, self.clock()).as_json())
                    events += relay_events(state, *before)
        return {"display": self.keypad.display(), "results": results}, tuple(events)

    def _consume(self, args: list[str], what: str, energy: Callable[[Meter, str, Decimal | None],
                 Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        self._args(args, 1, 2, f"{what} <amount> [<seconds>]")
        seconds = _decimal_arg(args[1], "seconds") if len(args) == 2 else None
        if seconds is not None and seconds == 0:
            raise CommandError("bad_argument", "seconds must be positive")
        with self.store.transaction() as state:
            done = energy(Meter(state), args[0], seconds)
            answer = {"wh": done.wh, "power_w": done.power_w, "credit_kwh": str(state.credit_kwh),
                      "credit_currency": str(state.credit_currency), "relay": state.relay}
        return answer, done.events

    def _cmd_pulses(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        return self._consume(args, "PULSES", lambda m, a, s: m.consume_pulses(
            _int_arg(a, "pulses"), self.clock(), s))

    def _cmd_kwh(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        return self._consume(args, "KWH", lambda m, a, s: m.consume_kwh(
            _decimal_arg(a, "kWh"), self.clock(), s))

    def _cmd_tamper(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        self._args(args, 0, 0, "TAMPER")
        with self.store.transaction() as state:
            events = Meter(state).signal_tamper()
            return {"tamper": True, "relay": state.relay}, events

    def _cmd_reconnect(self, args: list[str]) -> tuple[dict[str, Any], tuple[str, ...]]:
        self._args(args, 0, 0, "RECONNECT")
        with self.store.transaction() as state:
            events = Meter(state).reconnect()
            return {"relay": state.relay, "relay_reason": state.relay_reason}, events


def _event(name: str) -> str:
    event, _, reason = name.partition(":")
    body: dict[str, Any] = {"event": event}
    if reason:
        body["reason"] = reason
    return _dump("*", body)


class MeterLineProtocol(serial.threaded.Protocol):
    """Byte framing: lines end with LF (a CR before it is dropped); over-long lines refused."""

    def __init__(self, session: SerialSession) -> None:
        self.session = session
        self.transport: serial.threaded.ReaderThread | None = None
        self.buffer = bytearray()
        self.overflow = False
        self.lock = threading.Lock()

    def connection_made(self, transport: serial.threaded.ReaderThread) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        with self.lock:
            self.buffer.extend(data)
            while b"\n" in self.buffer:
                raw, _, rest = self.buffer.partition(b"\n")
                self.buffer = bytearray(rest)
                if self.overflow:
                    self.overflow = False
                    continue
                self._line(bytes(raw))
            if len(self.buffer) > MAX_LINE:
                self.buffer.clear()
                if not self.overflow:
                    self.overflow = True
                    self._send([error_line("line_too_long", f"lines are at most {MAX_LINE} bytes")])

    def _line(self, raw: bytes) -> None:
        if len(raw) > MAX_LINE:
            self._send([error_line("line_too_long", f"lines are at most {MAX_LINE} bytes")])
            return
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            self._send([error_line("not_text", "a command is printable ASCII")])
            return
        try:
            self._send(self.session.handle_line(text.rstrip("\r")))
        except Exception:  # one bad command must not take the meter off the line
            log.exception("command failed")
            self._send([error_line("internal_error", "the meter could not process the command")])

    def _send(self, lines: list[str]) -> None:
        if lines and self.transport is not None:
            self.transport.write("".join(f"{line}\n" for line in lines).encode("ascii"))

    def connection_lost(self, exc: BaseException | None) -> None:
        if exc is not None:
            log.warning("serial port lost: %s", exc)


def open_port(url: str, baudrate: int = 9600) -> serial.SerialBase:
    """Open any pyserial URL (device path, ``loop://``, ``socket://host:port``, pty)."""
    return serial.serial_for_url(url, baudrate=baudrate, timeout=1)


def serve(port: serial.SerialBase, session: SerialSession, stop: threading.Event,
          on_idle: Callable[[], None] | None = None, idle_s: float = 1.0) -> None:
    """Answer commands on ``port`` until ``stop`` is set (``on_idle`` runs every ``idle_s``)."""
    reader = serial.threaded.ReaderThread(port, lambda: MeterLineProtocol(session))
    reader.start()
    try:
        reader.connect()
        while not stop.wait(idle_s):
            if not reader.alive:
                raise OSError("the serial port closed")
            if on_idle is not None:
                on_idle()
    finally:
        reader.close()
