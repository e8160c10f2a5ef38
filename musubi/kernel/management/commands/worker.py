"""``musubi worker``: claim and process durable work, and run queued tasks, until stopped.

1. Claim a batch from each registered durable-work queue (see ``musubi.kernel.claims``) and process it.
2. Run the ``django.tasks`` tasks that are ready.
3. Sleep ``MUSUBI_WORKER_POLL_SECONDS`` when there was nothing to do, and go again.

SIGTERM or SIGINT stops the loop after the batch in hand. A worker killed harder loses nothing: its
claims expire and another worker takes them. On PostgreSQL run as many as you like, on as many machines;
on SQLite run one.
"""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from musubi.kernel.heap import freeze_loaded_objects
from musubi.kernel.worker import Loop


class Command(BaseCommand):
    help = "Process background work until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", action="append", dest="queues", help="Only these durable-work queues.")
        parser.add_argument("--once", action="store_true", help="Drain what is due once, then exit.")
        parser.add_argument("--no-tasks", action="store_true", help="Leave django.tasks tasks to other workers.")

    def handle(self, *args: Any, **options: Any) -> None:
        freeze_loaded_objects()
        loop = Loop(only=set(options["queues"]) if options["queues"] else None, run_tasks=not options["no_tasks"])
        signal.signal(signal.SIGTERM, loop.stop)
        signal.signal(signal.SIGINT, loop.stop)
        loop.run(once=options["once"])
