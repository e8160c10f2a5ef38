"""Fixed-window rate limits shared by every web process, kept in the database.

A per-process cache would let each granian worker allow the limit again, and the embedded default has no
Redis; one upsert per public form submission costs little beside the rows the submission writes anyway.
The counter is incremented atomically by the database (``INSERT … ON CONFLICT DO UPDATE … RETURNING``,
which PostgreSQL and SQLite ≥ 3.35 both understand), so concurrent hits are never lost.
"""

from __future__ import annotations

import random

from django.db import connection, transaction

from musubi.kernel import clock
from musubi.kernel.models import RateCounter

_TABLE = RateCounter._meta.db_table
_UPSERT = (  # the only interpolation is our own table name
    f'INSERT INTO {_TABLE} ("key", "period", "hits") VALUES (%s, %s, 1) '  # noqa: S608
    f'ON CONFLICT ("key", "period") DO UPDATE SET "hits" = {_TABLE}."hits" + 1 RETURNING "hits"'
)
PRUNE_CHANCE = 0.01


def hit(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count a hit on ``key`` and say whether it is within ``limit`` hits per ``window_seconds``."""
    period = int(clock.now().timestamp()) // window_seconds
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPSERT, [key[:100], period])
        (hits,) = cursor.fetchone()
    if random.random() < PRUNE_CHANCE:  # noqa: S311 — not a secret  # keep the table small without a scheduled job
        # Keys of one scope ("optin:…") share a window length, so their periods compare.
        RateCounter.objects.filter(period__lt=period - 2, key__startswith=key.split(":", 1)[0] + ":").delete()
    return int(hits) <= limit
