"""``musubi worker``: claim and process durable work, and run queued tasks, until stopped.

1. Claim a batch from each registered durable-work queue (see ``musubi.kernel.claims``) and process it.
2. Run the ``django.tasks`` tasks that are ready.
3. Sleep ``MUSUBI_WORKER_POLL_SECONDS`` when there was nothing to do, and go again.

``--processes N`` (``MUSUBI_WORKER_PROCESSES``: one per core, at most 4, on PostgreSQL; one on SQLite) runs N
such loops as processes side by side under this one: claims are disjoint, so each takes batches of its own,
and sending mail — composing, DKIM, SMTP — is CPU work one process can only do on about one core. If one of
them exits, the others are stopped and this command exits with its status.

SIGTERM or SIGINT stops the loop after the batch in hand. A worker killed harder loses nothing: its
claims expire and another worker takes them. On PostgreSQL run as many as you like, on as many machines;
on SQLite run one.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from musubi.kernel import processes
from musubi.kernel.worker import Loop


class Command(BaseCommand):
    help = "Process background work until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--queue", action="append", dest="queues", help="Only these durable-work queues.")
        parser.add_argument("--once", action="store_true", help="Drain what is due once, then exit.")
        parser.add_argument("--no-tasks", action="store_true", help="Leave django.tasks tasks to other workers.")
        parser.add_argument("--processes", type=int, default=settings.MUSUBI_WORKER_PROCESSES,
                            help="Worker processes to run side by side (MUSUBI_WORKER_PROCESSES).")
        parser.add_argument("--parent", type=int, default=0, help="(internal) stop when this process is gone")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["processes"] < 1:
            raise CommandError(f"--processes must be at least 1, not {options['processes']}")
        if options["processes"] > 1:
            raise SystemExit(self._run_processes(options))
        loop = Loop(only=set(options["queues"]) if options["queues"] else None, run_tasks=not options["no_tasks"],
                    parent=options["parent"] or None)
        signal.signal(signal.SIGTERM, loop.stop)
        signal.signal(signal.SIGINT, loop.stop)
        loop.run(once=options["once"])

    def _run_processes(self, options: dict[str, Any]) -> int:
        one = [sys.executable, "-m", "musubi.cli", "worker", "--processes", "1", "--parent", str(os.getpid())]
        for queue in options["queues"] or []:
            one += ["--queue", queue]
        one += ["--once"] * options["once"] + ["--no-tasks"] * options["no_tasks"]
        children = [processes.start(one, die_with_parent=True) for _ in range(options["processes"])]
        if options["once"]:  # each drains what is due and exits: wait for all of them
            return max(abs(child.wait()) for child in children)
        return processes.supervise(children)
