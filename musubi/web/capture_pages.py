"""Sources and tracking links: where people come from, the short links and QR codes that tell them apart."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from musubi.capture import queries, rules, services
from musubi.kernel.errors import MusubiError
from musubi.web.access import WorkspaceRequest, workspace_page
from musubi.web.capture_forms import CostForm, LinkForm, SourceForm
from musubi.web.forms import ServiceErrorsMixin
from musubi.workspaces.rules import Action, role_allows


@workspace_page()
def sources(request: WorkspaceRequest, slug: str) -> HttpResponse:
    workspace = request.workspace
    source_form = SourceForm(request.POST if request.POST.get("form") == "source" else None, prefix="source")
    choices = [(s.pk, s.name) for s in queries.sources(workspace)]
    link_form = LinkForm(request.POST if request.POST.get("form") == "link" else None, prefix="link", sources=choices)
    cost_form = CostForm(request.POST if request.POST.get("form") == "cost" else None, prefix="cost", sources=choices,
                         initial={"spent_on": timezone.localdate()})
    if request.method == "POST":
        request.actor.require(Action.MANAGE)
        kind = request.POST.get("form", "")
        form: ServiceErrorsMixin
        create: Callable[..., object]
        if kind == "source":
            form, create = source_form, services.create_source
        elif kind == "cost":
            form, create = cost_form, services.add_cost
        else:
            form, create = link_form, services.create_link
        if form.is_valid():
            try:
                create(workspace=workspace, actor=request.actor, **form.cleaned_data)
            except MusubiError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("web:sources", slug=slug)
    return render(request, "web/capture/sources.html", {
        "sources": queries.sources(workspace), "links": queries.links(workspace), "base_url": settings.MUSUBI_BASE_URL,
        "source_form": source_form, "link_form": link_form, "cost_form": cost_form,
        "can_manage": role_allows(request.membership.role, Action.MANAGE)})


@workspace_page()
def link_qr(request: WorkspaceRequest, slug: str, link_id: int, kind: str) -> HttpResponse:
    content_type = {"svg": "image/svg+xml", "png": "image/png"}.get(kind)
    if content_type is None:
        raise Http404("QR codes come as .svg or .png")
    link = queries.link(request.workspace, link_id)
    response = HttpResponse(rules.qr_code(f"{settings.MUSUBI_BASE_URL}/r/{link.code}", kind=kind),
                            content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="qr-{link.code}.{kind}"'
    return response


@workspace_page()
def link_card(request: WorkspaceRequest, slug: str, link_id: int) -> HttpResponse:
    """A printable A6 card with the link's QR code and the offer's words, for a table or a shop window."""
    link = queries.link(request.workspace, link_id)
    url = f"{settings.MUSUBI_BASE_URL}/r/{link.code}"
    # A link to one of our opt-in forms lends the card the form's headline until the owner writes another.
    form = queries.capture_point_behind(request.workspace, link.target_url)
    headline = request.GET.get("headline", form.headline if form else "")[:60]
    return render(request, "web/capture/link_card.html", {
        "link": link, "url": url, "qr_svg": rules.qr_svg_inline(url),
        "headline": headline, "note": request.GET.get("note", "")[:120]})
