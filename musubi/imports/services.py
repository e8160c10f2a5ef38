"""Use cases of imports: upload a file, set how its columns map and on which legal basis its people are
added, then ask a worker for a dry run or the import itself."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from musubi.capture import queries as capture_queries
from musubi.capture import services as capture
from musubi.capture.choices import SourceKind
from musubi.contacts.choices import LegalBasis
from musubi.contacts.models import Contact
from musubi.imports import rules, storage
from musubi.imports.choices import Encoding, Phase
from musubi.imports.exports import export_csv
from musubi.imports.models import Import, ImportRow
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit

PREVIEW_ROWS = 5
# Phases in which the owner may still change the mapping and start again: nothing has been written yet.
CHANGEABLE = (Phase.UPLOADED, Phase.CHECKED, Phase.REFUSED, Phase.FAILED)


def _invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput(_("Some fields need attention."), fields=fields)


@transaction.atomic
def upload(*, workspace: Workspace, actor: Actor, file_name: str, size: int, chunks: Iterable[bytes],
           encoding: str = "") -> Import:
    """Keep an uploaded file and read its header and first rows. The encoding is found from the bytes (UTF-8,
    with or without a BOM, or Shift_JIS as Japanese Excel writes it) unless ``encoding`` names one; a file that
    is neither is refused, and nothing is kept."""
    actor.require(Action.MANAGE)
    limit = settings.MUSUBI_IMPORT_MAX_BYTES
    if size > limit:
        raise _invalid({"file": _("The file is larger than %(limit)s. Split it into smaller files.") % {
            "limit": filesizeformat(limit)}})
    if size == 0:
        raise _invalid({"file": _("The file is empty.")})
    if encoding and encoding not in Encoding.values:
        raise _invalid({"encoding": _("Choose UTF-8 or Shift_JIS.")})
    now = clock.now()
    job = Import.objects.create(workspace=workspace, created_by=actor.user, created_at=now,
                                file_name=file_name[:200] or "import.csv", file_size=size, encoding=Encoding.UTF8,
                                status=WorkStatus.DONE, due_at=now, next_attempt_at=now)
    detection = storage.store(job, chunks)
    job.valid_utf8, job.valid_cp932, job.has_bom = detection.valid_utf8, detection.valid_cp932, detection.has_bom
    job.rows_estimate = max(detection.newlines - 1, 0)
    _set_encoding(job, encoding or detection.encoding, chosen=bool(encoding))
    record_audit(workspace=workspace, actor=actor, action="import.uploaded", obj=job,
                 changes={"file_name": job.file_name, "size": size, "encoding": job.encoding})
    return job


def _set_encoding(job: Import, encoding: str | None, *, chosen: bool) -> None:
    """Read the header and preview in ``encoding``; refuse an encoding the file's bytes are not in."""
    if encoding is None:
        raise _invalid({"file": _("This file is neither UTF-8 nor Shift_JIS, so its Japanese cannot be read. Save "
                                  "it from your spreadsheet as “CSV UTF-8” and upload it again.")})
    if not {Encoding.UTF8: job.valid_utf8, Encoding.CP932: job.valid_cp932}[Encoding(encoding)]:
        field = "encoding" if chosen else "file"
        raise _invalid({field: _("This file cannot be read as %(encoding)s.") % {"encoding": Encoding(encoding).label}})
    job.encoding = encoding
    records = storage.records(job)
    header = next(records, None)
    if not header or not any(cell.strip() for cell in header):
        raise _invalid({"file": _("The first row must name the columns (e.g. メールアドレス, 氏名, 電話番号).")})
    job.headers = [cell.strip()[:200] for cell in header]
    job.preview = [cells[:len(job.headers)] for cells in itertools.islice(records, PREVIEW_ROWS)]
    questions = rules.question_headers(capture_queries.question_labels(job.workspace))
    job.mapping = rules.guess_mapping(job.headers, questions)
    job.save()


def _job(workspace: Workspace, import_id: int, *, lock: bool = False) -> Import:
    found = Import.objects.for_workspace(workspace)
    if lock:
        found = found.select_for_update()
    job = found.filter(pk=import_id).first()
    if job is None:
        raise NotFound(_("This workspace has no such import."))
    return job


