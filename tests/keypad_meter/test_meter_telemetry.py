"""Telemetry: readings reach a real HTTP server, survive failures, are never lost or doubled."""

from __future__ import annotations

import json
import os
import threading
import time
import tty
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from meter_fixtures import Clock
from meter_line_client import LineClient, start_serve, stop, wait_ready

from keypad_meter import Meter, StateFile
from keypad_meter.telemetry import Reporter, report_once


class ReadingsServer(ThreadingHTTPServer):
    """Records every POST; answers with the queued statuses (then 201)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: ReadingsServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            status = self.server.statuses.pop(0) if self.server.statuses else 201
            self.server.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                         "body": body, "status": status})
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ReadingsServer]:
    srv = ReadingsServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


def accepted_readings(srv: ReadingsServer) -> list[dict[str, str]]:
    return [r for req in srv.requests if req["status"] < 300 for r in req["body"]["readings"]]


def test_failed_posts_keep_readings_until_acknowledged(store: StateFile, server: ReadingsServer
                                                       ) -> None:
    clock = Clock()
    reporter = Reporter(server.url, "secret-key")
    server.statuses = [503, 500]
    for step in range(2):
        with store.transaction() as state:
            Meter(state).consume_kwh(Decimal("0.5"), clock())
        assert report_once(store, reporter, clock) == 0
        assert len(store.read().readings) == step + 1
        clock.advance(minutes=15)
    assert report_once(store, reporter, clock) == 3
    assert store.read().readings == []
    got = accepted_readings(server)
    assert [r["energy_kwh"] for r in got] == ["0.500", "1.000", "1.000"]
    assert len({r["at"] for r in got}) == 3
    assert server.requests[-1]["path"] == "/api/v1/meters/00000000000/readings"
    assert server.requests[-1]["auth"] == "Bearer secret-key"
    clock.advance(minutes=15)
    assert report_once(store, reporter, clock) == 1
    assert len(accepted_readings(server)) == 4  # nothing sent twice


def test_unreachable_server_keeps_readings(store: StateFile, server: ReadingsServer) -> None:
    clock = Clock()
    dead = Reporter("http://127.0.0.1:9", "k", timeout_s=2)
    assert report_once(store, dead, clock) == 0
    clock.advance(minutes=1)
    assert report_once(store, dead, clock) == 0
    assert len(store.read().readings) == 2
    clock.advance(minutes=1)
    assert report_once(store, Reporter(server.url, "k"), clock) == 3


def test_serve_reports_at_an_interval(store: StateFile, server: ReadingsServer) -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    proc = start_serve(store.path, os.ttyname(slave), "--report-to", server.url,
                       "--api-key", "k-123", "--report-interval", "0.3")
    try:
        wait_ready(LineClient(fd=master))
        deadline = time.monotonic() + 30
        while len(accepted_readings(server)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(accepted_readings(server)) >= 3
    finally:
        assert stop(proc) == 0
        os.close(master)
        os.close(slave)
    got = accepted_readings(server)
    assert {req["auth"] for req in server.requests} == {"Bearer k-123"}
    assert len({r["at"] for r in got}) == len(got)
    assert store.read().readings == []  # SIGTERM lets the report in progress finish
