"""Use cases of capture: sources and their costs, tracking links, and recording a click before redirecting."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from musubi.capture import rules, visitors
from musubi.capture.choices import SourceKind
from musubi.capture.models import Click, Source, SourceCost, TrackingLink
from musubi.kernel import clock, tokens
from musubi.kernel.errors import Conflict, InvalidInput, NotFound
from musubi.kernel.facts import record_fact
from musubi.workspaces.models import Workspace
from musubi.workspaces.rules import Action
from musubi.workspaces.services import Actor, record_audit


@transaction.atomic
def create_source(*, workspace: Workspace, actor: Actor, kind: str, name: str) -> Source:
    actor.require(Action.MANAGE)
    fields = {}
    if kind not in SourceKind.values:
        fields["kind"] = _("Choose where people come from.")
    if not name.strip() or len(name) > 200:
        fields["name"] = _("Enter a name of 1–200 characters.")
    if fields:
        raise InvalidInput(_("Some fields need attention."), fields=fields)
    if Source.objects.for_workspace(workspace).filter(name=name.strip()).exists():
        raise Conflict(_("A source with this name already exists."), fields={"name": _("Already used.")})
    source = Source.objects.create(workspace=workspace, kind=kind, name=name.strip(), created_at=clock.now())
    record_audit(workspace=workspace, actor=actor, action="source.created", obj=source, changes={"name": source.name})
    return source


def _source(workspace: Workspace, source_id: int) -> Source:
    source = Source.objects.for_workspace(workspace).filter(pk=source_id).first()
    if source is None:
        raise NotFound(_("This workspace has no such source."))
    return source


@transaction.atomic
def add_cost(*, workspace: Workspace, actor: Actor, source_id: int, amount: int, spent_on: dt.date,
             note: str = "") -> SourceCost:
    actor.require(Action.MANAGE)
    source = _source(workspace, source_id)
    cost = SourceCost.objects.create(workspace=workspace, source=source, amount=amount, spent_on=spent_on,
                                     note=note[:200])
    record_audit(workspace=workspace, actor=actor, action="source.cost_added", obj=source,
                 changes={"amount": amount, "spent_on": spent_on.isoformat()})
    return cost


@transaction.atomic
def create_link(*, workspace: Workspace, actor: Actor, source_id: int, target_url: str) -> TrackingLink:
    actor.require(Action.MANAGE)
    source = _source(workspace, source_id)
    if not rules.is_web_url(target_url) or len(target_url) > 2000:
        raise InvalidInput(_("Some fields need attention."),
                           fields={"target_url": _("Enter a web address starting with https:// or http://.")})
    for _attempt in range(5):  # 31^8 codes: a collision is rare, and retried
        try:
            with transaction.atomic():
                link = TrackingLink.objects.create(workspace=workspace, source=source, code=tokens.readable_code(8),
                                                   target_url=target_url, created_at=clock.now())
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover — five collisions in a row
        raise Conflict(_("Could not find a free code; try again."))
    record_audit(workspace=workspace, actor=actor, action="link.created", obj=link, changes={"code": link.code})
    return link


@dataclass(frozen=True)
class Redirect:
    location: str
    visitor_id: str


def follow_link(*, code: str, ip: str, user_agent: str, referrer: str, visitor_id: str | None) -> Redirect:
    """Record a click on the link ``code`` and say where to send the visitor. The click is committed before
    this returns, so a redirect that was answered is never a click that was lost."""
    link = (TrackingLink.objects.select_related("source").filter(code=code.upper(), active=True).first()
            if 4 <= len(code) <= 16 else None)
    if link is None:
        raise NotFound(_("This link does not exist or was switched off."))
    try:
        visitor = str(uuid.UUID(visitor_id)) if visitor_id else str(uuid.uuid4())
    except ValueError:
        visitor = str(uuid.uuid4())
    is_bot = rules.looks_like_bot(user_agent)
    with transaction.atomic():
        click = Click.objects.create(workspace_id=link.workspace_id, link=link, at=clock.now(), visitor_id=visitor,
                                     ip_hash=rules.hash_ip(ip, key=settings.SECRET_KEY), user_agent=user_agent[:300],
                                     referrer=referrer[:500], is_bot=is_bot)
        if not is_bot:  # for the person when the browser is known to be theirs (see ``visitors``)
            contact_id = visitors.known_contacts([(link.workspace_id, visitor)]).get((link.workspace_id, visitor))
            record_fact(workspace_id=link.workspace_id, kind="link.clicked", source_id=link.source_id,
                        contact_id=contact_id, subject=("capture.click", click.pk),
                        data={"link": link.code, "visitor": visitor},
                        dedupe_key=visitors.click_dedupe_key(click.pk) if contact_id else None)
    utm = {"utm_source": link.source.name, "utm_medium": link.source.kind, "utm_campaign": link.code}
    return Redirect(location=rules.with_utm(link.target_url, utm), visitor_id=visitor)


def attributed_source(*, workspace: Workspace, visitor_id: str | None, at: dt.datetime | None = None,
                      window: dt.timedelta | None = None) -> int | None:
    """The source to credit with an opt-in: the last source this visitor clicked through within the window
    (30 days unless MUSUBI_ATTRIBUTION_DAYS says otherwise), or None for a direct visit. Clicks by bots and
    link previews never count."""
    if not visitor_id:
        return None
    at = at or clock.now()
    window = window or dt.timedelta(days=settings.MUSUBI_ATTRIBUTION_DAYS)
    return (Click.objects.for_workspace(workspace)
            .filter(visitor_id=visitor_id, is_bot=False, at__gt=at - window, at__lte=at)
            .order_by("-at", "-pk").values_list("link__source_id", flat=True).first())


def first_touch_source(*, workspace: Workspace, visitor_id: str | None) -> int | None:
    """The source of the first link this visitor ever clicked through (people only), kept as a contact's
    first source while the opt-in itself is credited to the last one."""
    if not visitor_id:
        return None
    return (Click.objects.for_workspace(workspace).filter(visitor_id=visitor_id, is_bot=False)
            .order_by("at", "pk").values_list("link__source_id", flat=True).first())
