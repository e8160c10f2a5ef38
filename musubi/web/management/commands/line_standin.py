"""``musubi line-standin``: a local stand-in for LINE's Messaging API, so the demo's LINE features work on a
machine that cannot (or should not) reach LINE. Point ``MUSUBI_LINE_API_HOST`` at it; open its address in a
browser to read every message "delivered" and to try a friend-add, a block or an unblock on each LINE channel
connected in Musubi: the stand-in signs the webhook with the channel's secret, as LINE does, and sends it to the
channel's webhook URL (the channels are read from the database when the page is used, so ones connected later
count)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from musubi.capture import line
from musubi.capture.models import LineChannel
from musubi.testing.line_standin import line_standin
from musubi.testing.line_standin_friends import WebhookChannel


def connected_channels() -> list[WebhookChannel]:
    """Every active LINE channel with what LINE's platform knows of it: its secret and webhook URL."""
    close_old_connections()
    return [WebhookChannel(channel_id=c.channel_id, name=c.name, secret=c.channel_secret,
                           webhook_url=line.webhook_url(c)) for c in LineChannel.objects.filter(active=True)]


class Command(BaseCommand):
    help = "Run a local stand-in for LINE's Messaging API (for the demo and for trying LINE features offline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8787)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with line_standin(port=port) as standin:
            standin.channels_from = connected_channels
            self.stdout.write(f"LINE stand-in on {standin.url} (messages sent to it are listed there, "
                              "and a friend-add can be tried there)")
            try:
                while not stop.wait(0.5):  # a short wait, so the signal handler's flag is seen at once
                    pass
            except KeyboardInterrupt:
                pass
