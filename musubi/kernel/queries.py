"""Reads of the kernel's fact table."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from musubi.kernel.models import Fact


def facts(workspace: Any, *, kind: str | None = None, contact_id: int | None = None,
          since: dt.datetime | None = None, until: dt.datetime | None = None) -> QuerySet[Fact]:
    """The workspace's facts, filtered; ``until`` is exclusive."""
    found = Fact.objects.for_workspace(workspace)
    if kind:
        found = found.filter(kind=kind)
    if contact_id is not None:
        found = found.filter(contact_id=contact_id)
    if since:
        found = found.filter(occurred_at__gte=since)
    if until:
        found = found.filter(occurred_at__lt=until)
    return found
