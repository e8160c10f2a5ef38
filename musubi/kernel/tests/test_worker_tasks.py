"""``musubi worker`` also runs ``django.tasks`` tasks queued in the database (django-tasks-db)."""

import os

import pytest
from django.db import OperationalError
from django.tasks import TaskResultStatus

from musubi.kernel import clock, worker
from musubi.kernel.tests.chores.models import Chore, ChoreEffect
from musubi.kernel.tests.chores.tasks import record_effect
from musubi.kernel.worker import Loop, WorkQueue


@pytest.mark.django_db(transaction=True)
def test_one_pass_of_the_worker_runs_a_queued_task_and_drains_the_queues():
    now = clock.now()
    chore = Chore.objects.create(label="queued", due_at=now, next_attempt_at=now)
    result = record_effect.enqueue(chore.pk)
    assert result.status == TaskResultStatus.READY

    Loop(worker="test-worker").run(once=True)

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    # The chore was done once by the queue and once more, on purpose, by the task.
    assert sorted(ChoreEffect.objects.values_list("worker", flat=True)) == [f"pid-{os.getpid()}", "task"]


def test_the_worker_rides_out_a_database_error_instead_of_exiting(db, settings, monkeypatch):
    settings.MUSUBI_WORKER_POLL_SECONDS = 0.001
    loop = Loop(worker="test-worker", only={"flaky"}, run_tasks=False)
    calls = []

    def rows():
        calls.append(len(calls))
        if len(calls) == 1:
            raise OperationalError("database is locked")
        loop.stop()
        return Chore.objects.none()

    monkeypatch.setitem(worker._queues, "flaky", WorkQueue(name="flaky", rows=rows, handle=lambda rows, outcome: None))
    loop.run()
    assert calls == [0, 1]  # failed once, then came back and carried on
