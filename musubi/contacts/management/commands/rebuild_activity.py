"""``musubi rebuild_activity [--workspace SLUG]``: recompute the per-person summary of the facts that segments
read (``contacts.Activity``) — after a restore or a load made with triggers switched off."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from musubi.contacts import activity
from musubi.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Recompute the per-person summary of facts that segments read, from the facts."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--workspace", help="the workspace's slug; every workspace without it")

    def handle(self, *args: Any, workspace: str | None = None, **options: Any) -> None:
        workspaces = Workspace.objects.order_by("pk")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces.exists():
                raise CommandError(f"no workspace with the slug {workspace!r}")
        for found in workspaces:
            rows = activity.rebuild(workspace_id=found.pk)
            self.stdout.write(f"{found.slug}: {rows} rows")
