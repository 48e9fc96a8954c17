"""Kill ``enter`` and ``serve`` with SIGKILL at random instants: the state stays whole.

After every kill the file must load (version, checksum) and be consistent: every credit token
whose TID is remembered has added its credit, and no other credit exists. Each token adds
10 kWh and each PULSES line draws 5 Wh, so ``credit + energy = 10 kWh × remembered TIDs``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import pytest
from meter_fixtures import KEY, PAN, REPO, T0, credit, run_cli, tid_at
from meter_line_client import LineClient, start_serve, wait_ready

from keypad_meter import StateFile

TID0 = tid_at(T0)
SEED = 20261128


def make_meter(path: Path) -> StateFile:
    done = run_cli("init", "--state", str(path), "--pan", PAN, "--sgc", "123456", "--ti", "1",
                   "--krn", "1", "--kt", "2", "--ea", "07", "--decoder-key", KEY.hex(),
                   "--base-date", "2014", "--tid-memory", "2000")
    assert done.returncode == 0, done.stderr
    return StateFile(path)


def check_consistent(store: StateFile) -> int:
    state = store.read()  # raises if the kill left a torn or damaged file
    accepted = [t for t in state.tid_memory if t >= TID0]
    assert state.credit_wh + state.energy_wh == 10_000 * len(accepted)
    return len(accepted)


@pytest.mark.slow
def test_kill_enter_at_random_points(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = make_meter(tmp_path / "m.json")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def enter(i: int, kill_after: float | None) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-m", "keypad_meter", "enter", "--state", str(store.path),
             credit(TID0 + i, "10")], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        timer = threading.Timer(kill_after or 0, proc.kill)
        if kill_after is not None:
            timer.start()
        proc.wait(timeout=120)
        timer.cancel()
        return proc.returncode

    started = time.monotonic()
    assert enter(0, None) == 0
    estimate = time.monotonic() - started  # how long one entry takes here, now
    assert check_consistent(store) == 1
    kills, i = 0, 1
    while kills < 4 and i < 24:
        # most of a run is interpreter start-up: aim the kills at its end, the write; the
        # estimate follows the fastest complete run, since the machine's load changes
        started = time.monotonic()
        if enter(i, rng.uniform(0.4, 1.0) * estimate) < 0:
            kills += 1
        else:
            estimate = min(estimate, time.monotonic() - started)
        check_consistent(store)
        i += 1
    assert kills > 0


@pytest.mark.slow
def test_kill_serve_while_it_works(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = make_meter(tmp_path / "m.json")
    tid = TID0
    kills = 0
    for _ in range(6):
        master, slave = os.openpty()
        tty.setraw(slave)
        proc = start_serve(store.path, os.ttyname(slave))
        try:
            client = LineClient(fd=master)
            wait_ready(client)
            timer = threading.Timer(rng.uniform(0.05, 0.5), proc.kill)
            timer.start()
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    client.send(f"TOKEN {credit(tid, '10')}")
                    tid += 1
                    for _ in range(10):
                        client.send("PULSES 5")
                    answers = 0
                    while answers < 11:  # one answer per command; events come in between
                        answers += not client.read_line(timeout=0.5).startswith("*")
                except (TimeoutError, OSError):
                    continue
            timer.cancel()
        finally:
            proc.kill()
            proc.communicate(timeout=30)
            os.close(master)
            os.close(slave)
        kills += proc.returncode < 0
        accepted = check_consistent(store)
    assert kills == 6
    assert 0 < accepted <= tid - TID0
