"""The serial line protocol: the engine, loop://, a pty and socket:// with the real ``serve``."""

from __future__ import annotations

import os
import socket
import threading
import time
import tty

import pytest
import serial
from meter_fixtures import T0, Clock, credit, tid_at
from meter_line_client import LineClient, parse, start_serve, stop, wait_ready

from keypad_meter import StateFile
from keypad_meter.serial_link import MeterLineProtocol, SerialSession, open_port, serve

TID = tid_at(T0)


@pytest.fixture
def session(store: StateFile) -> SerialSession:
    return SerialSession(store, Clock())


def one(session: SerialSession, line: str) -> tuple[str, dict]:
    lines = session.handle_line(line)
    return parse(lines[0])


def test_token_pulses_status(session: SerialSession) -> None:
    marker, answer = one(session, f"TOKEN {credit(TID, '1')}")
    assert (marker, answer["result"]) == ("=", "accept")
    lines = session.handle_line("pulses 1500 60")
    assert parse(lines[0]) == ("=", {"wh": 1500, "power_w": 90000, "credit_kwh": "0.000",
                                     "credit_currency": "0.00000", "relay": "open"})
    assert [parse(x) for x in lines[1:]] == [("*", {"event": "relay_open", "reason": "no_credit"})]
    marker, status = one(session, "STATUS")
    assert (marker, status["energy_kwh"], status["relay"]) == ("=", "1.500", "open")


def test_keys_build_a_token(session: SerialSession) -> None:
    token = credit(TID, "3")
    assert one(session, f"KEY {token[:6]}*{token[5]}") == (
        "=", {"display": f"{token[:4]} {token[4:6]}", "results": []})
    _, answer = one(session, f"KEY {token[6:]}#")
    assert answer["display"] == ""
    assert [r["result"] for r in answer["results"]] == ["accept"]
    assert session.store.read().credit_wh == 3000


@pytest.mark.parametrize(("line", "code"), [
    ("FLY", "unknown_command"), ("PULSES", "bad_argument"), ("PULSES -3", "bad_argument"),
    ("PULSES 3 0", "bad_argument"), ("PULSES 1 2 3", "bad_argument"),
    ("KWH 0.0001", "bad_argument"),
    ("KEY 12a", "bad_argument"), ("TOKEN", "bad_argument"), ("STATUS now", "bad_argument"),
    ("1234", "unknown_command"), ("KWH x", "bad_argument"),
])
def test_malformed_lines_get_an_error_and_change_nothing(session: SerialSession, line: str,
                                                         code: str) -> None:
    before = session.store.path.read_bytes()
    marker, answer = one(session, line)
    assert (marker, answer["error"]["code"]) == ("!", code)
    assert session.store.path.read_bytes() == before


def test_echoed_and_blank_lines_are_ignored(session: SerialSession) -> None:
    for line in ("", "   ", '= {"pong":true}', '! {"error":{}}', '* {"event":"x"}'):
        assert session.handle_line(line) == []


class Recorder(MeterLineProtocol):
    """The real protocol, with what it sends kept for the test to read."""

    sent: list[str]

    def _send(self, lines: list[str]) -> None:
        self.sent = [*getattr(self, "sent", []), *lines]
        super()._send(lines)


def test_loop_url_byte_level(store: StateFile) -> None:
    """On loop:// the meter reads the host's bytes and its own echo, which it ignores."""
    port = open_port("loop://")
    protocols: list[Recorder] = []

    def factory() -> Recorder:
        protocols.append(Recorder(SerialSession(store, Clock())))
        return protocols[0]

    reader = serial.threaded.ReaderThread(port, factory)
    reader.start()
    try:
        reader.connect()
        reader.write(f"TOKEN {credit(TID, '2')}\r\nPUL".encode())
        reader.write(b"SES 500\n" + b"X" * 300 + b"\n\xff\xfe\nPING\n")
        deadline = time.monotonic() + 10
        while len(getattr(protocols[0], "sent", [])) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reader.close()
    sent = [parse(x) for x in protocols[0].sent]
    assert [m for m, _ in sent] == ["=", "*", "=", "!", "!", "="]
    assert sent[0][1]["result"] == "accept"
    assert sent[1][1] == {"event": "relay_closed"}
    assert sent[3][1]["error"]["code"] == "line_too_long"
    assert sent[4][1]["error"]["code"] == "not_text"
    assert store.read().credit_wh == 1500


def exercise(client: LineClient, store: StateFile) -> None:
    wait_ready(client)
    marker, answer = client.ask(f"TOKEN {credit(TID, '1')}")
    assert (marker, answer["result"]) == ("=", "accept")
    assert parse(client.read_line()) == ("*", {"event": "relay_closed"})
    assert client.ask(f"TOKEN {credit(TID, '1')}")[1]["result"] == "used"
    assert client.ask("BOGUS")[0] == "!"
    assert client.ask("PULSES 400")[1]["credit_kwh"] == "0.600"
    assert client.ask("TAMPER") == ("=", {"tamper": True, "relay": "open"})
    assert parse(client.read_line()) == ("*", {"event": "relay_open", "reason": "tamper"})
    marker, status = client.ask("STATUS")
    assert (status["tamper"], status["credit_kwh"]) == (True, "0.600")
    assert store.read().tamper is True


def test_serve_on_a_pty(store: StateFile) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = start_serve(store.path, os.ttyname(slave))
    try:
        exercise(LineClient(fd=master), store)
    finally:
        assert stop(proc) == 0
        os.close(master)
        os.close(slave)


def test_serve_on_a_socket_url(store: StateFile) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    proc = start_serve(store.path, f"socket://{host}:{port}")
    try:
        listener.settimeout(30)
        conn, _ = listener.accept()
        with conn:
            exercise(LineClient(sock=conn), store)
    finally:
        assert stop(proc) == 0
        listener.close()


def test_serve_function_stops_on_event(store: StateFile) -> None:
    port = open_port("loop://")
    done = threading.Event()
    ticks: list[int] = []

    def idle() -> None:
        ticks.append(1)
        if len(ticks) >= 3:
            done.set()

    serve(port, SerialSession(store, Clock()), done, idle, idle_s=0.01)
    assert len(ticks) == 3 and not port.is_open
