"""``musubi demo``: demo workspaces and a demo login, so a new user sees a working site at once.

Safe to run again: it finds what it made before instead of duplicating it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import Membership, User, Workspace

DEMO_EMAIL = "demo@example.com"
# A demo on the operator's own machine, printed for them to use; `musubi demo --password` changes it.
DEMO_PASSWORD = "musubi-demo"  # noqa: S105

DEMO_WORKSPACES = [
    ("kenko-shop", "すこやか健康食品店"),
    ("izakaya-musubi", "居酒屋むすび"),
    ("manabi-academy", "まなびアカデミー"),
]
DEMO_STAFF = [("staff@example.com", "izakaya-musubi", Role.STAFF)]


class Command(BaseCommand):
    help = "Create demo workspaces and a demo login (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        owner = User.objects.filter(email=options["email"]).first()
        if owner is None:
            owner = User.objects.create_user(options["email"], options["password"], first_name="デモ")
        for slug, name in DEMO_WORKSPACES:
            workspace = Workspace.objects.filter(slug=slug).first() or services.create_workspace(slug=slug, name=name)
            Membership.objects.get_or_create(workspace=workspace, user=owner, defaults={"role": Role.OWNER})
        for email, slug, role in DEMO_STAFF:
            staff = User.objects.filter(email=email).first() or User.objects.create_user(email, options["password"])
            Membership.objects.get_or_create(workspace=Workspace.objects.get(slug=slug), user=staff,
                                             defaults={"role": role})
        self.stdout.write(f"Demo login: {options['email']} / {options['password']}")
