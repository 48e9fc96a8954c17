"""Token identifiers (SPEC §4): minutes since the key's base date, 24 bits.

Times are aware datetimes and the TID clock is UTC (SPEC decision 4). A time that does not fit
24 bits raises :class:`TidRolloverError`, naming the rollover: the meter must be moved to a key
on the next base date with a key-change set whose RO bit is set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import IntEnum

from .errors import RangeError, TidRolloverError, is_int

MAX_TID = 0xFFFFFF


class BaseDate(IntEnum):
    """The STS base dates; a property of the vending key (and of DKGA-04 decoder keys)."""

    Y1993 = 1993
    Y2014 = 2014
    Y2035 = 2035

    @property
    def epoch(self) -> datetime:
        return datetime(int(self), 1, 1, tzinfo=UTC)

    @property
    def code(self) -> str:
        """Two-digit code used by DKGA-04 (``93``, ``14``, ``35``)."""
        return f"{int(self) % 100:02d}"

    @property
    def rollover_at(self) -> datetime:
        """First minute whose TID no longer fits in 24 bits."""
        return self.epoch + timedelta(minutes=MAX_TID + 1)

    @classmethod
    def parse(cls, value: object) -> BaseDate:
        """1993/2014/2035, as an int or a string, or the two-digit codes 93/14/35."""
        if isinstance(value, cls):
            return value
        found = (
            None
            if isinstance(value, bool) or not isinstance(value, int | str)
            else _BASE_DATES.get(value)
        )
        if found is None:
            raise RangeError(f"base date must be 1993, 2014 or 2035, got {value!r}")
        return found

    def next(self) -> BaseDate | None:
        members = list(BaseDate)
        index = members.index(self)
        return members[index + 1] if index + 1 < len(members) else None


_BASE_DATES: dict[object, BaseDate] = {}
for _bd in BaseDate:
    for _form in (int(_bd), str(int(_bd)), int(_bd) % 100, f"{int(_bd) % 100:02d}"):
        _BASE_DATES[_form] = _bd


def tid_from_datetime(when: datetime, base_date: BaseDate | int) -> int:
    """TID for an aware ``when``: whole minutes since the base date (seconds are dropped)."""
    if not isinstance(when, datetime):
        raise RangeError(f"TID needs a datetime, not {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise RangeError("TID needs an aware datetime (the TID clock is UTC)")
    base = BaseDate.parse(base_date)
    minutes = (when - base.epoch) // timedelta(minutes=1)
    if minutes < 0:
        raise RangeError(f"{when.isoformat()} is before the {int(base)} base date")
    if minutes > MAX_TID:
        nxt = base.next()
        advice = (
            f"move the key to base date {int(nxt)} with a rollover key change (RO=1)"
            if nxt
            else "no later base date is defined"
        )
        raise TidRolloverError(
            f"TID rollover: {when.isoformat()} is past the last TID of base date {int(base)} "
            f"({(base.rollover_at - timedelta(minutes=1)).isoformat()}); {advice}"
        )
    return minutes


def datetime_from_tid(tid: int, base_date: BaseDate | int) -> datetime:
    """The UTC minute a TID stands for."""
    if not is_int(tid) or not 0 <= tid <= MAX_TID:
        raise RangeError(f"TID {tid!r} is not an integer that fits 24 bits")
    return BaseDate.parse(base_date).epoch + timedelta(minutes=tid)
