"""The contact list and a contact's page with its consent evidence, export and erasure."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from musubi.capture import queries as capture_queries
from musubi.contacts import queries, services
from musubi.contacts.choices import TIMELINE_LABELS
from musubi.messaging import queries as messaging_queries
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.workspaces.rules import Action, role_allows


@workspace_page()
def contact_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    search = request.GET.get("q", "")[:200]
    tag = request.GET.get("tag", "")[:100]
    found = queries.contacts(request.workspace, search=search, tag=tag)[:200]
    return render(request, "web/contacts/list.html", {
        "contacts": found, "q": search, "tag": tag, "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page()
def contact_detail(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    contact = queries.contact(request.workspace, contact_id)
    sources = dict(capture_queries.sources(request.workspace).values_list("pk", "name"))
    labels = capture_queries.question_labels(request.workspace)
    events = [{"at": fact.occurred_at, "label": TIMELINE_LABELS.get(fact.kind, fact.kind),
               "source": sources.get(fact.source_id or 0, ""), "amount": fact.amount, "data": fact.data}
              for fact in queries.timeline(request.workspace, contact)]
    consents = list(queries.consents(request.workspace, contact))
    point_names = capture_queries.capture_point_names(request.workspace)
    for record in consents:
        record.point_name = point_names.get(record.capture_point_id or 0, "")  # type: ignore[attr-defined]
    return render(request, "web/contacts/detail.html", {
        "contact": contact, "consents": consents, "events": events,
        "fields": [(labels.get(key, key), "、".join(map(str, value)) if isinstance(value, list) else value)
                   for key, value in contact.fields.items()],
        "first_source": sources.get(contact.first_source_id or 0, ""),
        "last_source": sources.get(contact.last_source_id or 0, ""),
        "can_manage": role_allows(request.membership.role, Action.MANAGE),
        "can_operate": role_allows(request.membership.role, Action.OPERATE),
        "time_zones": services.time_zone_choices(),
        "enrollments": messaging_queries.enrollments_of(request.workspace, contact)[:20],
        "startable": messaging_queries.sequences(request.workspace).filter(active=True)})


@require_POST
@workspace_page(Action.OPERATE)
def contact_time_zone(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    contact = queries.contact(request.workspace, contact_id)
    return act(request, lambda: services.set_time_zone(workspace=request.workspace, contact=contact,
                                                       zone=request.POST.get("time_zone", "")[:64],
                                                       actor=request.actor),
               done=_("The time zone was saved."), then=redirect("web:contact", slug=slug, contact_id=contact.pk))


@workspace_page(Action.MANAGE)
def contact_export(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    data = services.export(workspace=request.workspace, contact_id=contact_id)
    response = HttpResponse(json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="contact-{contact_id}.json"'
    return response


@require_POST
@workspace_page(Action.MANAGE)
def contact_erase(request: WorkspaceRequest, slug: str, contact_id: int) -> HttpResponse:
    return act(request, lambda: services.erase(workspace=request.workspace, actor=request.actor,
                                               contact_id=contact_id),
               done=_("The person was erased; their consent evidence is kept, pseudonymised."),
               then=redirect("web:contacts", slug=slug))
