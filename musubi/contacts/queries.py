"""Reads of the contacts app for pages and the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from musubi.contacts.models import ConsentRecord, Contact, Identity, Segment, Tag
from musubi.contacts.services import history_ids, members
from musubi.kernel.errors import NotFound
from musubi.kernel.models import Fact
from musubi.workspaces.models import Workspace


def contacts(workspace: Workspace, *, search: str = "", tag: str = "") -> QuerySet[Contact]:
    """The workspace's people (merged records folded into their survivor), newest first."""
    search, tag = search.replace("\x00", ""), tag.replace("\x00", "")  # PostgreSQL cannot compare text with NUL
    found = (Contact.objects.for_workspace(workspace).filter(merged_into__isnull=True)
             .prefetch_related(Prefetch("identities", queryset=Identity.objects.order_by("kind", "pk")), "tags")
             .order_by("-created_at", "-pk"))
    if search:
        found = found.filter(identities__value__icontains=search.strip().lower()) | found.filter(
            name__icontains=search.strip())
    if tag:
        found = found.filter(tags__name=tag)
    return found.distinct()


def contact(workspace: Workspace, contact_id: int) -> Contact:
    found = contacts(workspace).filter(pk=contact_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such contact."))
    return found


def consents(workspace: Workspace, contact: Contact) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.for_workspace(workspace).filter(
        contact_id__in=history_ids(workspace, contact)).order_by("-at", "-pk")


def tag_names(workspace: Workspace) -> list[str]:
    return list(Tag.objects.for_workspace(workspace).order_by("name").values_list("name", flat=True))


def field_keys(workspace: Workspace, *, sample: int = 1000) -> list[str]:
    """The custom-field and survey keys in use, read from the newest contacts (the keys live in each contact's
    JSON, so a full scan would read every contact)."""
    keys: set[str] = set()
    for fields in (Contact.objects.for_workspace(workspace).exclude(fields={}).order_by("-pk")
                   .values_list("fields", flat=True)[:sample]):
        if isinstance(fields, dict):
            keys.update(fields)
    return sorted(keys)


def segments(workspace: Workspace) -> QuerySet[Segment]:
    return Segment.objects.for_workspace(workspace).order_by("name", "pk")


def segment(workspace: Workspace, segment_id: int) -> Segment:
    found = segments(workspace).filter(pk=segment_id).first()
    if found is None:
        raise NotFound(_("This workspace has no such segment."))
    return found


def segment_members(workspace: Workspace, segment: Segment) -> QuerySet[Contact]:
    """The segment's people now, newest first, with what a list shows of them."""
    return members(workspace=workspace, segment=segment).prefetch_related(
        Prefetch("identities", queryset=Identity.objects.order_by("kind", "pk")), "tags")


def timeline(workspace: Workspace, contact: Contact, *, limit: int = 50) -> list[Fact]:
    """What happened to the person, newest first, including what was recorded under records merged into them."""
    return list(Fact.objects.for_workspace(workspace).filter(contact_id__in=history_ids(workspace, contact))
                .order_by("-occurred_at", "-pk")[:limit])
