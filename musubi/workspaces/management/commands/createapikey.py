from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from musubi.kernel.errors import MusubiError
from musubi.workspaces import services
from musubi.workspaces.choices import Role
from musubi.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Create an API key for a workspace and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("--name", default="command line")
        parser.add_argument("--role", default=Role.OWNER, choices=Role.values)

    def handle(self, *args: Any, **options: Any) -> None:
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"no workspace with the slug {options['workspace']!r}")
        try:
            _key, secret = services.create_api_key(workspace=workspace, actor=services.SYSTEM,
                                                   name=options["name"], role=options["role"])
        except MusubiError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(secret)
