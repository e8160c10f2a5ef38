"""A 10,000-person email broadcast to a real SMTP server, its worker killed with SIGKILL at random moments:
after a restart everyone has the mail, counted at the server, and a second copy happens only to a mail that
was in flight (accepted by the server, not yet recorded) at a kill."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from musubi.contacts.models import ConsentRecord, Contact, Identity
from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.tests.test_claims_processes import ROOT, database_url, wait_for
from musubi.messaging import authoring, broadcasts
from musubi.messaging.choices import Outcome
from musubi.messaging.models import Delivery
from musubi.messaging.tests import factories as f
from musubi.testing.smtp import free_port as _free_port

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
PEOPLE = 10_000
LEASE_SECONDS = 3


class CountingServer:
    """Counts each recipient's mails as the server accepts them (250 after DATA)."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for recipient in envelope.rcpt_tos:
                self.received[recipient] += 1
        return "250 OK"

    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())


def _people(workspace, people: int = PEOPLE) -> None:
    now = clock.now()
    contacts = Contact.objects.bulk_create(
        [Contact(workspace=workspace, name=f"客{i}", created_at=now) for i in range(people)])
    Identity.objects.bulk_create([Identity(workspace=workspace, contact=c, kind="email", value=f"p{i}@example.jp",
                                           created_at=now) for i, c in enumerate(contacts)])
    ConsentRecord.objects.bulk_create([
        ConsentRecord(workspace=workspace, contact=c, channel="email", address=f"p{i}@example.jp", basis="consent",
                      granted=True, at=now) for i, c in enumerate(contacts)])


def _worker(port: int, *, processes: int = 1, **env: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "musubi.cli", "worker", "--no-tasks", "--queue", "messaging.runs",
               "--queue", "messaging.email", "--queue", "messaging.finish", "--processes", str(processes)]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.test_settings",
                   "DATABASE_URL": database_url(), "MUSUBI_LOG_LEVEL": "WARNING", "MUSUBI_TEST_SMTP_PORT": str(port),
                   "MUSUBI_SEND_LEASE_SECONDS": str(LEASE_SECONDS), **env}
    return subprocess.Popen(command, cwd=ROOT, env=environment)


def _accepted_unrecorded(counting: CountingServer) -> set[str]:
    recorded = set(Delivery.objects.filter(outcome=Outcome.SENT).values_list("address", flat=True))
    with counting.lock:
        return {address for address in counting.received if address not in recorded}


def _sent() -> int:
    return Delivery.objects.filter(outcome=Outcome.SENT).count()


def test_a_broadcast_survives_sigkills_everyone_gets_it_and_copies_are_only_mails_in_flight(workspace):
    f.sender(workspace)
    _people(workspace)
    template = f.email_template(workspace, subject="{{ name }}様へ 本日限定のお知らせ")
    run, _ = broadcasts.start_run(broadcast=authoring.create_broadcast(
        workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(name="一斉", template_id=template.pk)))
    counting = CountingServer()
    port = _free_port()
    controller = Controller(counting, hostname="127.0.0.1", port=port)
    controller.start()
    chance = random.Random()
    in_flight_at_kills: list[int] = []
    seen_in_flight: set[str] = set()
    try:
        for kill in range(3):
            worker = _worker(port)
            target = counting.total() + chance.randint(300, 1500)
            try:
                wait_for(lambda t=target: counting.total() >= t, timeout=180, what=f"mail before kill {kill + 1}")
            finally:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
            # Mails the server accepted that the killed worker had not recorded were in flight at the kill.
            unrecorded = _accepted_unrecorded(counting)
            in_flight_at_kills.append(len(unrecorded - seen_in_flight))
            seen_in_flight |= unrecorded
            wait_for(lambda: not Delivery.objects.filter(status=WorkStatus.CLAIMED,
                                                         lease_until__gt=clock.now()).exists(),
                     timeout=LEASE_SECONDS + 10, what="the killed worker's leases to expire")
        last = _worker(port)
        try:
            wait_for(lambda: not Delivery.objects.exclude(status__in=[WorkStatus.DONE, WorkStatus.FAILED]).exists()
                     and Delivery.objects.count() == PEOPLE, timeout=300, what="every mail to be sent")
        finally:
            last.send_signal(signal.SIGTERM)
            last.wait(timeout=30)
    finally:
        controller.stop()
    assert Delivery.objects.filter(run=run).count() == PEOPLE
    assert _sent() == PEOPLE
    assert set(counting.received) == {f"p{i}@example.jp" for i in range(PEOPLE)}
    copies = counting.total() - PEOPLE
    assert copies <= sum(in_flight_at_kills), (copies, in_flight_at_kills)
    print(f"\n{PEOPLE} people; in flight at the three kills: {in_flight_at_kills}; second copies: {copies}")


def _children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rpartition(")")[2].split()[1])
            except OSError:
                continue  # it ended while we looked
            if parent == pid:
                found.add(int(entry))
    return found


def test_two_worker_processes_share_a_broadcast_and_send_every_mail_exactly_once(workspace):
    people = 3000
    f.sender(workspace)
    _people(workspace, people)
    template = f.email_template(workspace, subject="{{ name }}様へ 本日限定のお知らせ")
    run, _ = broadcasts.start_run(broadcast=authoring.create_broadcast(
        workspace=workspace, actor=f.OWNER, data=authoring.BroadcastInput(name="一斉", template_id=template.pk)))
    counting = CountingServer()
    port = _free_port()
    controller = Controller(counting, hostname="127.0.0.1", port=port)
    controller.start()
    # Small batches, so both processes take several while the run lasts.
    worker = _worker(port, processes=2, MUSUBI_SEND_BATCH="100")
    claimers: set[int] = set()  # the processes seen holding deliveries (a worker's id carries its pid)

    def finished() -> bool:
        for claimed_by in Delivery.objects.filter(status=WorkStatus.CLAIMED).values_list("claimed_by", flat=True):
            claimers.add(int(claimed_by.split(":")[1]))
        return (Delivery.objects.count() == people
                and not Delivery.objects.exclude(status__in=[WorkStatus.DONE, WorkStatus.FAILED]).exists())

    try:
        wait_for(finished, timeout=300, what="every mail to be sent")
        workers = _children(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        controller.stop()
    assert len(workers) == 2
    assert claimers == workers  # both of them sent, and no one else did
    assert worker.returncode == 0
    assert not _children(worker.pid) and all(not os.path.exists(f"/proc/{pid}") for pid in workers)
    assert Delivery.objects.filter(run=run, outcome=Outcome.SENT).count() == people
    assert counting.received == Counter({f"p{i}@example.jp": 1 for i in range(people)})
