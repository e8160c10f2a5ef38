"""The time zones a workspace may choose: IANA's canonical "Area/City" names, plus UTC.

``zoneinfo.available_timezones()`` also lists aliases and oddities (``Japan``, ``Factory``, ``localtime``,
``posixrules``, ``Etc/GMT+9`` whose sign is inverted) that only confuse a person picking from a list.
"""

from __future__ import annotations

import functools
import zoneinfo

_AREAS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/",
          "Pacific/")


@functools.cache
def selectable_time_zones() -> tuple[str, ...]:
    names = {name for name in zoneinfo.available_timezones() if name.startswith(_AREAS)}
    return ("UTC", *sorted(names))


def is_selectable(name: str) -> bool:
    return name in selectable_time_zones()
