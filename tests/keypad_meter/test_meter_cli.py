"""``python -m keypad_meter`` as a real subprocess: the CONTRACT §2 commands and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from meter_fixtures import KEY, PAN, T0, credit, run_cli, tid_at

INIT = ["--pan", PAN, "--sgc", "123456", "--ti", "1", "--krn", "1", "--kt", "2", "--ea", "07"]


def init(state: Path, *extra: str) -> None:
    done = run_cli("init", "--state", str(state), *INIT, "--decoder-key", KEY.hex(), *extra)
    assert done.returncode == 0, done.stderr


def test_contract_session(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    init(state, "--base-date", "2014")
    token = credit(tid_at(T0), "2.5")
    done = run_cli("enter", "--state", str(state), "--json", token)
    assert done.returncode == 0
    answer = json.loads(done.stdout)
    assert answer["result"] == "accept"
    assert answer["credit"]["credit_kwh"] == "2.500"
    assert "Accept" in answer["display"]

    again = run_cli("enter", "--state", str(state), "--json", token)
    assert again.returncode == 1
    assert json.loads(again.stdout)["result"] == "used"

    done = run_cli("consume", "--state", str(state), "--pulses", "2000", "--json")
    assert (done.returncode, json.loads(done.stdout)["credit_kwh"]) == (0, "0.500")
    done = run_cli("consume", "--state", str(state), "--kwh", "0.6", "--json")
    assert json.loads(done.stdout)["relay"] == "open"

    status = json.loads(run_cli("status", "--state", str(state), "--json").stdout)
    for key, value in {"credit_kwh": "0.000", "relay": "open", "krn": 1, "ti": 1, "sgc": "123456",
                       "kt": 2, "ken": 255, "tamper": False, "max_power_w": None}.items():
        assert status[key] == value
    assert tid_at(T0) in status["tid_memory"] and len(status["tid_memory"]) == 50
    assert KEY.hex() not in json.dumps(status)


def test_grouped_token_arguments(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    init(state, "--base-date", "2014")
    groups = [credit(tid_at(T0))[i : i + 4] for i in range(0, 20, 4)]
    assert run_cli("enter", "--state", str(state), *groups).returncode == 0


def test_decoder_key_from_stdin_is_never_echoed(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    done = run_cli("init", "--state", str(state), *INIT, input_text=KEY.hex() + "\n")
    assert done.returncode == 0, done.stderr
    assert KEY.hex() not in done.stdout + done.stderr
    text = run_cli("status", "--state", str(state)).stdout
    assert "krn: 1" in text and KEY.hex() not in text


def test_exit_codes_for_errors(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    missing = run_cli("status", "--state", str(state))
    assert missing.returncode == 3 and "init" in missing.stderr
    assert run_cli("enter", "--state", str(state)).returncode == 2  # no token: usage
    bad = run_cli("init", "--state", str(state), *INIT, "--decoder-key", "abcd")
    assert bad.returncode == 2 and not state.exists()
    init(state)
    assert run_cli("init", "--state", str(state), *INIT, "--decoder-key", KEY.hex()
                   ).returncode == 3
    assert run_cli("enter", "--state", str(state), "12345").returncode == 1
    assert run_cli("consume", "--state", str(state), "--kwh", "0.0001").returncode == 2
    state.write_text("{}")
    corrupt = run_cli("status", "--state", str(state))
    assert corrupt.returncode == 3 and "not a stsvend-keypad-meter" in corrupt.stderr
    assert state.read_text() == "{}"  # never silently reset


def test_tamper_and_reconnect_commands(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    init(state, "--base-date", "2014")
    run_cli("enter", "--state", str(state), credit(tid_at(T0)))
    done = run_cli("tamper", "--state", str(state), "--json")
    assert json.loads(done.stdout) == {"tamper": True, "relay": "open",
                                       "events": ["relay_open:tamper"]}


def test_serve_on_a_port_that_does_not_exist(tmp_path: Path) -> None:
    state = tmp_path / "m.json"
    init(state)
    done = run_cli("serve", "--state", str(state), "--port", str(tmp_path / "no-such-tty"))
    assert done.returncode == 2 and "cannot open" in done.stderr
