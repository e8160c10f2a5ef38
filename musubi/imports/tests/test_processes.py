"""An import under real worker processes, killed with SIGKILL twice — while checking rows and while writing
them — and finished by a third: every row is written exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.db.models import Count

from musubi.contacts.models import ConsentRecord, Contact, Identity
from musubi.imports import services
from musubi.imports.models import Import
from musubi.imports.tests.helpers import HEADER, configure, csv_bytes, upload
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.models import Fact
from musubi.kernel.tests.test_claims_processes import ROOT, database_url, wait_for
from musubi.workspaces.services import SYSTEM

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
ROWS = 3000


def start_worker(*, once: bool) -> subprocess.Popen:
    command = [sys.executable, "-m", "musubi.cli", "worker", "--queue", "imports", "--no-tasks"]
    if once:
        command.append("--once")
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.test_settings",
                   "DATABASE_URL": database_url(), "MUSUBI_LOG_LEVEL": "WARNING",
                   "MUSUBI_IMPORT_CHUNK_ROWS": "20", "MUSUBI_IMPORT_LEASE_SECONDS": "2"}
    return subprocess.Popen(command, cwd=ROOT, env=environment)


def kill(worker) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def job_now(pk: int) -> Import:
    return Import.objects.get(pk=pk)


def wait_for_lease_to_expire(pk: int) -> None:
    lease = job_now(pk).lease_until
    assert job_now(pk).status == WorkStatus.CLAIMED and lease is not None
    wait_for(lambda: clock.now() > lease, timeout=10, what="the killed worker's lease to expire")


def test_a_killed_import_resumes_where_it_stopped_and_writes_nothing_twice(workspace):
    rows = [[f"person{i}@example.jp", f"顧客{i}", f"090-{i // 10000:04d}-{i % 10000:04d}", "", "", ""]
            for i in range(ROWS)]
    job = upload(workspace, csv_bytes([HEADER, *rows]))
    configure(workspace, job)
    services.start(workspace=workspace, actor=SYSTEM, import_id=job.pk, dry_run=False)

    first = start_worker(once=False)
    try:
        wait_for(lambda: job_now(job.pk).rows_read >= 200, timeout=60, what="the first worker to check rows")
    finally:
        kill(first)
    checked = job_now(job.pk)
    assert not checked.staged and not Contact.objects.exists()
    wait_for_lease_to_expire(job.pk)

    second = start_worker(once=False)
    try:
        wait_for(lambda: job_now(job.pk).written_through >= 400, timeout=120, what="the second worker to write")
    finally:
        kill(second)
    interrupted = job_now(job.pk)
    assert interrupted.phase == "importing" and interrupted.created_contacts < ROWS
    wait_for_lease_to_expire(job.pk)

    third = start_worker(once=True)
    assert third.wait(timeout=300) == 0

    done = job_now(job.pk)
    assert (done.phase, done.rows_total, done.created_contacts, done.attempts) == ("done", ROWS, ROWS, 3)
    assert Contact.objects.count() == ROWS
    assert Identity.objects.count() == 2 * ROWS
    assert ConsentRecord.objects.count() == 2 * ROWS
    assert not ConsentRecord.objects.values("address").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert Fact.objects.filter(kind="contact.created").count() == ROWS
    assert Fact.objects.filter(kind="consent.granted").count() == 2 * ROWS
    print(f"\nkilled after {checked.rows_read} rows checked and after {interrupted.created_contacts} written")
