"""``musubi stripe_standin``: a local stand-in for Stripe's API and its hosted payment page, so the demo's card
and konbini payments work end to end on a machine without a Stripe account. Point ``MUSUBI_STRIPE_API_BASE`` at
it. Each event goes, signed with the workspace's webhook secret, to the workspace whose secret key made the
payment (read from the database when the event is sent, so settings saved later count)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections
from django.urls import reverse

from musubi.commerce.models import PaymentSettings
from musubi.testing.stripe_standin import stripe_standin


def endpoint_for(secret_key: str) -> tuple[str, str] | None:
    """The webhook address and signing secret of the workspace that uses ``secret_key``."""
    close_old_connections()
    for found in PaymentSettings.objects.select_related("workspace").exclude(stripe_secret_key=""):
        if found.stripe_secret_key == secret_key and found.stripe_webhook_secret:
            path = reverse("stripe_webhook", args=[found.workspace.slug])
            return settings.MUSUBI_BASE_URL + path, found.stripe_webhook_secret
    return None


class Command(BaseCommand):
    help = "Run a local stand-in for Stripe's API and hosted payment page (for the demo and offline trials)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8788)

    def handle(self, *args: Any, port: int, **options: Any) -> None:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with stripe_standin(port=port) as standin:
            standin.endpoint_for = endpoint_for
            self.stdout.write(f"Stripe stand-in on {standin.url} (its test payment page: {standin.url}/pay/…)")
            try:
                while not stop.wait(0.5):  # a short wait, so the signal handler's flag is seen at once
                    pass
            except KeyboardInterrupt:
                pass
