"""CSV imports of contacts (upload with the mapping, basis and options in one multipart request; the work runs
in the background and is read back by id) and the CSV export of contacts."""

import datetime as dt
import json
from typing import Any, Literal

from django.db import transaction
from django.http import StreamingHttpResponse
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from musubi.api.auth import ApiRequest
from musubi.api.errors import with_errors
from musubi.api.pagination import Cursor
from musubi.api.types import NOT_BLANK, Input, ObjectId
from musubi.contacts import queries as contact_queries
from musubi.contacts.choices import LegalBasis
from musubi.imports import queries, rules, services
from musubi.imports.choices import Phase, Target
from musubi.kernel.errors import InvalidInput

router = Router(tags=["imports"])
CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}}


class ColumnOut(Schema):
    header: str
    target: Target
    key: str


class RowErrorOut(Schema):
    line: int = Field(description="The spreadsheet's row number (the header is row 1).")
    message: str


class ImportOut(Schema):
    id: int
    file_name: str
    encoding: str
    phase: Phase
    message: str
    dry_run: bool
    skip_invalid: bool
    basis: str
    note: str
    tags: list[str]
    source_id: int | None
    progress: int = Field(description="Percent done.")
    rows: int = Field(description="Rows read (blank rows not counted).")
    blank: int
    invalid: int
    duplicates: int
    errors: int = Field(description="Invalid rows and duplicates.")
    created: int
    merged: int = Field(description="Rows that updated (and merged) contacts already there.")
    skipped: int
    columns: list[ColumnOut]
    first_errors: list[RowErrorOut]
    created_at: dt.datetime

    @staticmethod
    def resolve_progress(job: Any) -> int:
        return job.percent

    @staticmethod
    def resolve_rows(job: Any) -> int:
        return job.rows_total

    @staticmethod
    def resolve_blank(job: Any) -> int:
        return job.blank_rows

    @staticmethod
    def resolve_invalid(job: Any) -> int:
        return job.invalid_rows

    @staticmethod
    def resolve_duplicates(job: Any) -> int:
        return job.duplicate_rows

    @staticmethod
    def resolve_errors(job: Any) -> int:
        return job.error_rows

    @staticmethod
    def resolve_created(job: Any) -> int:
        return job.created_contacts

    @staticmethod
    def resolve_merged(job: Any) -> int:
        return job.merged_contacts

    @staticmethod
    def resolve_skipped(job: Any) -> int:
        return job.skipped_rows

    @staticmethod
    def resolve_columns(job: Any) -> list[dict[str, str]]:
        return [{"header": h, **m} for h, m in zip(job.headers, job.mapping, strict=False)]

    @staticmethod
    def resolve_first_errors(job: Any) -> list[Any]:
        return queries.first_errors(job)


class ImportForm(Input):
    basis: LegalBasis = Field(description="The legal basis for advertising to these people (特定電子メール法 3-1).")
    note: str = Field(min_length=1, max_length=500, pattern=NOT_BLANK,
                      description="Where the addresses come from, as evidence, e.g. “2024年 店頭アンケート用紙”.")
    mapping: str = Field(default="", max_length=20000,
                         description='JSON object header → target, e.g. {"会員ランク": "field:rank"}; '
                                     "targets: email, name, phone, line_user_id, tags, ignore, field:<key>. Columns "
                                     "not named keep the guess from their header.")
    tags: str = Field(default="", max_length=2000, description="Tags for every imported contact, comma-separated.")
    dry_run: bool = Field(default=False, description="Only check the rows; write nothing.")
    skip_invalid: bool = Field(default=False, description="Import the good rows and skip the rest; otherwise an "
                                                          "import with any bad row writes nothing.")
    encoding: Literal["", "utf-8", "cp932"] = Field(default="", description="Empty to detect it from the bytes.")


def _named_mapping(text: str) -> dict[str, str]:
    if not text.strip():
        return {}
    try:
        named = json.loads(text)
    except ValueError:
        named = None
    if not isinstance(named, dict) or not all(isinstance(v, str) for v in named.values()):
        raise InvalidInput("The request is not valid.", fields={"mapping": "a JSON object of header → target"})
    return named


@router.post("/imports", response=with_errors({201: ImportOut}),
             summary="Upload a CSV file of contacts and check it (dry run) or import it, in the background")
def create_import(request: ApiRequest, file: File[UploadedFile], payload: Form[ImportForm]) -> Any:
    named = _named_mapping(payload.mapping)
    with transaction.atomic():  # any refusal below leaves nothing behind, not even the file
        job = services.upload(workspace=request.workspace, actor=request.actor, file_name=file.name or "",
                              size=file.size or 0, chunks=file.chunks(), encoding=payload.encoding)
        services.configure(workspace=request.workspace, actor=request.actor, import_id=job.pk,
                           mapping=services.apply_named_mapping(job, named), basis=payload.basis, note=payload.note,
                           tags=rules.split_tags(payload.tags), skip_invalid=payload.skip_invalid)
        services.start(workspace=request.workspace, actor=request.actor, import_id=job.pk, dry_run=payload.dry_run)
    return Status(201, queries.import_(request.workspace, job.pk))


@router.get("/imports", response=with_errors({200: list[ImportOut]}), summary="Imports, newest first")
@paginate(Cursor, ordering=("-id",))
def list_imports(request: ApiRequest) -> Any:
    return queries.imports(request.workspace)


@router.get("/imports/{import_id}", response=with_errors({200: ImportOut}),
            summary="An import: its progress, counts and first row errors")
def get_import(request: ApiRequest, import_id: ObjectId) -> Any:
    return queries.import_(request.workspace, import_id)


@router.get("/imports/{import_id}/errors.csv", response=with_errors({200: None}), openapi_extra={
    "responses": {200: {"description": "The rejected rows as the file had them, with the reason", **CSV}}},
    summary="The rows an import set aside, with the reason, as CSV (UTF-8 with BOM)")
def import_errors(request: ApiRequest, import_id: ObjectId) -> Any:
    job = queries.import_(request.workspace, import_id)
    response = StreamingHttpResponse(queries.rejected_rows_csv(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    return response


@router.get("/contacts/export.csv", response=with_errors({200: None}), openapi_extra={
    "responses": {200: {"description": "Contacts in the columns an import reads", **CSV}}},
    summary="Contacts as CSV (all, or a search or tag), UTF-8 with BOM or Shift_JIS")
def export_contacts(request: ApiRequest, encoding: Literal["utf-8", "cp932"] = "utf-8", search: str = "",
                    tag: str = "") -> Any:
    found = contact_queries.contacts(request.workspace, search=search[:200], tag=tag[:100])
    stream = services.export_stream(workspace=request.workspace, actor=request.actor, contacts=found,
                                    encoding=encoding)
    charset = "utf-8" if encoding == "utf-8" else "shift_jis"
    response = StreamingHttpResponse(stream, content_type=f"text/csv; charset={charset}")
    response["Content-Disposition"] = 'attachment; filename="contacts.csv"'
    return response
