"""Reads of imports for pages and the API: the list, one import with its first errors, and the rejected rows
as a CSV file to fix and upload again."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from musubi.imports import rules, storage
from musubi.imports.models import Import, ImportRow
from musubi.imports.processing import bad_rows
from musubi.kernel.errors import NotFound
from musubi.workspaces.models import Workspace

FIRST_ERRORS = 20


def imports(workspace: Workspace) -> QuerySet[Import]:
    return Import.objects.for_workspace(workspace).select_related("source").order_by("-created_at", "-pk")


def import_(workspace: Workspace, import_id: int) -> Import:
    found = imports(workspace).filter(pk=import_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such import."))
    return found


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


def reason(row: ImportRow) -> str:
    if row.problems:
        return rules.problem_text(row.problems)
    return _("Row %(line)d has the same email address, phone number or LINE user ID.") % {"line": row.duplicate_of}


def first_errors(job: Import, limit: int = FIRST_ERRORS) -> list[RowError]:
    return [RowError(row.line, reason(row)) for row in bad_rows(job)[:limit]]


def rejected_rows_csv(job: Import) -> Iterator[bytes]:
    """The rows set aside, as the file had them, with the reason in a last column: UTF-8 with a BOM, so Excel
    opens it, fixed rows can be uploaded again. Reads the stored file and the rejected rows side by side in
    line order, so memory stays flat."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*job.headers, _("Reason")])
    yield "\ufeff".encode() + buffer.getvalue().encode("utf-8")
    rejected = bad_rows(job).iterator(chunk_size=2000)
    pending = next(rejected, None)
    records = storage.records(job)
    next(records, None)
    for line, cells in enumerate(records, start=2):
        if pending is None:
            break
        if line < pending.line:
            continue
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([*cells, reason(pending)])
        yield buffer.getvalue().encode("utf-8")
        pending = next(rejected, None)
