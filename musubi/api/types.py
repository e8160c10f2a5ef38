"""Field types the API shares, each strict enough that its OpenAPI schema tells the whole truth."""

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, WithJsonSchema, field_validator

from musubi.kernel.timezones import is_selectable, selectable_time_zones

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
    if not is_selectable(name):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Tokyo")
    return name


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_time_zone),
    WithJsonSchema({"type": "string", "enum": list(selectable_time_zones()), "example": "Asia/Tokyo"}),
]

# A string with at least one character that is not white space.
NOT_BLANK = r"^[\s\S]*\S[\s\S]*$"


class Input(Schema):
    """Base of request bodies: unknown fields are refused (a typo must not be silently ignored) and text may
    not hold NUL characters, which PostgreSQL cannot store."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value
