"""``make run`` (``python -m vending.devserver``) end to end: secrets file, migration, demo
seed, gunicorn serving, and a second start that keeps the data and the secrets."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests
from vending_fixtures import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(instance: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SECRET_KEY", "STSVEND_MASTER_KEYS", "DATABASE_URL")}
    env.update(STSVEND_INSTANCE_DIR=str(instance), PORT=str(port), WEB_CONCURRENCY="1")
    return subprocess.Popen([sys.executable, "-m", "vending.devserver"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _wait_ready(proc: subprocess.Popen[str], port: int, deadline_s: float = 90) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting
            pass
        time.sleep(0.2)  # polling interval, bounded by the deadline above
    raise AssertionError("the dev server did not become ready in time")


def _stop(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGTERM)
    output, _ = proc.communicate(timeout=30)
    return output


def test_make_run_migrates_seeds_and_serves(tmp_path: Path) -> None:
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(proc, port)
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {
            "status": "ok"}
    finally:
        output = _stop(proc)
    secrets_file = tmp_path / "secrets.env"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert "STSVEND_MASTER_KEYS=local1:" in secrets_file.read_text()
    assert "demo data seeded" in output and "user admin / password" in output
    assert f"open http://127.0.0.1:{port}/" in output
    assert (tmp_path / "stsvend.db").exists()
    first_secrets = secrets_file.read_text()
    # A second start: same secrets, no second seed.
    port = _free_port()
    proc = _start(tmp_path, port)
    try:
        _wait_ready(proc, port)
    finally:
        output = _stop(proc)
    assert secrets_file.read_text() == first_secrets
    assert "demo data seeded" not in output and f"127.0.0.1:{port}" in output
