"""Pure decisions of the kernel: no ORM, no I/O."""

from __future__ import annotations

import datetime as dt


def retry_delay(
    attempts: int, *, base: dt.timedelta = dt.timedelta(seconds=30), cap: dt.timedelta = dt.timedelta(hours=6)
) -> dt.timedelta:
    """How long to wait before attempt ``attempts + 1``: doubling from ``base`` after each failure, capped.

    With the defaults: 30 s, 1 min, 2 min, 4 min … up to 6 h, so a provider outage of a few hours is
    ridden out without hammering it.
    """
    if attempts < 1:
        raise ValueError("attempts counts tries already made and starts at 1")
    return min(base * (2 ** min(attempts - 1, 30)), cap)
