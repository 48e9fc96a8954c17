"""Fixtures of the keypad meter tests (helpers live in meter_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meter_fixtures import SPEC, T0

from keypad_meter import StateFile, manufacture


@pytest.fixture
def store(tmp_path: Path) -> StateFile:
    s = StateFile(tmp_path / "meter.json")
    s.create(manufacture(SPEC, T0))
    return s
