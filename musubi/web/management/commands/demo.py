"""``musubi demo``: demo workspaces and logins, so a new user sees a working site at once.

It creates the demo once. Run again, it changes nothing — not even what the user has since changed in the
demo (a removed member stays removed) — and only reminds them how to sign in.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import translation

from musubi.web.demo_data import BUSINESSES
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
        parser.add_argument("--if-empty", action="store_true",
                            help="Only into a database with no users yet (what bin/start does), so a real "
                                 "installation never gets a demo login with a published password.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if options["if_empty"] and User.objects.exists() and not User.objects.filter(email=options["email"]).exists():
            self.stdout.write("This database already has users, so no demo data was added.")
            return
        if User.objects.filter(email=options["email"]).exists():
            self.stdout.write(f"The demo is already set up. Sign in as {options['email']} "
                              f"(or {DEMO_STAFF[0][0]} for the counter staff's view).")
            return
        if Workspace.objects.filter(slug__in=[slug for slug, _ in DEMO_WORKSPACES]).exists():
            raise CommandError("workspaces with the demo's slugs already exist; not touching them")
        owner = User.objects.create_user(options["email"], options["password"], first_name="デモ")
        actor = services.Actor(role=Role.OWNER, user=owner)
        for slug, name in DEMO_WORKSPACES:
            workspace = services.create_workspace(slug=slug, name=name, owner=owner)
            with translation.override("ja"):  # the demo's generated names are Japanese
                BUSINESSES[slug](workspace, actor)
        for email, slug, role in DEMO_STAFF:
            staff = User.objects.create_user(email, options["password"])
            Membership.objects.create(workspace=Workspace.objects.get(slug=slug), user=staff, role=role)
        self.stdout.write("Demo logins:")
        self.stdout.write(f"  owner of all three workspaces: {options['email']} / {options['password']}")
        for email, slug, role in DEMO_STAFF:
            self.stdout.write(f"  {role} of {slug}: {email} / {options['password']}")
