"""Writing many rows at once: PostgreSQL's COPY where there is one, plain batched INSERTs on SQLite.

Rows are tuples in the order of the columns named, so no model instance is built per row (Django spends
tens of microseconds on each). Callers that must link rows to each other before they are written (a contact
and its identities) take their ids first from ``allocate_ids``. Both run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def allocate_ids(model: type[models.Model], n: int) -> list[int]:
    """``n`` unused primary keys of ``model``'s table, ascending, for rows the caller is about to insert."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n])
            return sorted(row[0] for row in cursor.fetchall())
        # SQLite has one writer at a time (IMMEDIATE transactions), so ids above both the highest ever handed
        # out (AUTOINCREMENT's sqlite_sequence) and the highest present stay free until this transaction ends.
        if not connection.in_atomic_block:
            raise RuntimeError("allocate_ids must run inside the transaction that inserts the rows")
        cursor.execute(
            f'SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), '  # noqa: S608 — our table
            f'coalesce((SELECT max(id) FROM "{table}"), 0))', [table])
        start = int(cursor.fetchone()[0])
    return list(range(start + 1, start + n + 1))


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (tuples of values for ``columns``, database column names) into ``model``'s table.
    Dicts and lists are written as JSON; omitted columns take their database default (the id)."""
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})'  # noqa: S608 — our table and columns
        batch: list[list[Any]] = []
        for row in rows:
            batch.append([_sqlite_value(v) for v in row])
            if len(batch) == 2000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def update_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Set ``columns`` (database column names) of many rows at once: each row is the values in that order
    followed by the row's primary key. One prepared statement run for every row (psycopg pipelines them), where
    Django's ``bulk_update`` builds a CASE expression per field and row that costs milliseconds per row."""
    table = model._meta.db_table
    assignments = ", ".join(f'"{column}" = %s' for column in columns)
    sql = f'UPDATE "{table}" SET {assignments} WHERE "id" = %s'  # noqa: S608 — our table and columns
    values = [[_sqlite_value(v) if connection.vendor == "sqlite" else v for v in row] for row in rows]
    if values:
        with connection.cursor() as cursor:
            cursor.executemany(sql, values)
    return len(values)
