"""The host side of the serial line in tests: start ``serve``, send lines, read answers."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from meter_fixtures import REPO


class LineClient:
    """Line I/O over a file descriptor (a pty master) or a connected socket."""

    def __init__(self, fd: int | None = None, sock: socket.socket | None = None) -> None:
        self.fd = fd
        self.sock = sock
        self.buffer = b""

    def _fileno(self) -> int:
        return self.sock.fileno() if self.sock is not None else self.fd  # type: ignore[return-value]

    def send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else (line + "\n").encode()
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            os.write(self.fd, data)  # type: ignore[arg-type]

    def read_line(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no line from the meter; partial {self.buffer!r}")
            ready, _, _ = select.select([self._fileno()], [], [], left)
            if ready:
                chunk = self.sock.recv(4096) if self.sock is not None else os.read(
                    self.fd, 4096)  # type: ignore[arg-type]
                if not chunk:
                    raise EOFError("the meter closed the line")
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def ask(self, line: str | bytes, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        """Send one command; the answer's marker and JSON body."""
        self.send(line)
        return parse(self.read_line(timeout))


def parse(line: str) -> tuple[str, dict[str, Any]]:
    marker, _, body = line.partition(" ")
    return marker, json.loads(body)


def wait_ready(client: LineClient, timeout: float = 30.0) -> None:
    """PING until the meter answers (it may still be starting)."""
    deadline = time.monotonic() + timeout
    while True:
        client.send("PING")
        try:
            if client.read_line(timeout=0.5) == '= {"pong":true}':
                client.buffer = b""
                return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise


def start_serve(state: Path, port: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "keypad_meter", "serve", "--state", str(state),
                             "--port", port, *extra], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    assert b"Traceback" not in err, err.decode()
    return proc.returncode
