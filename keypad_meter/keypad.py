"""The keypad and display: keys become tokens, the meter's answer and information scroll by.

:class:`KeypadBuffer` is the pure part (what a key press does to the display); :func:`run`
is the thin terminal adapter behind ``python -m keypad_meter keypad``. Keys: ``0``-``9``,
``*`` backspace, ``#`` enter (Enter and Backspace work too), ``q`` quits. When idle the display
scrolls through credit, KRN, TI, power and relay, as a real meter's information display does.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from .meter import Meter
from .results import EntryResult
from .storage import StateFile

TOKEN_DIGITS = 20
SCROLL_S = 3.0


class KeypadBuffer:
    """The digits typed so far. ``press`` returns a complete entry when ``#`` is pressed."""

    def __init__(self) -> None:
        self.digits = ""

    def press(self, key: str) -> str | None:
        if key == "*":
            self.digits = self.digits[:-1]
        elif key == "#":
            entry, self.digits = self.digits, ""
            return entry or None
        elif len(key) == 1 and "0" <= key <= "9":
            if len(self.digits) < TOKEN_DIGITS:
                self.digits += key
        else:
            raise ValueError(f"no key {key!r} on the keypad (0-9, * and #)")
        return None

    def display(self) -> str:
        """Digits in groups of four, as a meter display shows a token being typed."""
        return " ".join(self.digits[i : i + 4] for i in range(0, len(self.digits), 4))


def info_screens(status: dict[str, Any]) -> list[str]:
    """The scrolling information display."""
    power = status["last_power_w"]
    screens = [f"Credit {status['credit_kwh']} kWh"]
    if status["credit_currency"] != "0.00000":
        screens.append(f"Credit {status['credit_currency']}")
    screens += [
        f"KRN {status['krn']}",
        f"TI {status['ti']:02d}",
        f"Power {'-' if power is None else power} W",
        f"Relay {status['relay']}" + (f" ({status['relay_reason']})" if status["relay_reason"]
                                      else ""),
    ]
    if status["low_credit"]:
        screens.append("Low credit")
    return screens


class KeypadSession:
    """Key presses against a stored meter: each completed entry is one state transaction."""

    def __init__(self, store: StateFile, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self.buffer = KeypadBuffer()

    def press(self, key: str) -> EntryResult | None:
        entry = self.buffer.press(key)
        if entry is None:
            return None
        with self.store.transaction() as state:
            return Meter(state).enter(entry, self.clock())

    def status(self) -> dict[str, Any]:
        return Meter(self.store.read()).status(self.clock())


_KEY_ALIASES = {"\r": "#", "\n": "#", "\x7f": "*", "\b": "*"}


def run(store: StateFile, clock: Callable[[], datetime], stdin: TextIO = sys.stdin,
        stdout: TextIO = sys.stdout) -> int:
    """Drive the meter from a terminal until ``q`` or end of input."""
    session = KeypadSession(store, clock)
    interactive = stdin.isatty()
    fd = stdin.fileno() if interactive else -1
    saved = termios.tcgetattr(fd) if interactive else None

    def show(text: str) -> None:
        if interactive:
            stdout.write("\r\x1b[2K" + text)
        else:
            stdout.write(text + "\n")
        stdout.flush()

    screen = 0
    try:
        if interactive:
            tty.setcbreak(fd)
        show("Enter token, # to finish, * to erase, q to quit")
        while True:
            if interactive:
                ready, _, _ = select.select([fd], [], [], SCROLL_S)
                if not ready:
                    if not session.buffer.digits:
                        screens = info_screens(session.status())
                        show(screens[screen % len(screens)])
                        screen += 1
                    continue
                key = os.read(fd, 1).decode(errors="replace")
            else:
                key = stdin.read(1)
            if key in ("", "q", "\x04"):
                break
            key = _KEY_ALIASES.get(key, key)
            if key.isspace() or key == "-":
                continue
            try:
                result = session.press(key)
            except ValueError:
                continue
            if result is not None:
                show(f"{result.display}  [{result.code.value}]")
                if interactive:
                    stdout.write("\n")
            elif interactive:
                show(session.buffer.display())
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
            stdout.write("\n")
    return 0
