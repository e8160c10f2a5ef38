from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from musubi.kernel.errors import MusubiError
from musubi.workspaces import services
from musubi.workspaces.models import User


class Command(BaseCommand):
    help = "Create a workspace (one business or brand), optionally with an existing user as its owner."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", help="Email address of an existing user who becomes the owner.")
        parser.add_argument("--timezone", default="Asia/Tokyo")
        parser.add_argument("--currency", default="JPY")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["owner"]:
            owner = User.objects.filter(email=options["owner"].lower()).first()
            if owner is None:
                raise CommandError(f"no user with the email {options['owner']}; create one with `musubi createuser`")
        try:
            workspace = services.create_workspace(slug=options["slug"], name=options["name"], owner=owner,
                                                  timezone=options["timezone"], currency=options["currency"])
        except MusubiError as exc:
            raise CommandError(f"{exc.message} {exc.fields or ''}".strip()) from exc
        self.stdout.write(f"Created workspace {workspace.slug} ({workspace.name}).")
