"""Reads of capture for pages and the API."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from musubi.capture.models import Source, TrackingLink
from musubi.kernel.errors import NotFound
from musubi.workspaces.models import Workspace


def sources(workspace: Workspace) -> QuerySet[Source]:
    return Source.objects.for_workspace(workspace).annotate(spent=Sum("costs__amount")).order_by("name", "id")


def source(workspace: Workspace, source_id: int) -> Source:
    found = sources(workspace).filter(pk=source_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such source."))
    return found


def links(workspace: Workspace) -> QuerySet[TrackingLink]:
    """Links with their clicks by people (bots apart) and by distinct visitors."""
    return (TrackingLink.objects.for_workspace(workspace).select_related("source")
            .annotate(people_clicks=Count("clicks", filter=Q(clicks__is_bot=False)),
                      visitors=Count("clicks__visitor_id", filter=Q(clicks__is_bot=False), distinct=True))
            .order_by("-id"))


def link(workspace: Workspace, link_id: int) -> TrackingLink:
    found = links(workspace).filter(pk=link_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such link."))
    return found
