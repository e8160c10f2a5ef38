"""The worker loop: drains every registered durable-work queue, then runs ready ``django.tasks`` tasks.

Apps register their queues in ``AppConfig.ready()`` with ``register_queue``; the loop needs no other
wiring. The handler gets a batch of claimed rows and an empty ``BatchOutcome`` that it fills as it goes
(``outcome.done.append(pk)`` right after a row's side effect). If the handler raises half-way, the rows it
already reported keep their outcome and only the rest are retried; rows it never mentions are retried too,
so a handler cannot lose a row by forgetting it.

A batch must finish within its queue's lease (``lease_seconds``), or another worker may take its rows while
this one still works on them; a handler of slow work calls ``claims.extend_lease`` between rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections, models

from musubi.kernel import claims, heap, processes

logger = logging.getLogger("musubi.worker")


@dataclass
class BatchOutcome:
    """What a handler did with a claimed batch, by primary key."""

    done: list[int] = field(default_factory=list)
    retry: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    # Rows whose outcome the handler already wrote itself, as each happened (a sender records every message the
    # moment the server accepted it, to keep the window in which a crash repeats it small).
    recorded: list[int] = field(default_factory=list)
    worker: str = ""


@dataclass(frozen=True)
class WorkQueue:
    name: str
    rows: Callable[[], models.QuerySet[Any]]
    handle: Callable[[list[Any], BatchOutcome], None]
    batch_size: int = 100
    lease_seconds: int = 300


_queues: dict[str, WorkQueue] = {}
# Passes turn time into work (due sequence steps into deliveries, scheduled broadcasts into runs); each returns
# how much it did. They run before the queues in every round, and must be safe to run in several workers at
# once (they take their rows with SKIP LOCKED or a conditional update).
_passes: dict[str, Callable[[], int]] = {}


def register_queue(queue: WorkQueue) -> None:
    _queues[queue.name] = queue


def register_pass(name: str, run: Callable[[], int]) -> None:
    _passes[name] = run


def registered_queues() -> dict[str, WorkQueue]:
    return dict(_queues)


def new_worker_id() -> str:
    """Unique per process and start, so a restarted worker never mistakes an old claim for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class BatchReport:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0


def process_batch(queue: WorkQueue, *, worker: str) -> BatchReport:
    """Claim one batch from ``queue``, hand it to the handler, and record every row's outcome."""
    rows = claims.claim(
        queue.rows(), worker=worker, limit=queue.batch_size, lease=dt.timedelta(seconds=queue.lease_seconds)
    )
    report = BatchReport(claimed=len(rows))
    if not rows:
        return report
    model = type(rows[0])
    outcome = BatchOutcome(worker=worker)
    unfinished = "the handler reported no outcome"
    try:
        queue.handle(rows, outcome)
    except Exception as exc:  # a handler error means "try the unfinished rows again later"
        logger.exception("queue %s: handler failed in a batch of %d", queue.name, len(rows))
        unfinished = f"{type(exc).__name__}: {exc}"
    mentioned = set(outcome.done) | set(outcome.retry) | set(outcome.failed) | set(outcome.recorded)
    forgotten = {row.pk: unfinished for row in rows if row.pk not in mentioned}
    report.done = claims.complete(model, outcome.done, worker=worker) + len(outcome.recorded)
    report.retried = claims.retry(model, {**outcome.retry, **forgotten}, worker=worker)
    report.failed = claims.fail(model, outcome.failed, worker=worker)
    report.lost = len(rows) - report.done - report.retried - report.failed
    return report


def drain_queues(*, worker: str, only: set[str] | None = None, max_batches: int = 50) -> int:
    """Process batches until every queue is empty or ``max_batches`` ran; returns rows claimed."""
    total = 0
    for _ in range(max_batches):
        claimed_this_round = 0
        for name, run_pass in list(_passes.items()):
            if only is None or name in only:
                claimed_this_round += run_pass()
        for name, queue in registered_queues().items():
            if only is not None and name not in only:
                continue
            claimed_this_round += process_batch(queue, worker=worker).claimed
        total += claimed_this_round
        if claimed_this_round == 0:
            break
    return total


def warm_up() -> None:
    """Load what the first batch would otherwise load in the middle of its work: the URL configuration
    (tracked links and unsubscribe addresses are reversed from it; importing every app's views and the API
    takes seconds) and the template engines (the mail footer is a template)."""
    from django.template import engines
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 -- the property loads the configuration
    engines.all()


def run_ready_tasks(*, worker: str, max_tasks: int = 50) -> None:
    """Run up to ``max_tasks`` ready ``django.tasks`` tasks with django-tasks-db's own worker, then return."""
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker[:64],
        excluded_queue_names=[],
    ).run()


class Loop:
    """The long-running loop of ``musubi worker``; stops cleanly between batches on request."""

    def __init__(self, *, worker: str | None = None, only: set[str] | None = None, run_tasks: bool = True,
                 parent: int | None = None):
        self.worker = worker or new_worker_id()
        self.only = only
        self.run_tasks = run_tasks
        self.running = True
        # One of several processes under `musubi worker --processes N`: stop when that parent is gone (killed
        # hard, it could not stop us), so an orphan never keeps sending beside the set started in its place.
        self.parent = parent

    def stop(self, *_: object) -> None:
        self.running = False

    def run(self, *, once: bool = False) -> None:
        queues = ", ".join(sorted(registered_queues())) or "no durable-work queues yet"
        logger.info("worker %s started (%s)", self.worker, queues)
        warm_up()
        heap.freeze_loaded_objects()  # after the warm-up, so what it loaded is frozen too
        failures = 0
        while self.running:
            if self.parent is not None and processes.parent_gone(self.parent):
                logger.warning("worker %s: the process that started it is gone; stopping", self.worker)
                return
            close_old_connections()
            try:
                claimed = drain_queues(worker=self.worker, only=self.only)
                if self.run_tasks:
                    run_ready_tasks(worker=self.worker)
            except DatabaseError:
                # The database is away (restarting, locked past the busy timeout): nothing claimed is lost, so
                # wait and try again rather than exit, which would take the web server down with `serve`.
                failures += 1
                logger.exception("worker %s: database error, retrying (%d in a row)", self.worker, failures)
                if once:
                    raise
                close_old_connections()
                time.sleep(min(settings.MUSUBI_WORKER_POLL_SECONDS * 2**failures, 60))
                continue
            failures = 0
            if once:
                return
            if not claimed:
                time.sleep(settings.MUSUBI_WORKER_POLL_SECONDS)
