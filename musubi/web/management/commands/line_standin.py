"""``musubi line-standin``: a local stand-in for LINE's Messaging API, so the demo's LINE features work on a
machine that cannot (or should not) reach LINE. Point ``MUSUBI_LINE_API_HOST`` at it; open its address in a
browser to read every message "delivered"."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from musubi.testing.line_standin import line_standin


class Command(BaseCommand):
    help = "Run a local stand-in for LINE's Messaging API (for the demo and for trying LINE features offline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8787)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with line_standin(port=port) as standin:
            self.stdout.write(f"LINE stand-in on {standin.url} (messages sent to it are listed there)")
            try:
                while not stop.wait(0.5):  # a short wait, so the signal handler's flag is seen at once
                    pass
            except KeyboardInterrupt:
                pass
