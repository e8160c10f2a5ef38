"""Field types the API shares, each strict enough that its OpenAPI schema tells the whole truth."""

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from musubi.kernel.timezones import is_selectable, selectable_time_zones

# ISO 8601 with an optional offset no further than ±14:00 from UTC (none on Earth is; PostgreSQL refuses them).
ISO_DATE_TIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]((0\d|1[0-3]):?[0-5]\d|14:?00))?$"
)
_ISO_DATE_TIME = re.compile(ISO_DATE_TIME_PATTERN)


def _iso_8601_only(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date (``0.5`` seconds after 1970, ``"1700000000"``)."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_TIME.match(value):
        raise ValueError("use an ISO 8601 date and time with an offset within ±14:00, e.g. 2026-04-01T09:00:00+09:00")
    return value


def _aware_utc(value: dt.datetime) -> dt.datetime:
    """Give a time its offset and bring it to UTC. A time without an offset means Japan time, the one every
    Japanese user has in mind."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    return value.astimezone(dt.UTC)


DateTimeParam = Annotated[
    dt.datetime,
    BeforeValidator(_iso_8601_only),
    AfterValidator(_aware_utc),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": ISO_DATE_TIME_PATTERN,
                    "example": "2026-04-01T09:00:00+09:00"}),
]


def _wall_clock(value: dt.time) -> dt.time:
    if value.tzinfo is not None:
        raise ValueError("give a time of day without an offset, e.g. 09:00; it is read in the workspace's time zone")
    return value


# A time of day on the workspace's clock (09:00), never with an offset.
TimeOfDay = Annotated[dt.time, AfterValidator(_wall_clock),
                      WithJsonSchema({"type": "string", "format": "time", "pattern": r"^\d{2}:\d{2}(:\d{2})?$",
                                      "example": "09:00"})]


def _known_time_zone(name: str) -> str:
    if not is_selectable(name):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Asia/Tokyo")
    return name


TimeZoneName = Annotated[
    str,
    AfterValidator(_known_time_zone),
    WithJsonSchema({"type": "string", "enum": list(selectable_time_zones()), "example": "Asia/Tokyo"}),
]

# A string with at least one character that is not white space, and no NUL character.
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"


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


# An object's id in a path or filter: a positive 64-bit integer, so a huge number is a 400, not a database error.
ObjectId = Annotated[int, Field(ge=1, le=2**63 - 1)]
