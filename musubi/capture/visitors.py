"""Which person a browser is: a visitor (the ``mvid`` cookie tracking links set) becomes known when someone
opts in or joins on LINE from it, so the clicks it made count for that person.

A click's ``link.clicked`` fact is recorded at click time: anonymously (no contact) while the browser is not
known, for the person once it is (``fastlink`` and ``services.follow_link`` join ``KnownVisitor``). When a
person identifies themselves, the clicks their browser made within the attribution window are recorded once
more, for them: same kind, source, subject (the click) and time as the click, with a dedupe key per click, so
a second opt-in from the same browser, or a click already recorded for a person, is not recorded again.
A person's clicks are thus facts that segments and timelines read; counts of clicks (a link's clicks and
visitors, a source's traffic) read ``capture_click``, never these facts, so no click is counted twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q

from musubi.capture.models import Click, KnownVisitor
from musubi.contacts.events import ContactErased
from musubi.kernel import clock, events
from musubi.kernel.models import Fact


def click_dedupe_key(click_id: int) -> str:
    """The dedupe key of the fact that a click was a known person's; ``fastlink`` spells it in SQL too."""
    return f"link-clicked-{click_id}"


def identify(*, workspace_id: int, visitor_id: str, contact_id: int) -> None:
    """Tie the browser ``visitor_id`` to the person ``contact_id`` and record, for them, the clicks it made
    within the attribution window (30 days unless MUSUBI_ATTRIBUTION_DAYS says otherwise). Clicks by bots and
    link previews never count, as for attribution."""
    if not visitor_id:
        return
    now = clock.now()
    KnownVisitor.objects.bulk_create(
        [KnownVisitor(workspace_id=workspace_id, visitor_id=visitor_id[:36], contact_id=contact_id, since=now)],
        update_conflicts=True, unique_fields=["workspace", "visitor_id"], update_fields=["contact", "since"])
    window = dt.timedelta(days=settings.MUSUBI_ATTRIBUTION_DAYS)
    clicks = (Click.objects.filter(workspace_id=workspace_id, visitor_id=visitor_id, is_bot=False,
                                   at__gt=now - window, at__lte=now)
              .values_list("pk", "at", "link__code", "link__source_id"))
    # A click already recorded for a person (by an earlier identification, or at click time) keeps its
    # dedupe key, and the conflict skips it.
    Fact.objects.bulk_create(
        [Fact(workspace_id=workspace_id, kind="link.clicked", occurred_at=click_at, contact_id=contact_id,
              source_id=source_id, subject_type="capture.click", subject_id=str(click_id),
              data={"link": code, "visitor": visitor_id}, dedupe_key=click_dedupe_key(click_id))
         for click_id, click_at, code, source_id in clicks], ignore_conflicts=True)


def known_contacts(pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The person each (workspace id, visitor id) is known as, for those that are known: one query, each
    workspace's visitors looked up through the unique index."""
    by_workspace: dict[int, set[str]] = {}
    for workspace_id, visitor_id in pairs:
        by_workspace.setdefault(workspace_id, set()).add(visitor_id)
    if not by_workspace:
        return {}
    wanted = Q()
    for workspace_id, visitor_ids in by_workspace.items():
        wanted |= Q(workspace_id=workspace_id, visitor_id__in=visitor_ids)
    return {(w, v): c for w, v, c in
            KnownVisitor.objects.filter(wanted).values_list("workspace_id", "visitor_id", "contact_id")}


def forget(event: ContactErased) -> None:
    """An erased person's browsers are strangers again: their later clicks are recorded for nobody."""
    KnownVisitor.objects.filter(workspace_id=event.workspace_id, contact_id__in=event.contact_ids).delete()


def register() -> None:
    events.subscribe(ContactErased, forget)
