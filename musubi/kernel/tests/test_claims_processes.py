"""The claim facility under real worker processes: two racing, and one killed with SIGKILL mid-batch.

These run ``musubi worker`` as separate processes against the test database, so they see exactly what an
operator's workers would: real transactions, real locks (or SQLite's single writer), a real kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from musubi.kernel import clock
from musubi.kernel.claims import WorkStatus
from musubi.kernel.tests.chores.models import Chore, ChoreEffect

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[3]


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(name: str, *, once: bool, **env: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "musubi.cli", "worker", "--queue", "chores", "--no-tasks"]
    if once:
        command.append("--once")
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "musubi.config.test_settings",
                   "DATABASE_URL": database_url(), "CHORE_WORKER_NAME": name, "MUSUBI_LOG_LEVEL": "WARNING", **env}
    return subprocess.Popen(command, cwd=ROOT, env=environment)


def make_chores(n: int) -> None:
    now = clock.now()
    Chore.objects.bulk_create([Chore(label=f"c{i}", due_at=now, next_attempt_at=now) for i in range(n)])


def wait_for(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_two_racing_workers_do_every_chore_exactly_once():
    make_chores(400)
    workers = [start_worker(name, once=True, CHORE_DELAY_SECONDS="0.005") for name in ("left", "right")]
    for worker in workers:
        assert worker.wait(timeout=120) == 0

    assert Chore.objects.filter(status=WorkStatus.DONE).count() == 400
    effects_per_chore = Chore.objects.annotate(n=Count("effects")).values_list("n", flat=True)
    assert set(effects_per_chore) == {1}
    by_worker = dict(ChoreEffect.objects.values_list("worker").annotate(n=Count("id")))
    assert set(by_worker) == {"left", "right"}, f"both workers should have taken rows: {by_worker}"


def test_a_killed_worker_loses_nothing_and_nothing_recorded_done_is_done_again():
    batch = 10
    make_chores(60)
    victim = start_worker("victim", once=False, CHORE_DELAY_SECONDS="0.1", CHORE_BATCH_SIZE=str(batch),
                          CHORE_LEASE_SECONDS="3")
    try:
        # Kill it in the middle of its third batch: two batches recorded done, one half-done in flight.
        wait_for(lambda: ChoreEffect.objects.count() >= 2 * batch + batch // 2, timeout=60, what="the victim's work")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

    done_by_victim = set(Chore.objects.filter(status=WorkStatus.DONE).values_list("pk", flat=True))
    in_flight = set(Chore.objects.filter(status=WorkStatus.CLAIMED).values_list("pk", flat=True))
    assert len(done_by_victim) >= 2 * batch
    assert in_flight, "the kill should have caught a batch in flight"

    # Its claims run out; another worker then finishes everything.
    wait_for(lambda: clock.now() > max(Chore.objects.filter(pk__in=in_flight).values_list("lease_until", flat=True)),
             timeout=10, what="the victim's leases to expire")
    rescuer = start_worker("rescuer", once=True, CHORE_BATCH_SIZE=str(batch))
    assert rescuer.wait(timeout=60) == 0

    assert Chore.objects.exclude(status=WorkStatus.DONE).count() == 0
    effects = dict(Chore.objects.annotate(n=Count("effects")).values_list("pk", "n"))
    assert all(effects[pk] == 1 for pk in done_by_victim), "a chore recorded done was done again"
    repeated = {pk for pk, n in effects.items() if n > 1}
    assert repeated <= in_flight and max(effects.values()) <= 2
    # The in-flight window: only work of the batch the victim held could be repeated.
    print(f"\nin-flight window: {len(repeated)} chore(s) repeated of a batch of {batch} held at the kill")
