"""Writing many rows at once: PostgreSQL's COPY where there is one, plain batched INSERTs on SQLite.

Rows are tuples in the order of the columns named, so no model instance is built per row (Django spends
tens of microseconds on each). Callers that must link rows to each other before they are written (a contact
and its identities) take their ids first from ``allocate_ids``. Both run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone


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


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
                skip_duplicates: bool = False) -> int:
    """Insert ``rows`` (tuples of values for ``columns``, database column names) into ``model``'s table.
    Dicts and lists are written as JSON; omitted columns take their database default (the id).

    With ``skip_duplicates`` a row that would break a unique constraint is left out instead of failing the
    transaction (``ON CONFLICT DO NOTHING``; slower than COPY on PostgreSQL); the count is then of rows sent."""
    table = model._meta.db_table
    names = ", ".join(f'"{column}"' for column in columns)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and skip_duplicates:
            with _staged(cursor, table, columns, rows) as (stage, count):
                cursor.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM "{stage}" '  # noqa: S608
                               "ON CONFLICT DO NOTHING")
            return count
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(columns))
        verb = "INSERT OR IGNORE" if skip_duplicates else "INSERT"
        sql = f'{verb} INTO "{table}" ({names}) VALUES ({placeholders})'  # our table and columns
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
    followed by the row's primary key, where Django's ``bulk_update`` builds a CASE expression per field and
    row that costs milliseconds per row. A few rows: one prepared statement run per row (psycopg pipelines
    them). Many rows on PostgreSQL: COPY them into a staging table and join it in one UPDATE."""
    table = model._meta.db_table
    values = [[_sqlite_value(v) if connection.vendor == "sqlite" else v for v in row] for row in rows]
    if not values:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(values) >= STAGE_FROM_ROWS:
            assignments = ", ".join(f'"{column}" = s."{column}"' for column in columns)
            with _staged(cursor, table, [*columns, "id"], values) as (stage, _):
                cursor.execute(f'UPDATE "{table}" SET {assignments} FROM "{stage}" s '  # noqa: S608
                               f'WHERE "{table}"."id" = s."id"')
            return len(values)
        assignments = ", ".join(f'"{column}" = %s' for column in columns)
        sql = f'UPDATE "{table}" SET {assignments} WHERE "id" = %s'  # noqa: S608 — our table and columns
        cursor.executemany(sql, values)
    return len(values)


def refresh_statistics(model: type[models.Model]) -> None:
    """Have PostgreSQL sample ``model``'s table again after many rows were written to it. Its planner counts
    rows from statistics that autovacuum refreshes a minute or more later (much later on a busy machine); a
    table that grew from nothing to 100,000 pending rows was still planned as nearly empty, and a claim of
    1,000 sorted every pending row — 0.8–3.7 s a claim instead of 9 ms. ANALYZE samples at most 30,000 rows,
    so it costs the same whatever the table's size. SQLite plans without statistics well enough here."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f'ANALYZE "{model._meta.db_table}"')


# From this many rows a staging table (one CREATE, one COPY, one joined statement, one DROP) beats a statement
# per row, even pipelined.
STAGE_FROM_ROWS = 200


@contextmanager
def _staged(cursor: Any, table: str, columns: Sequence[str],
            rows: Iterable[Sequence[Any]]) -> Iterator[tuple[str, int]]:
    """COPY ``rows`` into a temporary table shaped like ``columns`` of ``table``; yields its name and the count."""
    stage = f"_stage_{table}"
    names = ", ".join(f'"{column}"' for column in columns)
    with transaction.atomic():
        cursor.execute(f'CREATE TEMPORARY TABLE "{stage}" AS SELECT {names} FROM "{table}" WITH NO DATA')  # noqa: S608
        count = 0
        with cursor.cursor.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
                count += 1
        yield stage, count
        cursor.execute(f'DROP TABLE "{stage}"')


def insert_objects(model: type[models.Model], rows: Sequence[dict[str, Any]], *, skip_duplicates: bool = False) -> int:
    """Insert rows given as ``{attname: value}`` dicts (all with the same keys), filling every field they leave
    out with its model default, so a field added to the model later does not break a bulk writer that never
    heard of it. A required field without a default that the rows leave out is an error, named."""
    if not rows:
        return 0
    given = list(rows[0])
    filled: list[tuple[str, Any]] = []
    columns_of = {field.attname: str(field.column) for field in model._meta.concrete_fields}
    for field in model._meta.concrete_fields:
        column = columns_of[field.attname]
        if field.attname in given or field.primary_key:
            continue
        if field.has_default():
            filled.append((column, field.get_default()))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            filled.append((column, timezone.now()))
        elif field.null:
            filled.append((column, None))
        else:
            raise ValueError(f"{model.__name__}.{field.name} has no default: give it in every row")
    columns = [columns_of[name] for name in given]
    columns += [column for column, _ in filled]
    extra = tuple(value for _, value in filled)
    return insert_rows(model, columns, (tuple(row[name] for name in given) + extra for row in rows),
                       skip_duplicates=skip_duplicates)
