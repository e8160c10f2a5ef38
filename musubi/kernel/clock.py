"""The one source of the current time.

Code asks ``clock.now()`` instead of ``django.utils.timezone.now()`` so tests can move time with
``clock.frozen(...)`` or ``clock.travel(...)`` and see schedules, leases and retention play out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator

from django.utils import timezone

_state = threading.local()


def now() -> dt.datetime:
    """The current aware datetime (UTC), or the time a test has set."""
    fixed: dt.datetime | None = getattr(_state, "fixed", None)
    if fixed is not None:
        return fixed
    offset: dt.timedelta = getattr(_state, "offset", dt.timedelta(0))
    return timezone.now() + offset


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Stop the clock at ``at`` (which must be aware) inside the block."""
    if timezone.is_naive(at):
        raise ValueError("frozen() needs an aware datetime")
    previous = getattr(_state, "fixed", None)
    _state.fixed = at
    try:
        yield
    finally:
        _state.fixed = previous


@contextlib.contextmanager
def travel(by: dt.timedelta) -> Iterator[None]:
    """Let the clock run, but shifted by ``by``, inside the block."""
    previous = getattr(_state, "offset", dt.timedelta(0))
    _state.offset = previous + by
    try:
        yield
    finally:
        _state.offset = previous
