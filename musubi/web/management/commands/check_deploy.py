"""``musubi check-deploy``: Django's deployment checks plus Musubi's own, before going live.

Exits non-zero when anything needs fixing, so it can gate a deployment script.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from musubi.kernel import secrets
from musubi.web.management.commands.demo import DEMO_EMAIL, DEMO_PASSWORD
from musubi.workspaces.models import User


def musubi_problems() -> list[str]:
    problems = []
    if not (os.environ.get("MUSUBI_SECRET_KEY") or os.environ.get("MUSUBI_SECRET_KEY_FILE")):
        problems.append("MUSUBI_SECRET_KEY (or MUSUBI_SECRET_KEY_FILE) is not set: the key generated into the data "
                        "directory works, but is lost with that directory.")
    problems.extend(_secret_keys_problems())
    if settings.MUSUBI_WEBHOOK_ALLOW_HTTP:
        problems.append("MUSUBI_WEBHOOK_ALLOW_HTTP is on: outgoing webhooks may be sent unencrypted.")
    if settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES:
        problems.append("MUSUBI_WEBHOOK_ALLOWED_ADDRESSES lets workspaces' webhooks reach "
                        f"{', '.join(settings.MUSUBI_WEBHOOK_ALLOWED_ADDRESSES)}: make sure nothing there trusts "
                        "requests from this machine.")
    if settings.DEBUG:
        problems.append("MUSUBI_DEBUG is on: it shows internals to visitors.")
    if not settings.SESSION_COOKIE_SECURE:
        problems.append("MUSUBI_SECURE_COOKIES is off: set it to true when Musubi is served over HTTPS.")
    demo = User.objects.filter(email=DEMO_EMAIL, is_active=True).first()
    if demo is not None and demo.check_password(DEMO_PASSWORD):
        problems.append(f"The demo login {DEMO_EMAIL} still has its published password: remove the user or change it.")
    if settings.MUSUBI_BASE_URL.startswith(("http://127.0.0.1", "http://localhost")):
        problems.append("MUSUBI_BASE_URL points at this machine: links in emails and QR codes will not work elsewhere.")
    elif not settings.MUSUBI_BASE_URL.startswith("https://"):
        problems.append("MUSUBI_BASE_URL is not https: LINE fetches the pictures of LINE messages only over HTTPS, "
                        "and browsers warn on forms sent over plain HTTP.")
    return problems


def _secret_keys_problems() -> list[str]:
    try:
        secrets.cipher()
    except ImproperlyConfigured as exc:
        return [str(exc)]
    if secrets.uses_derived_key():
        return ["MUSUBI_SECRET_KEYS is not set: stored secrets (LINE tokens, Stripe keys, DKIM keys) are encrypted "
                "with a key derived from the secret key. Set MUSUBI_SECRET_KEYS to a key of its own (`musubi "
                "reencrypt_secrets --new-key` prints one), kept apart from database backups, then run `musubi "
                "reencrypt_secrets`."]
    return []


class Command(BaseCommand):
    help = "Check the configuration for a public deployment."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
            self.stdout.write("Note: the database is SQLite, fine for one machine with one worker; "
                              "use PostgreSQL (DATABASE_URL) for more.")
        problems = musubi_problems()
        for problem in problems:
            self.stdout.write(f"- {problem}")
        try:
            call_command("check", deploy=True, fail_level="WARNING")
        except CommandError as exc:
            raise CommandError(f"Django's deployment checks failed: {exc}") from exc
        if problems:
            raise CommandError(f"{len(problems)} thing(s) to fix before going live.")
        self.stdout.write("Ready to deploy.")
