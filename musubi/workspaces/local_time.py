"""A workspace's own time: pages, public pages and mails show times where the business is."""

from __future__ import annotations

import zoneinfo
from contextlib import AbstractContextManager

from django.utils import timezone

from musubi.workspaces.models import Workspace


def in_time_of(workspace: Workspace) -> AbstractContextManager[None]:
    """Times formatted inside this block are in the workspace's time zone, not the site's."""
    return timezone.override(zoneinfo.ZoneInfo(workspace.timezone))
