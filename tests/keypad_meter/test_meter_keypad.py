"""The keypad: digits in groups, * erases, # enters; the terminal program on a real pty."""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time

import pytest
from meter_fixtures import REPO, T0, Clock, credit, tid_at

from keypad_meter import StateFile
from keypad_meter.keypad import KeypadBuffer, KeypadSession, info_screens, run

TID = tid_at(T0)


def test_buffer_groups_erases_and_enters() -> None:
    pad = KeypadBuffer()
    for key in "123456":
        assert pad.press(key) is None
    assert pad.display() == "1234 56"
    pad.press("*")
    assert pad.display() == "1234 5"
    assert pad.press("#") == "12345"
    assert pad.display() == ""
    assert pad.press("#") is None  # an empty entry does nothing


def test_buffer_stops_at_20_digits_and_refuses_other_keys() -> None:
    pad = KeypadBuffer()
    for _ in range(25):
        pad.press("7")
    assert pad.digits == "7" * 20
    with pytest.raises(ValueError):
        pad.press("a")


def test_session_applies_an_entry(store: StateFile) -> None:
    session = KeypadSession(store, Clock())
    results = [session.press(k) for k in credit(TID, "4") + "#"]
    assert results[-1] is not None and results[-1].accepted
    assert store.read().credit_wh == 4000
    screens = info_screens(session.status())
    assert screens[:4] == ["Credit 4.000 kWh", "KRN 1", "TI 01", "Power - W"]
    assert screens[4] == "Relay closed"


def test_run_reads_keys_from_a_pipe(store: StateFile) -> None:
    out = io.StringIO()
    token = credit(TID, "2")
    keys = f"{token[:10]} {token[10:]}\n{token}\nq"
    assert run(store, Clock(), stdin=io.StringIO(keys), stdout=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("Accept +2.000 kWh") and lines[1].endswith("[accept]")
    assert lines[2] == "Used  [used]"


def test_interactive_keypad_on_a_pty(store: StateFile) -> None:
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "dumb"}
    proc = subprocess.Popen([sys.executable, "-m", "keypad_meter", "keypad", "--state",
                             str(store.path)], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env=env, cwd=REPO)
    output = b""

    def read_until(needle: bytes, timeout: float = 30) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout
        while needle not in output:
            assert time.monotonic() < deadline, output
            if select.select([master], [], [], 0.1)[0]:
                output += os.read(master, 4096)

    try:
        read_until(b"Enter token")
        token = credit(TID, "1.5")
        os.write(master, token[:8].encode() + b"9\x7f")  # a wrong digit, then Backspace
        read_until(token[:4].encode() + b" " + token[4:8].encode())
        os.write(master, token[8:].encode() + b"\r")
        read_until(b"[accept]")
        os.write(master, b"q")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)
        os.close(master)
        os.close(slave)
    assert store.read().credit_wh == 1500
