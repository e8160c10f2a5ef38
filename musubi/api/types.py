"""Field types the API shares, each strict enough that its OpenAPI schema tells the whole truth."""

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def _iso_8601_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date (``0.5`` seconds after 1970, ``"1700000000"``)."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("use an ISO 8601 date and time, e.g. 2026-04-01T09:00:00+09:00")
    return value


def _tokyo_when_naive(value: dt.datetime) -> dt.datetime:
    # A time without an offset means Japan time, the time every Japanese user has in mind.
    return value if value.tzinfo else value.replace(tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))


DateTimeParam = Annotated[
    dt.datetime,
    BeforeValidator(_iso_8601_only),
    AfterValidator(_tokyo_when_naive),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2026-04-01T09:00:00+09:00"}),
]


def _known_time_zone(name: str) -> str:
    if name not in zoneinfo.available_timezones():
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Tokyo")
    return name


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_time_zone),
    WithJsonSchema({"type": "string", "enum": sorted(zoneinfo.available_timezones()), "example": "Asia/Tokyo"}),
]

# A string with at least one character that is not white space.
NOT_BLANK = r"^[\s\S]*\S[\s\S]*$"
