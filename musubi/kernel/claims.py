"""Durable work: rows that workers claim with a lease, so a killed worker loses nothing.

The job queue only wakes workers up; the truth about long work (a delivery per recipient, a row of an
import) lives in a table whose model extends ``DurableWork``. A worker:

1. claims up to N due rows in one short transaction — ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   so concurrent workers take disjoint rows; on SQLite the IMMEDIATE transaction is the single writer's
   lock — setting ``status=claimed``, ``claimed_by`` and ``lease_until`` and counting the attempt;
2. does the work outside any transaction;
3. records the outcome in bulk: done, retry later (with backoff), or failed for good.

A worker that dies leaves its rows claimed until ``lease_until`` passes; then any worker claims them again.
An outcome is only recorded while the recorder still holds the claim (``claimed_by`` matches), so a worker
whose lease ran out cannot overwrite the newer claimant, and a row recorded as done is never claimed
again. Work can happen twice only when it was in flight and not yet recorded: because its worker died, or
because a batch outlived its lease (keep batches shorter than the lease, or call ``extend_lease``).
Leases compare the workers' clocks, so machines running workers keep their clocks in sync (NTP).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connections, models, transaction
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from musubi.kernel import clock
from musubi.kernel.rules import retry_delay


class WorkStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CLAIMED = "claimed", _("In progress")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DurableWork(models.Model):
    """Base of a table of units of work with a due time, a lease, attempts and an outcome."""

    status = models.CharField(max_length=16, choices=WorkStatus.choices, default=WorkStatus.PENDING)
    due_at = models.DateTimeField(help_text="When the work was first due.")
    next_attempt_at = models.DateTimeField(help_text="When the row may next be claimed while pending.")
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    # After this many attempts (including leases that expired because a worker died) the row fails for good.
    max_attempts = 8

    class Meta:
        abstract = True
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="%(app_label)s_%(class)s_ready"),
            models.Index(fields=["status", "lease_until"], name="%(app_label)s_%(class)s_lease"),
        ]


def claim[W: DurableWork](
    queryset: models.QuerySet[W], *, worker: str, limit: int, lease: dt.timedelta = dt.timedelta(minutes=5)
) -> list[W]:
    """Claim up to ``limit`` due rows of ``queryset`` for ``worker`` and return them, oldest due first."""
    model = queryset.model
    now = clock.now()
    with transaction.atomic(using=queryset.db):
        # A row whose lease expired after its last allowed attempt is not retried: a worker keeps dying on it.
        # Locked with SKIP LOCKED like every claim, so claimers never wait on (or deadlock with) each other.
        doomed = _lock_ids(queryset.filter(status=WorkStatus.CLAIMED, lease_until__lt=now,
                                           attempts__gte=model.max_attempts).order_by("pk"), limit)
        model._default_manager.using(queryset.db).filter(pk__in=doomed).update(
            status=WorkStatus.FAILED,
            claimed_by="",
            lease_until=None,
            finished_at=now,
            last_error="lease expired on the last attempt (the worker stopped while holding it)",
        )
        # Two index range scans rather than one OR, which PostgreSQL can only answer by scanning the table.
        due = queryset.filter(status=WorkStatus.PENDING, next_attempt_at__lte=now)
        ids = _lock_ids(due.order_by("next_attempt_at", "pk"), limit)
        if len(ids) < limit:
            expired = queryset.filter(status=WorkStatus.CLAIMED, lease_until__lt=now)
            ids += _lock_ids(expired.order_by("lease_until", "pk"), limit - len(ids))
        if not ids:
            return []
        model._default_manager.using(queryset.db).filter(pk__in=ids).update(
            status=WorkStatus.CLAIMED, claimed_by=worker, lease_until=now + lease, attempts=F("attempts") + 1
        )
        return list(model._default_manager.using(queryset.db).filter(pk__in=ids).order_by("next_attempt_at", "pk"))


def _lock_ids(queryset: models.QuerySet, limit: int) -> list[int]:
    # of=("self",): lock only the work rows, not rows of tables a queue's queryset joins (a contact, a
    # workspace), which would make SKIP LOCKED skip every row sharing them.
    return list(queryset.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:limit])


def _held(model: type[DurableWork], ids: Iterable[int], worker: str) -> models.QuerySet:
    return model._default_manager.filter(pk__in=list(ids), status=WorkStatus.CLAIMED, claimed_by=worker)


def complete(model: type[DurableWork], ids: Iterable[int], *, worker: str) -> int:
    """Record rows as done; returns how many this worker still held (the others were lost to a newer claim)."""
    return _held(model, ids, worker).update(
        status=WorkStatus.DONE, claimed_by="", lease_until=None, finished_at=clock.now(), last_error=""
    )


def settle(model: type[DurableWork], rows: Sequence[Sequence[str | int]], *, columns: Sequence[str],
           fixed: Mapping[str, Any], worker: str) -> set[int]:
    """Record the outcome of many rows in one statement and release them: each row of ``rows`` is a primary
    key followed by its own values of ``columns`` (text or integers: database column names), ``fixed`` the
    values all of them take (``status``, ``finished_at``, …). Only rows ``worker`` still holds are written;
    returns their keys (the others were lost to a newer claim).

    One ``UPDATE … FROM (VALUES …) RETURNING`` where ``complete``/``fail`` send one statement per key: a sender
    recording every few milliseconds what the server accepted pays one round trip per group, not per mail."""
    if not rows:
        return set()
    table = model._meta.db_table
    db = model._default_manager.db
    vendor = connections[db].vendor
    width = len(columns) + 1
    row_sql = "(" + ", ".join(["%s"] * width) + ")"
    assignments = [f'"{column}" = v.column{n}' for n, column in enumerate(columns, start=2)]
    params: list[Any] = []
    for column, value in fixed.items():
        assignments.append(f'"{column}" = %s')
        params.append(connections[db].ops.adapt_datetimefield_value(value)
                      if vendor == "sqlite" and isinstance(value, dt.datetime) else value)
    assignments += ['"claimed_by" = \'\'', '"lease_until" = NULL']
    values = ", ".join([row_sql] * len(rows))
    if vendor == "postgresql":  # the keys arrive as small integers of some width; the table's are bigint
        values = values.replace("(%s", "(%s::bigint", 1)
    sql = (f'UPDATE "{table}" SET {", ".join(assignments)} FROM (VALUES {values}) AS v '  # noqa: S608 — our table
           f'WHERE "{table}"."id" = v.column1 AND "{table}"."status" = %s AND "{table}"."claimed_by" = %s '
           f'RETURNING "{table}"."id"')
    for row in rows:
        if len(row) != width:
            raise ValueError(f"each row is a key and {len(columns)} values")
        params.extend(row)
    params += [WorkStatus.CLAIMED, worker]
    with connections[db].cursor() as cursor:
        cursor.execute(sql, params)
        return {int(found) for (found,) in cursor.fetchall()}


def fail(model: type[DurableWork], errors: Mapping[int, str], *, worker: str) -> int:
    """Record rows as failed for good (a permanent error: invalid address, rejected request)."""
    now = clock.now()
    changed = 0
    for pk, error in errors.items():
        changed += _held(model, [pk], worker).update(
            status=WorkStatus.FAILED, claimed_by="", lease_until=None, finished_at=now, last_error=error[:2000]
        )
    return changed


def retry(model: type[DurableWork], errors: Mapping[int, str], *, worker: str) -> int:
    """Give rows back for a later attempt with exponential backoff, or fail those out of attempts."""
    now = clock.now()
    changed = 0
    for row in _held(model, errors.keys(), worker).only("pk", "attempts"):
        error = errors[row.pk][:2000]
        if row.attempts >= model.max_attempts:
            changed += fail(model, {row.pk: f"gave up after {row.attempts} attempts: {error}"}, worker=worker)
            continue
        changed += _held(model, [row.pk], worker).update(
            status=WorkStatus.PENDING,
            claimed_by="",
            lease_until=None,
            next_attempt_at=now + retry_delay(row.attempts),
            last_error=error,
        )
    return changed


def extend_lease(model: type[DurableWork], ids: Iterable[int], *, worker: str, lease: dt.timedelta) -> int:
    """Keep rows claimed while long work on them goes on; returns how many are still held."""
    return _held(model, ids, worker).update(lease_until=clock.now() + lease)
