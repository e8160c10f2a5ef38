"""Segments: saved groups of people with their live counts, the builder that shows the count while the owner
edits, and a segment's members."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from musubi.capture import queries as capture
from musubi.contacts import queries, services
from musubi.contacts.choices import Channel, ConsentOp, EventKind, Match, SourceSide, Stage
from musubi.kernel.errors import InvalidInput, MusubiError
from musubi.web import segment_forms
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.buttons import act
from musubi.web.segment_forms import OPS, Builder
from musubi.workspaces.rules import Action, role_allows


def _source_names(request: WorkspaceRequest) -> dict[int, str]:
    return {s.pk: s.name for s in capture.sources(request.workspace)}


@workspace_page()
def segment_list(request: WorkspaceRequest, slug: str) -> HttpResponse:
    sources = _source_names(request)
    labels = capture.question_labels(request.workspace)
    rows = [(segment, services.count(workspace=request.workspace, segment=segment),
             segment_forms.describe(segment.definition, sources=sources, labels=labels))
            for segment in queries.segments(request.workspace)]
    return render(request, "web/segments/list.html", {
        "rows": rows, "everyone": services.count(workspace=request.workspace, definition={}),
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page()
def segment_detail(request: WorkspaceRequest, slug: str, segment_id: int) -> HttpResponse:
    segment = queries.segment(request.workspace, segment_id)
    page = Paginator(queries.segment_members(request.workspace, segment), 50).get_page(request.GET.get("page"))
    return render(request, "web/segments/detail.html", {
        "segment": segment, "page": page,
        "words": segment_forms.describe(segment.definition, sources=_source_names(request),
                                        labels=capture.question_labels(request.workspace)),
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


def _choices(request: WorkspaceRequest) -> dict[str, Any]:
    """What the builder's selects offer: what exists in the workspace, and the fixed sets in the owner's words."""
    labels = capture.question_labels(request.workspace)
    return {
        "types": segment_forms.type_choices(),
        "ops": {kind: ops.choices for kind, ops in OPS.items()},
        "tags": queries.tag_names(request.workspace),
        "keys": [(key, labels.get(key, key)) for key in queries.field_keys(request.workspace)],
        "sources": sorted(_source_names(request).items(), key=lambda item: item[1]),
        "stages": Stage.choices, "channels": Channel.choices, "kinds": EventKind.choices,
        "sides": SourceSide.choices, "matches": Match.choices, "consent_ops": ConsentOp.choices,
    }


def _builder_page(request: WorkspaceRequest, builder: Builder, *, segment: Any = None, status: int = 200
                  ) -> HttpResponse:
    return render(request, "web/segments/builder.html", {
        "builder": builder, "segment": segment, "count": _count(request, builder), **_choices(request)},
        status=status)


def _count(request: WorkspaceRequest, builder: Builder) -> int | None:
    try:
        return services.count(workspace=request.workspace, definition=builder.definition())
    except InvalidInput:
        return None  # a condition is not finished yet


def _save(request: WorkspaceRequest, builder: Builder, segment_id: int | None) -> HttpResponse | None:
    try:
        if segment_id is None:
            segment = services.create_segment(workspace=request.workspace, actor=request.actor, name=builder.name,
                                              definition=builder.definition())
        else:
            segment = services.update_segment(workspace=request.workspace, actor=request.actor,
                                              segment_id=segment_id, name=builder.name,
                                              definition=builder.definition())
    except MusubiError as exc:
        builder.show_errors(exc.fields or {"": exc.message})
        return None
    messages.success(request, _("Saved the segment."))
    if request.htmx:  # type: ignore[attr-defined]  # the builder posts through htmx: have the browser go there
        return HttpResponseClientRedirect(reverse("web:segment", args=[request.workspace.slug, segment.pk]))
    return redirect("web:segment", slug=request.workspace.slug, segment_id=segment.pk)


@workspace_page(Action.MANAGE)
def segment_new(request: WorkspaceRequest, slug: str) -> HttpResponse:
    if request.method != "POST":
        return _builder_page(request, segment_forms.read({"rows": "1"}))
    builder = segment_forms.read(request.POST)
    if request.POST.get("action") == "save" and (saved := _save(request, builder, None)):
        return saved
    return _builder_page(request, builder, status=400 if builder.errors or builder.name_error or any(
        r.errors for r in builder.rows) else 200)


@workspace_page(Action.MANAGE)
def segment_edit(request: WorkspaceRequest, slug: str, segment_id: int) -> HttpResponse:
    segment = queries.segment(request.workspace, segment_id)
    if segment_forms.has_groups(segment.definition):
        messages.error(request, _("This segment has groups of conditions, which only the API can change."))
        return redirect("web:segment", slug=slug, segment_id=segment.pk)
    if request.method != "POST":
        return _builder_page(request, segment_forms.from_definition(segment.name, segment.definition),
                             segment=segment)
    builder = segment_forms.read(request.POST)
    if request.POST.get("action") == "save" and (saved := _save(request, builder, segment.pk)):
        return saved
    return _builder_page(request, builder, segment=segment)


@require_POST
@workspace_page()
def segment_count(request: WorkspaceRequest, slug: str) -> HttpResponse:
    """The live count the builder shows while the owner edits (htmx swaps it in)."""
    builder = segment_forms.read(request.POST)
    return render(request, "web/segments/_count.html", {"count": _count(request, builder)})


@require_POST
@workspace_page(Action.MANAGE)
def segment_delete(request: WorkspaceRequest, slug: str, segment_id: int) -> HttpResponse:
    return act(request, lambda: services.delete_segment(workspace=request.workspace, actor=request.actor,
                                                        segment_id=segment_id),
               done=_("The segment was deleted; its people were not."), then=redirect("web:segments", slug=slug))
