"""The ``chores`` queue: does each chore by writing a ``ChoreEffect``; slowed by ``CHORE_DELAY_SECONDS``."""

from __future__ import annotations

import os
import time

from musubi.kernel.worker import BatchOutcome, WorkQueue, register_queue


def handle(chores: list, outcome: BatchOutcome) -> None:
    from musubi.kernel.tests.chores.models import ChoreEffect

    delay = float(os.environ.get("CHORE_DELAY_SECONDS", "0"))
    worker = os.environ.get("CHORE_WORKER_NAME", f"pid-{os.getpid()}")
    for chore in chores:
        if chore.permanent:
            outcome.failed[chore.pk] = "this chore can never be done"
            continue
        if chore.attempts <= chore.fail_times:
            outcome.retry[chore.pk] = f"failing on purpose (attempt {chore.attempts})"
            continue
        ChoreEffect.objects.create(chore=chore, worker=worker)
        outcome.done.append(chore.pk)
        if delay:
            time.sleep(delay)


def register() -> None:
    from musubi.kernel.tests.chores.models import Chore

    register_queue(WorkQueue(
        name="chores",
        rows=lambda: Chore.objects.all(),
        handle=handle,
        batch_size=int(os.environ.get("CHORE_BATCH_SIZE", "10")),
        lease_seconds=int(os.environ.get("CHORE_LEASE_SECONDS", "300")),
    ))
