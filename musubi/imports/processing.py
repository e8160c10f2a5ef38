"""The worker's side of an import: read and check every row, then write the good ones, in chunks.

1. **Check** (``_check``): read the file from where the last committed chunk ended, check each record
   (``rules.RowChecker``) and write it to ``ImportRow``. Each chunk's rows commit together with
   ``rows_read`` and the counts, in one transaction.
2. **Set duplicates aside** (``_mark_duplicates``): a row that shares an email, phone or LINE user ID with an
   earlier good row is a duplicate of it — three set-based UPDATEs over the checked rows, so memory does not
   grow with the file.
3. **Decide**: a dry run stops here with its counts. A real run with errors stops too unless the owner chose
   to skip bad rows; nothing has been written to the contacts.
4. **Write** (``_write``): good rows in line order, ``CHUNK`` at a time, through ``contacts.bulk.add_many``;
   each chunk commits with ``written_through`` (the last line written), and its checked rows are removed.

Every commit first updates the import row where ``claimed_by`` is still this worker; if another worker took
the import over (this one's lease ran out), the update finds nothing and the chunk rolls back. A worker
killed mid-chunk leaves that chunk uncommitted, and its successor starts at the same chunk: nothing is
written twice and nothing is lost.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from musubi.capture import queries as capture_queries
from musubi.contacts import bulk, staged
from musubi.contacts.services import Addresses
from musubi.imports import rules, storage
from musubi.imports.choices import Phase
from musubi.imports.models import Import, ImportRow
from musubi.kernel import clock
from musubi.kernel.bulk import insert_rows
from musubi.kernel.claims import WorkStatus
from musubi.kernel.worker import BatchOutcome, WorkQueue
from musubi.kernel.worker import register_queue as register
from musubi.workspaces.models import Workspace

logger = logging.getLogger("musubi.imports")
QUEUE = "imports"
_ROW_COLUMNS = ("workspace_id", "job_id", "line", "email", "phone", "line_user_id", "name", "fields", "tags",
                "valid", "problems")


class LostClaim(Exception):
    """Another worker holds the import now: this one stops without committing its chunk."""


def register_queue() -> None:
    register(WorkQueue(name=QUEUE, rows=Import.objects.all, handle=handle, batch_size=1,
                       lease_seconds=settings.MUSUBI_IMPORT_LEASE_SECONDS))


def handle(jobs: list[Import], outcome: BatchOutcome) -> None:
    for job in jobs:
        try:
            run(job, worker=job.claimed_by)
        except LostClaim:
            logger.warning("import %s: another worker took it over", job.pk)
            continue
        outcome.done.append(job.pk)


def run(job: Import, *, worker: str) -> None:
    """Carry ``job`` forward from its committed progress to the end of what was asked (a check or an import)."""
    try:
        if not job.staged:
            _check(job, worker=worker)
            _mark_duplicates(job, worker=worker)
    except (UnicodeDecodeError, csv.Error) as exc:
        _commit(job, worker, phase=Phase.FAILED, finished_phase_at=clock.now(),
                message=_("The file could not be read after row %(line)d: %(error)s") % {
                    "line": job.rows_read + 1, "error": str(exc)[:300]})
        return
    if job.dry_run:
        _commit(job, worker, phase=Phase.CHECKED, finished_phase_at=clock.now())
        return
    if job.error_rows and not job.skip_invalid:
        _commit(job, worker, phase=Phase.REFUSED, finished_phase_at=clock.now())
        return
    _write(job, worker=worker)
    _commit(job, worker, phase=Phase.DONE, skipped_rows=job.error_rows, finished_phase_at=clock.now())


def _commit(job: Import, worker: str, **changes: Any) -> None:
    """Save progress as part of the current transaction (or alone), only while ``worker`` holds the import; the
    lease is renewed with it."""
    lease_until = clock.now() + dt.timedelta(seconds=settings.MUSUBI_IMPORT_LEASE_SECONDS)
    with transaction.atomic():
        held = Import.objects.filter(pk=job.pk, status=WorkStatus.CLAIMED, claimed_by=worker).update(
            lease_until=lease_until, **changes)
        if not held:
            raise LostClaim(job.pk)
    for name, value in changes.items():
        setattr(job, name, value)


def _check(job: Import, *, worker: str) -> None:
    checker = rules.RowChecker(job.mapping, job.headers,
                               several_choice_keys=capture_queries.several_choice_keys(job.workspace))
    records = storage.records(job)
    next(records, None)  # the header
    records = itertools.islice(records, job.rows_read, None)
    chunk_size = settings.MUSUBI_IMPORT_CHUNK_ROWS
    ws = job.workspace_id
    while chunk := list(itertools.islice(records, chunk_size)):
        rows, blank, invalid = [], 0, 0
        for offset, cells in enumerate(chunk):
            line = job.rows_read + offset + 2  # the header is row 1
            checked = checker.check(cells)
            if checked is None:
                blank += 1
                continue
            valid = not checked.problems
            invalid += not valid
            rows.append((ws, job.pk, line, checked.email, checked.phone, checked.line_user_id, checked.name,
                         checked.fields, "\n".join(checked.tags), valid, [list(p) for p in checked.problems]))
        with transaction.atomic():
            _commit(job, worker, rows_read=job.rows_read + len(chunk), blank_rows=job.blank_rows + blank,
                    invalid_rows=job.invalid_rows + invalid, rows_total=job.rows_total + len(rows))
            insert_rows(ImportRow, _ROW_COLUMNS, rows)


def _mark_duplicates(job: Import, *, worker: str) -> None:
    table = ImportRow._meta.db_table
    with transaction.atomic():
        _commit(job, worker)
        with connection.cursor() as cursor:
            for column in ("email", "phone", "line_user_id"):
                # The same statement on PostgreSQL and SQLite (3.33+): UPDATE … FROM and a window function.
                cursor.execute(f"""
                    UPDATE {table} SET duplicate_of = d.first
                    FROM (SELECT id, line, first FROM (
                            SELECT id, line, min(line) OVER (PARTITION BY {column}) AS first FROM {table}
                            WHERE workspace_id = %s AND job_id = %s AND valid AND {column} IS NOT NULL) AS w
                          WHERE first < line) AS d  -- only the repeats: the join stays small
                    WHERE {table}.id = d.id
                      AND ({table}.duplicate_of IS NULL OR d.first < {table}.duplicate_of)
                """, [job.workspace_id, job.pk])  # noqa: S608 — our table and column names
        duplicates = ImportRow.objects.filter(workspace_id=job.workspace_id, job=job, valid=True,
                                              duplicate_of__isnull=False).count()
        _commit(job, worker, duplicate_rows=duplicates, staged=True)


def _write(job: Import, *, worker: str) -> None:
    workspace = Workspace.objects.get(pk=job.workspace_id)
    if connection.vendor == "postgresql":
        _write_in_sql(job, workspace, worker=worker)
        return
    good = ImportRow.objects.filter(workspace_id=job.workspace_id, job=job, valid=True, duplicate_of__isnull=True)
    chunk_size = settings.MUSUBI_IMPORT_CHUNK_ROWS
    while True:
        chunk = list(good.filter(line__gt=job.written_through).order_by("line")
                     .values_list("line", "email", "phone", "line_user_id", "name", "fields", "tags")[:chunk_size])
        if not chunk:
            return
        people = [bulk.Person(addresses=Addresses(email=email, line_user_id=line_user_id, phone=phone), name=name,
                              fields=fields, tags=tuple(tags.split("\n")) if tags else ())
                  for _line, email, phone, line_user_id, name, fields, tags in chunk]
        with transaction.atomic():
            _commit(job, worker)  # holds the import row's lock until this chunk commits
            added = bulk.add_many(workspace=workspace, people=people, basis=job.basis, source_id=job.source_id,
                                  tags=job.tags)
            last = chunk[-1][0]
            good.filter(line__gt=job.written_through, line__lte=last).delete()
            _commit(job, worker, written_through=last, created_contacts=job.created_contacts + added.created,
                    merged_contacts=job.merged_contacts + added.matched)


def _write_in_sql(job: Import, workspace: Workspace, *, worker: str) -> None:
    """The same chunks on PostgreSQL, but the checked rows never come up to Python: each chunk is copied into a
    temporary table inside the database and ``staged.add_staged`` writes it with a few set-based statements."""
    table = ImportRow._meta.db_table
    chunk_size = settings.MUSUBI_IMPORT_WRITE_CHUNK_ROWS
    good = "workspace_id = %(ws)s AND job_id = %(job)s AND valid AND duplicate_of IS NULL AND line > %(after)s"
    while True:
        params = {"ws": job.workspace_id, "job": job.pk, "after": job.written_through, "limit": chunk_size}
        with transaction.atomic():
            _commit(job, worker)  # holds the import row's lock until this chunk commits
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS _import_people")
                cursor.execute(f"""
                    CREATE TEMPORARY TABLE _import_people ON COMMIT DROP AS
                    SELECT {", ".join(staged.PEOPLE_COLUMNS)} FROM {table} WHERE {good}
                    ORDER BY line LIMIT %(limit)s""", params)  # noqa: S608 — our table and columns
                cursor.execute("SELECT max(line) FROM _import_people")
                last = cursor.fetchone()[0]
                if last is None:
                    return
                added = staged.add_staged(workspace=workspace, people="_import_people", basis=job.basis,
                                          source_id=job.source_id, tags=job.tags)
                cursor.execute(f"DELETE FROM {table} WHERE {good} AND line <= %(last)s",  # noqa: S608
                               {**params, "last": last})
            _commit(job, worker, written_through=last, created_contacts=job.created_contacts + added.created,
                    merged_contacts=job.merged_contacts + added.matched)


def bad_rows(job: Import) -> Any:
    """The rows set aside, in line order."""
    return (ImportRow.objects.filter(workspace_id=job.workspace_id, job=job)
            .filter(Q(valid=False) | Q(duplicate_of__isnull=False)).order_by("line"))
