"""Pure decisions of messaging: when a step is due, quiet hours, what an SMTP or LINE answer means."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from musubi.messaging.choices import Timing


@dataclass(frozen=True)
class StepTiming:
    timing: str
    delay_minutes: int = 0
    day: int = 0
    at_time: dt.time | None = None


def step_due(step: StepTiming, *, entered_at: dt.datetime, previous_at: dt.datetime, tz: str) -> dt.datetime:
    """When a step falls due: a delay after the previous step (or entering), or day N after entering at a
    time of day in the workspace's time zone (day 0 at a time already past means that time on day 0, so
    it is due at once)."""
    if step.timing == Timing.AFTER:
        return previous_at + dt.timedelta(minutes=step.delay_minutes)
    zone = zoneinfo.ZoneInfo(tz)
    local_entered = entered_at.astimezone(zone)
    day = local_entered.date() + dt.timedelta(days=step.day)
    at = step.at_time or local_entered.timetz().replace(tzinfo=None)
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


def outside_quiet_hours(due: dt.datetime, *, start: dt.time, end: dt.time, tz: str) -> dt.datetime:
    """``due``, or the end of the quiet window it falls in (e.g. 21:00–08:00: a step due at 23:30 goes at
    08:00 the next morning). A window with start == end is no window."""
    if start == end:
        return due
    zone = zoneinfo.ZoneInfo(tz)
    local = due.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    crosses_midnight = start > end
    quiet = (t >= start or t < end) if crosses_midnight else (start <= t < end)
    if not quiet:
        return due
    day = local.date()
    if crosses_midnight and t >= start:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


def smtp_bounce_is_hard(code: int, detail: str) -> bool:
    """A permanent refusal that names the mailbox (5.1.x: no such user, bad domain) is a hard bounce that
    suppresses the address; other 5xx (policy, content) fail the message without judging the address."""
    return 500 <= code < 600 and (" 5.1." in f" {detail}" or (code in (550, 551, 553) and "5.7" not in detail))


def line_groups[T](items: list[T], *, size: int = 500) -> list[list[T]]:
    """Multicast takes at most 500 user ids per request."""
    return [items[i:i + size] for i in range(0, len(items), size)]
