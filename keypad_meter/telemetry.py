"""Telemetry: post the cumulative energy register to the vending server's readings endpoint.

Readings are queued in the meter's state (so they survive a restart) and sent in order, in one
``POST /api/v1/meters/{meter_number}/readings`` (CONTRACT §3). Only an acknowledged (2xx) batch
is removed from the queue; anything else leaves it for the next attempt, so no reading is lost.
The queue is cleared right after the acknowledgement; a crash in that instant can resend a batch
once, which the server absorbs when it treats ``(meter, at)`` as unique.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from .meter import Meter
from .storage import StateFile

log = logging.getLogger(__name__)
TIMEOUT_S = 10
MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class Reporter:
    """Where and how to report: the server's base URL and the API key (never logged)."""

    base_url: str
    api_key: str
    timeout_s: float = TIMEOUT_S

    def url_for(self, meter_number: str) -> str:
        return f"{self.base_url.rstrip('/')}/api/v1/meters/{quote(meter_number)}/readings"

    def post(self, meter_number: str, readings: list[dict[str, str]]) -> bool:
        """Send one batch; True only when the server acknowledged it with a 2xx status."""
        body = json.dumps({"readings": readings}).encode()
        request = urllib.request.Request(
            self.url_for(meter_number), data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Authorization": f"Bearer {self.api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return 200 <= response.status < 300
        except urllib.error.HTTPError as exc:
            log.warning("readings refused by the server: HTTP %s", exc.code)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("readings not sent (server unreachable): %s", exc)
        return False


def report_once(store: StateFile, reporter: Reporter, clock: Callable[[], datetime]) -> int:
    """Take a reading, then send the queue; returns how many readings the server took."""
    with store.transaction() as state:
        Meter(state).take_reading(clock())
    sent = 0
    while True:
        snapshot = store.read()
        batch = snapshot.readings[:MAX_BATCH]
        if not batch:
            return sent
        payload = [{"at": r.at, "energy_kwh": r.energy_kwh} for r in batch]
        if not reporter.post(snapshot.meter_number, payload):
            return sent
        with store.transaction() as state:
            Meter(state).readings_sent(batch[-1].seq)
        sent += len(batch)
