"""Making CSV files the way spreadsheets save them, uploading them and letting a worker carry them out."""

from __future__ import annotations

import csv
import io

from musubi.imports import services
from musubi.imports.models import Import
from musubi.kernel.worker import drain_queues
from musubi.workspaces.services import SYSTEM

HEADER = ["メールアドレス", "氏名", "電話番号", "LINE ID", "タグ", "会員ランク"]


def csv_bytes(rows: list[list[str]], *, encoding: str = "utf-8", bom: bool = False) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def upload(workspace, data: bytes, *, name: str = "customers.csv", encoding: str = "") -> Import:
    return services.upload(workspace=workspace, actor=SYSTEM, file_name=name, size=len(data), chunks=[data],
                           encoding=encoding)


def configure(workspace, job: Import, *, mapping=None, basis="written_notice", note="2024年 店頭アンケート用紙",
              tags=("店頭",), skip_invalid=False) -> Import:
    return services.configure(workspace=workspace, actor=SYSTEM, import_id=job.pk, mapping=mapping or job.mapping,
                              basis=basis, note=note, tags=list(tags), skip_invalid=skip_invalid)


def work() -> None:
    """Let a worker drain the imports queue, as `musubi worker` would."""
    drain_queues(worker="test-worker", only={"imports"})


def run(workspace, job: Import, *, dry_run: bool = False) -> Import:
    services.start(workspace=workspace, actor=SYSTEM, import_id=job.pk, dry_run=dry_run)
    work()
    return Import.objects.get(pk=job.pk)


def imported(workspace, rows: list[list[str]], *, dry_run: bool = False, **options) -> Import:
    job = upload(workspace, csv_bytes([HEADER, *rows]))
    configure(workspace, job, **options)
    return run(workspace, job, dry_run=dry_run)
