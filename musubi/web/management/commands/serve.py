"""``musubi serve``: the web server (granian) and a background worker, started and stopped together.

1. Apply migrations and collect static files (skip with ``--no-setup``).
2. Start granian serving ``musubi.config.asgi`` — tracking links, opens and clicks on the event loop, every
   page through Django's WSGI application on a pool of threads — and ``musubi worker`` beside it, with
   ``--worker-processes`` processes (``MUSUBI_WORKER_PROCESSES``: one per core on PostgreSQL, one on SQLite).
3. If either exits, stop the other and exit with its status; SIGINT/SIGTERM stop both.

On PostgreSQL more workers may run elsewhere (``musubi worker``); on SQLite keep the one started here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from musubi.kernel import processes


class Command(BaseCommand):
    help = "Serve Musubi on HTTP with a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("MUSUBI_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("MUSUBI_PORT", "8000")))
        parser.add_argument("--web-workers", type=int, default=int(os.environ.get("MUSUBI_WEB_WORKERS", "2")))
        parser.add_argument("--no-worker", action="store_true", help="Start only the web server.")
        parser.add_argument("--worker-processes", type=int, default=settings.MUSUBI_WORKER_PROCESSES,
                            help="Worker processes beside the web server (MUSUBI_WORKER_PROCESSES).")
        parser.add_argument("--no-setup", action="store_true", help="Skip migrate and collectstatic.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["no_setup"]:
            call_command("migrate", interactive=False, verbosity=0)
            call_command("collectstatic", interactive=False, verbosity=0)
        env = {**os.environ}
        env.setdefault("DJANGO_SETTINGS_MODULE", "musubi.config.settings")
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--no-ws",
                   "--host", options["host"], "--port", str(options["port"]),
                   "--workers", str(options["web_workers"])]
        # Pages run on MUSUBI_WEB_THREADS threads per worker (musubi.config.asgi); tracking requests need none.
        children = [processes.start([*granian, "musubi.config.asgi:application"], env=env)]
        if not options["no_worker"]:
            children.append(processes.start([sys.executable, "-m", "musubi.cli", "worker",
                                             "--processes", str(options["worker_processes"])], env=env))
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        worker = "no" if options["no_worker"] else f"{options['worker_processes']} process(es)"
        self.stdout.write(f"Musubi is running at http://{options['host']}:{options['port']}/ "
                          f"(database: {database}; worker: {worker}). Ctrl+C stops it.")
        status = processes.supervise(children)
        self.stdout.write("Musubi stopped.")
        if status:
            raise SystemExit(status)
