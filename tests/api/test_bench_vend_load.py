"""bench/vend_load.py in its quick form: the benchmark itself runs in CI (gunicorn on a fresh
PostgreSQL database, real clients, pgbench on the same database), a few seconds long, so a
change that breaks it, or makes a vend fail under concurrency, is seen at once. The figures
themselves are measured with the full run (docs/performance.md), never asserted here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from vending_fixtures import pg_admin_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_the_vend_benchmark_runs_and_every_vend_succeeds() -> None:
    admin = pg_admin_url().rsplit("/", 1)[0] + "/postgres"
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "vend_load.py"), "--admin-url", admin,
         "--workers", "2", "--clients", "4", "--processes", "1", "--seconds", "2",
         "--meters", "50", "--pgbench-seconds", "1", "--markdown"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    vends = re.search(r"vends: (\d+) in ([0-9.]+) s = (\d+) vends/s", out.stdout)
    assert vends is not None, out.stdout
    assert int(vends.group(1)) > 0
    assert "errors: none" in out.stdout
    assert re.search(r"pgbench TPC-B .*: \d+ tps", out.stdout)
    assert re.search(r"ratio vends/s : pgbench tps = [0-9.]+", out.stdout)
    assert re.search(r"PostgreSQL [0-9.]+ ms, load generator [0-9.]+ ms", out.stdout)
    assert re.search(r"^\| \d{4}-\d\d-\d\d \| \d+ \| 2 \| 4 \| 50 \|", out.stdout, re.M)
