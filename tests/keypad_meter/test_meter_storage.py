"""The state file: atomic, versioned, checksummed, locked; damage is an error, never a reset."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
from meter_fixtures import SPEC, T0, credit, tid_at

from keypad_meter import (
    CorruptStateError,
    Meter,
    StateFile,
    StateFileError,
    StateMissingError,
    manufacture,
)


def test_round_trip_and_owner_only_permissions(store: StateFile) -> None:
    with store.transaction() as state:
        assert Meter(state).enter(credit(tid_at(T0)), T0).accepted
    again = store.read()
    assert again.credit_wh == 1000
    assert again == StateFile(store.path).load()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert not Path(str(store.path) + ".tmp").exists()


def test_exception_inside_a_transaction_changes_nothing(store: StateFile) -> None:
    before = store.path.read_bytes()
    with pytest.raises(RuntimeError), store.transaction() as state:
        state.credit_wh = 99
        raise RuntimeError("power cut")
    assert store.path.read_bytes() == before


def test_create_refuses_to_overwrite(store: StateFile) -> None:
    with pytest.raises(StateFileError, match="already holds a meter"):
        store.create(manufacture(SPEC, T0))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StateMissingError):
        StateFile(tmp_path / "none.json").read()


@pytest.mark.parametrize("damage", ["truncate", "flip", "version", "garbage", "field", "empty"])
def test_damaged_file_is_an_error(store: StateFile, damage: str) -> None:
    raw = store.path.read_bytes()
    doc = json.loads(raw)
    if damage == "truncate":
        store.path.write_bytes(raw[: len(raw) // 2])
    elif damage == "flip":
        doc["state"]["credit_wh"] = 10**9
        store.path.write_text(json.dumps(doc))
    elif damage == "version":
        doc["version"] = 99
        store.path.write_text(json.dumps(doc))
    elif damage == "garbage":
        store.path.write_bytes(b"\xff\xfe not json")
    elif damage == "field":
        doc["state"]["surprise"] = 1
        from keypad_meter.storage import checksum
        doc["checksum"] = checksum(doc["state"])
        store.path.write_text(json.dumps(doc))
    else:
        store.path.write_bytes(b"")
    with pytest.raises(CorruptStateError):
        store.read()
    with pytest.raises(CorruptStateError), store.transaction():
        pass  # pragma: no cover - never reached


def test_concurrent_writers_are_serialised(store: StateFile) -> None:
    """Threads adding credit through separate StateFile objects lose no update."""
    tid = tid_at(T0)

    def worker(base: int) -> None:
        own = StateFile(store.path)
        for i in range(10):
            with own.transaction() as state:
                Meter(state).enter(credit(tid + base + i, "0.1"), T0)

    threads = [threading.Thread(target=worker, args=(n * 100,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read().credit_wh == 40 * 100
