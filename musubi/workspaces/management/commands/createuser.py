import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from musubi.kernel.errors import MusubiError
from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Create a user who signs in with an email address, optionally as a member of a workspace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--password-stdin", action="store_true", help="Read the password from standard input.")
        parser.add_argument("--workspace", help="Slug of a workspace to join.")
        parser.add_argument("--role", default=Role.OWNER, choices=Role.values)
        parser.add_argument("--language", default="ja", choices=["ja", "en"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        elif sys.stdin.isatty():
            password = getpass.getpass("Password: ")
        else:
            raise CommandError("give the password with --password-stdin when not at a terminal")
        workspace = None
        if options["workspace"]:
            workspace = Workspace.objects.filter(slug=options["workspace"]).first()
            if workspace is None:
                raise CommandError(f"no workspace with the slug {options['workspace']!r}")
        try:
            with transaction.atomic():  # a user without the membership asked for would block a rerun
                user = services.create_user(email=options["email"], password=password, language=options["language"])
                if workspace is not None:
                    services.add_member(workspace=workspace, actor=services.SYSTEM, email=user.email,
                                        role=options["role"])
        except MusubiError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from exc
        self.stdout.write(f"Created user {user.email}.")