@transaction.atomic
def configure(*, workspace: Workspace, actor: Actor, import_id: int, mapping: Sequence[dict[str, str]],
              basis: str, note: str, tags: Sequence[str] = (), skip_invalid: bool = False,
              encoding: str | None = None) -> Import:
    """Set how the columns map, the legal basis with its evidence note, the tags every imported contact gets,
    and whether rows with errors are skipped (else an import with errors writes nothing)."""
    actor.require(Action.MANAGE)
    job = _job(workspace, import_id, lock=True)
    if job.phase not in CHANGEABLE:
        raise Conflict(_("This import is running or finished; upload the file again to import it differently."))
    fields: dict[str, str] = {}
    if encoding and encoding != job.encoding:
        if encoding not in Encoding.values:
            fields["encoding"] = _("Choose UTF-8 or Shift_JIS.")
        else:
            headers = job.headers
            _set_encoding(job, encoding, chosen=True)
            if job.headers != headers:
                mapping = job.mapping  # the columns changed with the encoding: start from the guesses
    clean = [{"target": str(m.get("target", "")), "key": str(m.get("key", "")).strip()} for m in mapping]
    fields.update(rules.mapping_problems(clean, job.headers))
    if basis not in LegalBasis.values:
        fields["basis"] = _("Choose the legal basis on which these people may be sent advertising.")
    if not note.strip():
        fields["note"] = _("Say where the addresses come from (e.g. “2024年 店頭アンケート用紙”), as evidence.")
    elif len(note) > 500:
        fields["note"] = _("Use at most 500 characters.")
    clean_tags = sorted({t.strip()[:100] for t in tags if t.strip()})
    if len(clean_tags) > 20:
        fields["tags"] = _("Use at most 20 tags.")
    if fields:
        raise _invalid(fields)
    if clean != job.mapping or job.phase == Phase.FAILED:
        _forget_checks(job)
    job.mapping, job.basis, job.note, job.tags, job.skip_invalid = clean, basis, note.strip(), clean_tags, skip_invalid
    job.save()
    record_audit(workspace=workspace, actor=actor, action="import.configured", obj=job,
                 changes={"basis": basis, "note": job.note, "tags": clean_tags, "skip_invalid": skip_invalid})
    return job


def _forget_checks(job: Import) -> None:
    ImportRow.objects.filter(workspace_id=job.workspace_id, job=job).delete()
    job.staged = False
    job.rows_read = job.rows_total = job.blank_rows = job.invalid_rows = job.duplicate_rows = 0
    job.phase = Phase.UPLOADED


@transaction.atomic
def start(*, workspace: Workspace, actor: Actor, import_id: int, dry_run: bool) -> Import:
    """Hand the import to the workers: a dry run checks every row and writes nothing; the real run also writes
    the good rows, crediting each contact and consent record to a new source of kind “import”."""
    actor.require(Action.MANAGE)
    job = _job(workspace, import_id, lock=True)
    if job.phase not in CHANGEABLE:
        raise Conflict(_("This import is already running or finished."))
    missing = rules.mapping_problems(job.mapping, job.headers)
    if job.basis not in LegalBasis.values:
        missing["basis"] = _("Choose the legal basis on which these people may be sent advertising.")
    if not job.note:
        missing["note"] = _("Say where the addresses come from, as evidence.")
    if missing:
        raise _invalid(missing)
    if not dry_run and job.source_id is None:
        job.source = capture.create_source(workspace=workspace, actor=actor, kind=SourceKind.IMPORT,
                                           name=_("CSV import: %(file)s (#%(id)d)") % {
                                               "file": job.file_name[:150], "id": job.pk})
    if job.phase == Phase.FAILED:
        _forget_checks(job)
    now = clock.now()
    job.dry_run = dry_run
    job.phase = Phase.CHECKING if dry_run else Phase.IMPORTING
    job.message = ""
    job.status, job.attempts, job.due_at, job.next_attempt_at = WorkStatus.PENDING, 0, now, now
    job.claimed_by, job.lease_until, job.finished_at, job.last_error = "", None, None, ""
    job.finished_phase_at = None
    job.save()
    record_audit(workspace=workspace, actor=actor, action="import.started", obj=job, changes={"dry_run": dry_run})
    return job


def apply_named_mapping(job: Import, named: dict[str, str]) -> list[dict[str, str]]:
    """The import's guessed mapping with the columns named in ``named`` (header → ``email``, ``name``, ``phone``,
    ``line_user_id``, ``tags``, ``ignore`` or ``field:<key>``) changed, as the API takes it."""
    mapping = [dict(m) for m in job.mapping]
    fields: dict[str, str] = {}
    for header, target in named.items():
        matches = [i for i, h in enumerate(job.headers) if h == header]
        if len(matches) != 1:
            fields[f"mapping.{header}"] = (_("The file has no column with this header.") if not matches
                                           else _("Several columns have this header."))
            continue
        kind, _sep, key = str(target).partition(":")
        mapping[matches[0]] = {"target": kind, "key": key.strip()}
    if fields:
        raise _invalid(fields)
    return mapping


def export_stream(*, workspace: Workspace, actor: Actor, contacts: QuerySet[Contact], encoding: str) -> Iterator[bytes]:
    """``exports.export_csv`` for a person or key allowed to take the list away, with an audit entry (rows, and
    characters Shift_JIS could not hold) written once the last byte is out."""
    actor.require(Action.MANAGE)
    if encoding not in Encoding.values:
        raise _invalid({"encoding": _("Choose UTF-8 or Shift_JIS.")})
    export = export_csv(workspace, contacts, encoding=encoding)

    def stream() -> Iterator[bytes]:
        yield from export
        record_audit(workspace=workspace, actor=actor, action="contacts.exported",
                     changes={"rows": export.rows, "encoding": encoding, "replaced": export.replaced})

    return stream()
