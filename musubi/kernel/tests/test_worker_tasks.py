"""``musubi worker`` also runs ``django.tasks`` tasks queued in the database (django-tasks-db)."""

import os

import pytest
from django.tasks import TaskResultStatus

from musubi.kernel import clock
from musubi.kernel.tests.chores.models import Chore, ChoreEffect
from musubi.kernel.tests.chores.tasks import record_effect
from musubi.kernel.worker import Loop


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
